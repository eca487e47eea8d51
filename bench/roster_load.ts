/**
 * A cheap load generator for the roster server: many raw TCP clients in one
 * process that count bytes and track only the length of each client's newest
 * complete line, so waiting for "every client has roster X" costs almost
 * nothing per byte.
 *
 * @module
 */

const NEWLINE = 0x0a;
const READ_BUFFER_BYTES = 32 * 1024;

/** A wait for every reading client's newest line to have a given length. */
interface Expectation {
  length: number;
  met: number;
  resolve: (at: number) => void;
}

/** One raw client: its connection and what it has seen. */
class LoadClient {
  readonly conn: Deno.Conn;
  /** Bytes after the last newline seen. */
  carry = 0;
  /** Length of the newest complete line, or -1 before the first. */
  lastLineLength = -1;
  /** Whether the current expectation is met by this client. */
  satisfied = false;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }
}

/** Opens one client connection to the roster server on 127.0.0.1:`port`. */
export type RosterConnect = (port: number) => Promise<Deno.Conn>;

/** Plain TCP to 127.0.0.1:`port`. */
const connectTcp: RosterConnect = (port) =>
  Deno.connect({ hostname: "127.0.0.1", port });

/** A crowd of roster clients, reading (or not) and counting. */
export class RosterLoad implements AsyncDisposable {
  readonly #port: number;
  readonly #connect: RosterConnect;
  readonly #clients: LoadClient[] = [];
  #readers = 0;
  #expectation: Expectation | undefined;
  /** Bytes received by every client so far. */
  bytes = 0;

  /**
   * A load against the roster server on 127.0.0.1:`port`, each client
   * connected by `connect` (plain TCP by default).
   */
  constructor(port: number, connect: RosterConnect = connectTcp) {
    this.#port = port;
    this.#connect = connect;
  }

  /** The number of clients connected by this load. */
  get size(): number {
    return this.#clients.length;
  }

  /**
   * Connects a client, sends `name` bare, and, if `read`, starts reading;
   * resolves once the name is sent, not when the roster comes back.
   */
  async join(name: string, read = true): Promise<LoadClient> {
    const conn = await this.#connect(this.#port);
    await conn.write(new TextEncoder().encode(name));
    const client = new LoadClient(conn);
    this.#clients.push(client);
    if (read) {
      this.#readers++;
      this.#read(client);
    }
    return client;
  }

  /** Closes `client`'s connection, which makes it leave. */
  leave(client: LoadClient): void {
    const index = this.#clients.indexOf(client);
    if (index >= 0) this.#clients.splice(index, 1);
    client.conn.close();
  }

  /**
   * Resolves to the time (`performance.now()`) at which every reading client,
   * including those that join later, has received after this call a newest
   * line of `length` bytes.
   */
  expect(length: number): Promise<number> {
    return new Promise((resolve) => {
      for (const client of this.#clients) client.satisfied = false;
      this.#expectation = { length, met: 0, resolve };
    });
  }

  async #read(client: LoadClient): Promise<void> {
    const buffer = new Uint8Array(READ_BUFFER_BYTES);
    try {
      for (
        let n = await client.conn.read(buffer);
        n !== null;
        n = await client.conn.read(buffer)
      ) {
        this.bytes += n;
        this.#see(client, buffer.subarray(0, n));
      }
    } catch {
      // Closed by leave() or by the end of the run.
    } finally {
      this.#readers--;
      // A client the server closed no longer counts towards the expectation.
      if (client.satisfied && this.#expectation) this.#expectation.met--;
      this.#settle();
    }
  }

  #see(client: LoadClient, chunk: Uint8Array): void {
    const last = chunk.lastIndexOf(NEWLINE);
    if (last < 0) {
      client.carry += chunk.length;
      return;
    }
    const previous = last > 0 ? chunk.lastIndexOf(NEWLINE, last - 1) : -1;
    client.lastLineLength = previous >= 0
      ? last - previous - 1
      : client.carry + last;
    client.carry = chunk.length - last - 1;
    const expectation = this.#expectation;
    if (
      expectation && !client.satisfied &&
      client.lastLineLength === expectation.length
    ) {
      client.satisfied = true;
      expectation.met++;
      this.#settle();
    }
  }

  /** Resolves the expectation once every client still reading has met it. */
  #settle(): void {
    const expectation = this.#expectation;
    if (expectation && expectation.met >= this.#readers) {
      this.#expectation = undefined;
      expectation.resolve(performance.now());
    }
  }

  /** Closes every client. */
  [Symbol.asyncDispose](): Promise<void> {
    for (const client of this.#clients.splice(0)) {
      try {
        client.conn.close();
      } catch {
        // Already closed.
      }
    }
    return Promise.resolve();
  }
}

/** The length in bytes of the roster line for `names`, without its newline. */
export function rosterLineLength(names: readonly string[]): number {
  return names.reduce((sum, name) => sum + name.length, 0) + names.length - 1;
}
