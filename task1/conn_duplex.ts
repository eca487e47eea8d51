/**
 * A `node:stream` Duplex over a `Deno.Conn`, for grpc-js's connection
 * injector: the queue server accepts with Deno's own listener (whose accept
 * loop survives running out of file descriptors, unlike Deno's `node:net`)
 * and hands grpc-js this stream as the connection's socket.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import type { Connection } from "./connections.ts";

/** The most bytes taken from the socket in one read. */
const READ_BYTES = 64 * 1024;

/**
 * The socket of one accepted {@linkcode Connection}, with the addresses
 * grpc-js reads from a socket (`getPeer()`, `getConnectionInfo()`, which
 * the token throttle uses). Destroying it closes the connection.
 */
export class ConnDuplex extends Duplex {
  /** The client's IP address. */
  readonly remoteAddress: string;
  /** The client's port. */
  readonly remotePort: number;
  /** `IPv4` or `IPv6`, as `node:net` says. */
  readonly remoteFamily: string;
  /** The server's IP address of this connection. */
  readonly localAddress: string;
  /** The server's port. */
  readonly localPort: number;
  readonly #connection: Connection;
  readonly #buffer = new Uint8Array(READ_BYTES);

  /** Wraps `connection`, which the stream owns from now on. */
  constructor(connection: Connection) {
    // A client that ends its side has left: end ours, and close once both
    // are done, as a `node:net` socket does.
    super({ allowHalfOpen: false });
    this.#connection = connection;
    const remote = connection.conn.remoteAddr as Deno.NetAddr;
    const local = connection.conn.localAddr as Deno.NetAddr;
    this.remoteAddress = remote.hostname;
    this.remotePort = remote.port;
    this.remoteFamily = remote.hostname.includes(":") ? "IPv6" : "IPv4";
    this.localAddress = local.hostname;
    this.localPort = local.port;
  }

  /** Reads once from the socket and passes on what came, copied. */
  override _read(): void {
    this.#connection.conn.read(this.#buffer).then((count) => {
      if (count === null) {
        this.push(null);
        return;
      }
      this.push(Buffer.from(this.#buffer.subarray(0, count)));
    }, (error: unknown) => this.destroy(asError(error)));
  }

  /** Writes one chunk whole. */
  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.#send(chunk, callback);
  }

  /** Writes the chunks queued behind a write in progress, as one write. */
  override _writev(
    chunks: { chunk: Buffer }[],
    callback: (error?: Error | null) => void,
  ): void {
    this.#send(Buffer.concat(chunks.map(({ chunk }) => chunk)), callback);
  }

  #send(data: Uint8Array, callback: (error?: Error | null) => void): void {
    writeAll(this.#connection.conn, data).then(
      () => callback(),
      (error: unknown) => callback(asError(error)),
    );
  }

  /** Ends the writing half once everything is written. */
  override _final(callback: (error?: Error | null) => void): void {
    this.#connection.conn.closeWrite().then(
      () => callback(),
      () => callback(),
    );
  }

  /** Closes the connection. */
  override _destroy(
    error: Error | null,
    callback: (error?: Error | null) => void,
  ): void {
    this.#connection.close();
    callback(error);
  }

  /** Accepted for `net.Socket` compatibility: Nagle is off already. */
  setNoDelay(): this {
    return this;
  }

  /** Accepted for `net.Socket` compatibility; does nothing. */
  setKeepAlive(): this {
    return this;
  }

  /** Accepted for `net.Socket` compatibility; does nothing. */
  setTimeout(): this {
    return this;
  }
}

/** Writes all of `data`, looping over partial writes. */
async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.length;) {
    offset += await conn.write(data.subarray(offset));
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
