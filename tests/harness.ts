/**
 * Running the real programs as subprocesses in tests. By default each program
 * runs as `deno run` with exactly the permission flags and V8 options its
 * executable is built with; when `BIN_DIR` is set, the compiled executables in that folder run
 * instead. Every wait is bounded, and every process is killed on dispose.
 *
 * @module
 */
import { readLines } from "../lib/lines.ts";
import {
  type ProgramName,
  PROGRAMS,
  runtimeFlags,
} from "../scripts/programs.ts";

/** The bound on any single wait in the tests, in milliseconds. */
export const WAIT_MS = 15_000;

const root = new URL("../", import.meta.url);

/**
 * Whether `command` with `args` runs here and exits 0: how the tests and the
 * bench find the peers they need (redis-server, h2load, Python's grpcio).
 */
export function commandSucceeds(command: string, args: string[]): boolean {
  try {
    return new Deno.Command(command, { args, stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Resolves to `promise`, or rejects with a message naming `what` after `ms`. */
export async function within<T>(
  promise: Promise<T>,
  what: string,
  ms = WAIT_MS,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves once `check` resolves true, asking every `everyMs`; rejects
 * naming `what` after `ms`. For states that announce no event of their own.
 */
export function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = WAIT_MS,
  everyMs = 50,
): Promise<void> {
  return within(
    (async () => {
      while (!await check()) {
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
    })(),
    what,
    ms,
  );
}

/** A fresh temporary folder named `prefix...`, removed with its files on dispose. */
export async function tempDir(
  prefix: string,
): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** The lines of a byte stream, read in the background and taken one by one. */
export class LineQueue {
  #lines: string[] = [];
  #ended = false;
  #waiters: (() => void)[] = [];
  /** Every line seen so far, for failure messages. */
  readonly seen: string[] = [];

  /** Starts reading `stream` in the background. */
  constructor(stream: AsyncIterable<Uint8Array>) {
    this.#pump(stream);
  }

  async #pump(stream: AsyncIterable<Uint8Array>) {
    try {
      for await (const line of readLines(stream)) {
        this.#lines.push(line);
        this.seen.push(line);
        this.#wake();
      }
    } catch {
      // A reset connection ends the lines like an end of stream.
    }
    this.#ended = true;
    this.#wake();
  }

  #wake() {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  /** How many lines have arrived that {@linkcode LineQueue.next} has not taken. */
  get queued(): number {
    return this.#lines.length;
  }

  /** Resolves to the next line, or `null` at the end; rejects after `ms`. */
  async next(ms = WAIT_MS): Promise<string | null> {
    const deadline = Date.now() + ms;
    while (this.#lines.length === 0 && !this.#ended) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `Timed out waiting for a line; seen so far: ${
            JSON.stringify(this.seen)
          }`,
        );
      }
      await within(
        new Promise<void>((resolve) => this.#waiters.push(resolve)),
        "a line",
        left,
      ).catch(() => {});
    }
    return this.#lines.shift() ?? null;
  }

  /** Resolves to the next `count` lines; rejects if they do not all come. */
  async take(count: number, ms = WAIT_MS): Promise<string[]> {
    const lines: string[] = [];
    while (lines.length < count) {
      const line = await this.next(ms);
      if (line === null) {
        throw new Error(`Stream ended after ${JSON.stringify(lines)}`);
      }
      lines.push(line);
    }
    return lines;
  }

  /** Resolves to every remaining line once the stream ends. */
  async rest(ms = WAIT_MS): Promise<string[]> {
    const lines: string[] = [];
    for (
      let line = await this.next(ms);
      line !== null;
      line = await this.next(ms)
    ) {
      lines.push(line);
    }
    return lines;
  }
}

/** Options of {@linkcode spawnProgram}. */
export interface SpawnOptions {
  /**
   * Whether the test writes to the program's standard input.
   *
   * @default {false}
   */
  stdin?: boolean;
  /** Environment variables to set for the program, besides the test's own. */
  env?: Record<string, string>;
  /**
   * Whether the program's standard error goes into its standard output
   * pipe, so that the order of its output and error lines can be checked.
   *
   * @default {false}
   */
  stderrToStdout?: boolean;
}

/** A program running as a subprocess of the test. */
export class RunningProgram implements AsyncDisposable {
  /** The subprocess. */
  readonly process: Deno.ChildProcess;
  /** Its standard output, line by line. */
  readonly stdout: LineQueue;
  /** Its standard error, line by line. */
  readonly stderr: LineQueue;
  #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;

  /** Starts `name` with `args`. */
  constructor(name: ProgramName, args: string[], options: SpawnOptions = {}) {
    const spec = PROGRAMS[name];
    const binDir = Deno.env.get("BIN_DIR");
    const command = binDir ? [`${binDir}/${name}`, ...args] : [
      Deno.execPath(),
      "run",
      "--quiet",
      ...runtimeFlags(spec),
      spec.entry,
      ...args,
    ];
    const [program = "", ...programArgs] = options.stderrToStdout
      ? ["/bin/sh", "-c", 'exec "$0" "$@" 2>&1', ...command]
      : command;
    this.process = new Deno.Command(
      program,
      {
        args: programArgs,
        cwd: root,
        ...(options.env === undefined ? {} : { env: options.env }),
        stdin: options.stdin ? "piped" : "null",
        stdout: "piped",
        stderr: "piped",
      },
    ).spawn();
    this.stdout = new LineQueue(this.process.stdout);
    this.stderr = new LineQueue(this.process.stderr);
    if (options.stdin) this.#stdin = this.process.stdin.getWriter();
  }

  /** Writes `text` to the program's standard input. */
  async write(text: string): Promise<void> {
    if (!this.#stdin) throw new Error("Spawned without stdin: true");
    await within(this.#stdin.write(new TextEncoder().encode(text)), "stdin");
  }

  /** Closes the program's standard input (end of input). */
  async closeStdin(): Promise<void> {
    await this.#stdin?.close().catch(() => {});
    this.#stdin = undefined;
  }

  /** Sends `signal` to the program. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.process.kill(signal);
    } catch {
      // It has already exited.
    }
  }

  /** Resolves to the program's exit status; rejects if it runs past `ms`. */
  exit(ms = WAIT_MS): Promise<Deno.CommandStatus> {
    return within(this.process.status, "the program to exit", ms);
  }

  /** Kills the program if it is still running and waits for it to end. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#stdin?.close().catch(() => {});
    this.kill("SIGKILL");
    await this.process.status;
    await Promise.all([this.stdout.rest(), this.stderr.rest()]).catch(() => {});
  }
}

/** Starts `name` with `args` as a subprocess; dispose it to kill it. */
export function spawnProgram(
  name: ProgramName,
  args: string[],
  options: SpawnOptions = {},
): RunningProgram {
  return new RunningProgram(name, args, options);
}

/** What a program printed and how it exited, from {@linkcode runToEnd}. */
export interface ProgramOutput {
  /** Its standard output, line by line. */
  stdout: string[];
  /** Its standard error, line by line. */
  stderr: string[];
  /** Its exit code. */
  code: number;
}

/**
 * Runs `name` with `args` to its end, with `input` piped in when given (else
 * no standard input), and resolves to what it printed and its exit code.
 */
export async function runToEnd(
  name: ProgramName,
  args: string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<ProgramOutput> {
  const { input, env } = options;
  await using program = spawnProgram(name, args, {
    stdin: input !== undefined,
    ...(env === undefined ? {} : { env }),
  });
  if (input !== undefined) {
    await program.write(input);
    await program.closeStdin();
  }
  const [stdout, stderr, status] = await Promise.all([
    program.stdout.rest(),
    program.stderr.rest(),
    program.exit(),
  ]);
  return { stdout, stderr, code: status.code };
}

/** A server started on port 0, with the port it reported; dispose to kill it. */
export interface StartedServer extends AsyncDisposable {
  /** The server process. */
  server: RunningProgram;
  /** The port it listens on. */
  port: number;
}

/**
 * Starts a server program whose arguments make it listen on port 0, and reads
 * the port it chose from its first line on stderr (`... listening on HOST:PORT`).
 */
export async function startServer(
  name: ProgramName,
  args: string[],
): Promise<StartedServer> {
  const server = spawnProgram(name, args);
  const first = await server.stderr.next();
  const port = Number(first?.match(/listening on .*:(\d+)$/)?.[1]);
  if (!port) {
    await server[Symbol.asyncDispose]();
    throw new Error(`${name} did not report its port; it said: ${first}`);
  }
  return {
    server,
    port,
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}

/**
 * Starts the real queue server with capacity `size` on 127.0.0.1, port 0,
 * with `extra` options added.
 */
export function startQueueServer(
  size: number,
  ...extra: string[]
): Promise<StartedServer> {
  return startServer("queue-server", [
    ...["0", String(size), "--host", "127.0.0.1"],
    ...extra,
  ]);
}

/**
 * Starts `count` roster servers on port 0 sharing one roster through the
 * Redis at `redisUrl`, each with `args` added; dispose each to kill it.
 */
export function startRosterNodes(
  redisUrl: string,
  count: number,
  args: string[] = [],
): Promise<StartedServer[]> {
  return Promise.all(
    Array.from({ length: count }, () =>
      startServer("roster-server", [
        "0",
        "--host",
        "127.0.0.1",
        "--redis",
        redisUrl,
        ...args,
      ])),
  );
}

/**
 * A raw TCP client of the roster server. Its lines are read only from the
 * first use of `lines` on, so a client that never touches them never reads.
 */
export class RawClient implements AsyncDisposable {
  /** The connection. */
  readonly conn: Deno.TcpConn;
  #lines: LineQueue | undefined;

  /** Wraps an open connection. */
  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** The lines the server sends, read in the background from now on. */
  get lines(): LineQueue {
    this.#lines ??= new LineQueue(this.conn.readable);
    return this.#lines;
  }

  /** Closes the connection. */
  [Symbol.asyncDispose](): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
    return Promise.resolve();
  }
}

/**
 * Connects to 127.0.0.1:`port` and, unless `greeting` is undefined, sends it
 * as the first bytes; dispose the client to close the connection.
 */
export async function connectRaw(
  port: number,
  greeting?: string,
): Promise<RawClient> {
  const conn = await within(
    Deno.connect({ hostname: "127.0.0.1", port }),
    `a connection to port ${port}`,
  );
  if (greeting !== undefined) {
    await conn.write(new TextEncoder().encode(greeting));
  }
  return new RawClient(conn);
}

/**
 * Joins the roster server on 127.0.0.1:`port` as `name` with a raw socket
 * and waits for its first roster line, which must hold the name.
 */
export async function joinRoster(
  port: number,
  name: string,
): Promise<RawClient> {
  const client = await connectRaw(port, name + "\n");
  const first = await client.lines.next();
  if (!first?.split(" ").includes(name)) {
    await client[Symbol.asyncDispose]();
    throw new Error(`${name} got ${JSON.stringify(first)} instead of a roster`);
  }
  return client;
}

/** What /proc says about a process. */
export interface ProcessStats {
  /** Resident set size, in bytes. */
  rssBytes: number;
  /** CPU time used so far, user plus system, in seconds. */
  cpuSeconds: number;
}

/** Linux's clock ticks per second for /proc CPU times (`getconf CLK_TCK`). */
const CLOCK_TICKS = 100;

/**
 * Reads process `pid`'s memory and CPU time from /proc (through `cat`, as
 * Deno grants reading /proc only with every permission).
 */
export async function processStats(pid: number): Promise<ProcessStats> {
  const { stdout } = await new Deno.Command("cat", {
    args: [`/proc/${pid}/stat`, `/proc/${pid}/status`],
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(stdout);
  const kib = Number(text.match(/^VmRSS:\s+(\d+) kB$/m)?.[1]);
  // Fields after the parenthesised command name; utime and stime are the
  // 14th and 15th fields of the whole line.
  const stat = text.slice(0, text.indexOf("\n"));
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!kib || Number.isNaN(ticks)) {
    throw new Error(`No stats for process ${pid}`);
  }
  return { rssBytes: kib * 1024, cpuSeconds: ticks / CLOCK_TICKS };
}

/**
 * Tells whether `part` is a subsequence of `whole`: how the tests check that
 * clients saw the rosters in one order.
 */
export function isSubsequence(part: string[], whole: string[]): boolean {
  let at = 0;
  for (const line of part) {
    while (at < whole.length && whole[at] !== line) at++;
    if (at === whole.length) return false;
    at++;
  }
  return true;
}

/** A port on 127.0.0.1 where nothing listens (it was free a moment ago). */
export function deadPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/**
 * A TCP server on 127.0.0.1 that accepts connections and never says a word,
 * standing in for a server that hangs; dispose it to close everything.
 */
export class SilentServer implements AsyncDisposable {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #held: Deno.Conn[] = [];
  readonly #accepting = (async () => {
    try {
      for await (const conn of this.#listener) this.#held.push(conn);
    } catch {
      // The listener was closed.
    }
  })();

  /** The port it listens on. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** Resolves once a client has connected; rejects after the usual bound. */
  connected(): Promise<void> {
    return eventually(
      () => this.#held.length > 0,
      "a client to connect",
      WAIT_MS,
      20,
    );
  }

  /** Closes the listener and every connection it accepted. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    for (const conn of this.#held) conn.close();
    await this.#accepting;
  }
}
