/**
 * A real `redis-server` for tests and benchmarks: started on a free port of
 * 127.0.0.1 in its own temporary folder, never one already running. It can
 * be stopped, killed, paused and restarted on the same port, with or without
 * its data, and is stopped and its folder removed on dispose.
 *
 * Where `redis-server` is not installed, the tests that need it do not run
 * (their `ignore` is {@linkcode REDIS_MISSING}) and one line says so, except
 * under CI (`CI=true`), where a missing `redis-server` fails the run.
 *
 * @module
 */
import { commandSucceeds, deadPort, within } from "./harness.ts";

const installed = commandSucceeds("redis-server", ["--version"]);

/**
 * True where `redis-server` is missing: the `ignore` of every test that
 * needs Redis. Under CI a missing `redis-server` is an error instead.
 */
export const REDIS_MISSING: boolean = !installed &&
  Deno.env.get("CI") !== "true";

if (REDIS_MISSING) {
  console.error(
    "note: redis-server is not installed, so the tests that need Redis did " +
      "not run; install it with: apt-get install redis-server",
  );
}

/**
 * Makes a temporary folder with `mktemp`, as the tests may run programs but
 * not write files themselves.
 */
function makeTempDir(): string {
  const { stdout, success } = new Deno.Command("mktemp", {
    args: ["-d", "-t", "redis-test-XXXXXX"],
  }).outputSync();
  if (!success) throw new Error("mktemp could not make a temporary folder");
  return new TextDecoder().decode(stdout).trim();
}

/** Options of {@linkcode startRedis}. */
export interface RedisOptions {
  /**
   * Whether Redis keeps its data across restarts (an append-only file,
   * synced on every write); without it, a restart empties it.
   *
   * @default {false}
   */
  persistent?: boolean;
  /**
   * Serve TLS only, with this certificate and key (PEM files), to clients
   * that trust `ca`; the URL is then `rediss://`.
   */
  tls?: { cert: string; key: string; ca: string };
}

/** A `redis-server` started by a test; dispose it to stop it. */
export class RedisServer implements AsyncDisposable {
  /** The port it listens on, kept across restarts. */
  readonly port: number;
  /** Its `redis://` URL. */
  readonly url: string;
  readonly #dir: string;
  readonly #persistent: boolean;
  readonly #tls: RedisOptions["tls"];
  #process: Deno.ChildProcess | undefined;

  /** Prepares a server on a free port in a new temporary folder. */
  constructor(options: RedisOptions = {}) {
    this.port = deadPort();
    this.#tls = options.tls;
    this.url = `${this.#tls ? "rediss" : "redis"}://127.0.0.1:${this.port}`;
    this.#dir = makeTempDir();
    this.#persistent = options.persistent ?? false;
  }

  /** The server's process id, while it runs. */
  get pid(): number {
    if (!this.#process) throw new Error("redis-server is not running");
    return this.#process.pid;
  }

  /** Starts the server and resolves once it answers. */
  async start(): Promise<void> {
    if (!installed) {
      throw new Error(
        "redis-server is not installed (apt-get install redis-server)",
      );
    }
    const persistence = this.#persistent
      ? ["--appendonly", "yes", "--appendfsync", "always"]
      : ["--appendonly", "no"];
    const tls = this.#tls;
    const listen = tls
      ? [
        ...["--port", "0", "--tls-port", String(this.port)],
        ...["--tls-cert-file", tls.cert, "--tls-key-file", tls.key],
        ...["--tls-auth-clients", "no"],
      ]
      : ["--port", String(this.port)];
    this.#process = new Deno.Command("redis-server", {
      args: [
        ...listen,
        "--bind",
        "127.0.0.1",
        "--dir",
        this.#dir,
        "--save",
        "",
        ...persistence,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await within(this.#answers(), `redis-server on port ${this.port}`);
  }

  async #answers(): Promise<void> {
    const caCerts = this.#tls && [await Deno.readTextFile(this.#tls.ca)];
    while (true) {
      try {
        const address = { hostname: "127.0.0.1", port: this.port };
        const conn = caCerts
          ? await Deno.connectTls({ ...address, caCerts })
          : await Deno.connect(address);
        try {
          await conn.write(new TextEncoder().encode("PING\r\n"));
          const buffer = new Uint8Array(16);
          const count = await conn.read(buffer);
          const reply = new TextDecoder().decode(
            buffer.subarray(0, count ?? 0),
          );
          if (reply.startsWith("+PONG")) return;
        } finally {
          conn.close();
        }
      } catch {
        // Not listening yet.
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Sends `signal` to the server (SIGSTOP and SIGCONT pause and resume it). */
  signal(signal: Deno.Signal): void {
    this.#process?.kill(signal);
  }

  /** Kills the server with SIGKILL (its data survives only if persistent). */
  async kill(): Promise<void> {
    const process = this.#process;
    if (!process) return;
    this.#process = undefined;
    try {
      process.kill("SIGCONT");
      process.kill("SIGKILL");
    } catch {
      // It has already exited.
    }
    await process.status;
  }

  /** Kills the server, then starts it again on the same port. */
  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  /** Kills the server and removes its folder. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
    await new Deno.Command("rm", { args: ["-rf", this.#dir] }).output();
  }
}

/** Starts a `redis-server` for one test; dispose it to stop it. */
export async function startRedis(
  options: RedisOptions = {},
): Promise<RedisServer> {
  const server = new RedisServer(options);
  await server.start();
  return server;
}
