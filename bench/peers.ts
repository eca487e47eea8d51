/**
 * The peers: the seed's two servers written plainly in Python (a thread per
 * roster client with blocking `sendall` under one lock; a grpcio thread pool
 * over a `deque` for the queue), which a user of the seed would otherwise
 * run. The benchmarks measure them side by side with ours, in the same run
 * and pinned the same way.
 *
 * @module
 */
import { deadPort, within } from "../tests/harness.ts";
import { pinServer } from "./cpu_pin.ts";

/** Where the peers live: `REFERENCE_DIR`, else `../shared/reference/`. */
const REFERENCE_DIR = Deno.env.get("REFERENCE_DIR") ??
  new URL("../../shared/reference/", import.meta.url).pathname;

/** Debian's interpreter, which has `python3-grpcio` for the queue peer. */
const PYTHON = "/usr/bin/python3";

/** A server under test: its port and process id; dispose it to kill it. */
export interface RunningServer extends AsyncDisposable {
  /** The port it listens on, on 127.0.0.1. */
  port: number;
  /** Its process id, for /proc. */
  pid: number;
}

/** The peer programs, relative to the reference folder. */
export type PeerScript = "task1/server.py" | "task2/server.py";

/** Whether `script` can run here: the interpreter and the peer's code. */
export async function hasPeer(script: PeerScript): Promise<boolean> {
  try {
    await Deno.stat(PYTHON);
    await Deno.stat(`${REFERENCE_DIR}/${script}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts `script` on a free port (its first argument; `args` follow),
 * pinned to the server core, and resolves once it accepts connections.
 */
export function startPeer(
  script: PeerScript,
  args: string[] = [],
): Promise<RunningServer> {
  const port = deadPort();
  return startPinned(
    [PYTHON, `${REFERENCE_DIR}/${script}`, String(port), ...args],
    port,
    { name: `the peer ${script}` },
  );
}

/** Options of {@linkcode startPinned}. */
export interface StartPinnedOptions {
  /**
   * What to call the server in a timeout message.
   *
   * @default {the command}
   */
  name?: string;
  /** Runs on dispose once the process has exited (to remove its files). */
  after?: () => PromiseLike<unknown>;
}

/**
 * Spawns the command `argv`, whose arguments make it listen on
 * 127.0.0.1:`port`, pins it to the server core and resolves once it accepts
 * connections. Disposing the server kills the process and waits for it.
 */
export async function startPinned(
  argv: readonly [string, ...string[]],
  port: number,
  options: StartPinnedOptions = {},
): Promise<RunningServer> {
  const [command, ...args] = argv;
  const { name = command, after } = options;
  const process = new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const server = {
    port,
    pid: process.pid,
    [Symbol.asyncDispose]: async () => {
      try {
        process.kill("SIGKILL");
      } catch {
        // It has already exited.
      }
      await process.status;
      await after?.();
    },
  };
  try {
    await pinServer(process.pid);
    await within(untilListening(port), `${name} to listen`);
    return server;
  } catch (error: unknown) {
    await server[Symbol.asyncDispose]();
    throw error;
  }
}

/**
 * Resolves once 127.0.0.1:`port` accepts a connection, which it closes at
 * once (the roster peer sees an empty name and drops it without a word).
 */
async function untilListening(port: number): Promise<void> {
  while (true) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
