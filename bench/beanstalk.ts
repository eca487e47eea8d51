/**
 * beanstalkd (Debian's `beanstalkd` 1.12), the C work queue that issues 18
 * and 19 measure the queue against: starting it on a free port of 127.0.0.1,
 * in memory or with its binlog fsync'd on every write, and one connection of
 * a load generator speaking its text protocol (`put`, `reserve-with-timeout
 * 0`, `delete`; `doc/protocol.md` in beanstalkd's sources).
 *
 * @module
 */
import { commandSucceeds, deadPort } from "../tests/harness.ts";
import { type RunningServer, startPinned } from "./peers.ts";
import { benchDir } from "./store_bench.ts";

/** The program, as Debian installs it. */
const BEANSTALKD = "beanstalkd";

/** Whether beanstalkd is installed. */
export function hasBeanstalkd(): boolean {
  return commandSucceeds(BEANSTALKD, ["-v"]);
}

/** Options of {@linkcode startBeanstalkd}. */
export interface BeanstalkdOptions {
  /**
   * Keep a binlog in a new folder in bench/ and fsync it on every write
   * (`-b DIR -f 0`); in memory only when false.
   *
   * @default {false}
   */
  fsync?: boolean;
}

/**
 * Starts beanstalkd on a free port of 127.0.0.1, pinned to the server core;
 * disposing it kills it and removes its binlog.
 */
export async function startBeanstalkd(
  options: BeanstalkdOptions = {},
): Promise<RunningServer> {
  const port = deadPort();
  const argv = [BEANSTALKD, "-l", "127.0.0.1", "-p", String(port)] as const;
  if (!options.fsync) return await startPinned(argv, port);
  const dir = await benchDir();
  try {
    return await startPinned([...argv, "-b", dir.path, "-f", "0"], port, {
      after: () => dir[Symbol.asyncDispose](),
    });
  } catch (error: unknown) {
    await dir[Symbol.asyncDispose]();
    throw error;
  }
}

/** How long a reserved job may stay reserved, in seconds (it never does). */
const TTR_SECONDS = 60;

/**
 * One connection to beanstalkd that runs work-queue cycles: put a job,
 * reserve one, delete it, each command waiting for the answer to the one
 * before. Every answer is checked; a wrong one rejects.
 */
export class BeanstalkConnection implements Disposable {
  readonly #conn: Deno.TcpConn;
  readonly #chunk = new Uint8Array(64 * 1024);
  readonly #encoder = new TextEncoder();
  readonly #decoder = new TextDecoder("latin1");
  /** Received text not yet taken, one character a byte. */
  #received = "";

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** Connects to beanstalkd on 127.0.0.1:`port`. */
  static async open(port: number): Promise<BeanstalkConnection> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new BeanstalkConnection(conn);
  }

  /**
   * One cycle with the job `body` (ASCII): `put` (answered `INSERTED id`),
   * `reserve-with-timeout 0` (`RESERVED id bytes` and a job, which must be
   * there: every cycle puts before it reserves), `delete id` (`DELETED`).
   */
  async cycle(body: string): Promise<void> {
    await this.#command(`put 0 0 ${TTR_SECONDS} ${body.length}\r\n${body}`);
    expect(await this.#line(), /^INSERTED \d+$/);
    await this.#command("reserve-with-timeout 0");
    const [, id, bytes] = expect(await this.#line(), /^RESERVED (\d+) (\d+)$/);
    await this.#take(Number(bytes));
    await this.#command(`delete ${id}`);
    expect(await this.#line(), /^DELETED$/);
  }

  /** Closes the connection. */
  [Symbol.dispose](): void {
    this.#conn.close();
  }

  /** Writes `text` and the line end. */
  async #command(text: string): Promise<void> {
    const bytes = this.#encoder.encode(text + "\r\n");
    for (let at = 0; at < bytes.length;) {
      at += await this.#conn.write(bytes.subarray(at));
    }
  }

  /** The next line, without its `\r\n`. */
  async #line(): Promise<string> {
    let end: number;
    while ((end = this.#received.indexOf("\r\n")) < 0) await this.#read();
    const line = this.#received.slice(0, end);
    this.#received = this.#received.slice(end + 2);
    return line;
  }

  /** Takes a job's `bytes` and the `\r\n` after them. */
  async #take(bytes: number): Promise<void> {
    while (this.#received.length < bytes + 2) await this.#read();
    this.#received = this.#received.slice(bytes + 2);
  }

  async #read(): Promise<void> {
    const read = await this.#conn.read(this.#chunk);
    if (read === null) throw new Error("beanstalkd closed the connection");
    this.#received += this.#decoder.decode(this.#chunk.subarray(0, read));
  }
}

/** Matches `line` against `pattern`, or throws saying what came instead. */
function expect(line: string, pattern: RegExp): RegExpMatchArray {
  const match = line.match(pattern);
  if (match === null) {
    throw new Error(`beanstalkd answered ${JSON.stringify(line)}`);
  }
  return match;
}
