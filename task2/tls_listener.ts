/**
 * The roster server's TLS listener, whose connections close at once at any
 * moment, the TLS handshake included.
 *
 * `Deno.listenTls` is not used: closing one of its connections before the
 * TLS handshake ends leaves the socket open until the client finishes or
 * abandons the handshake (its TLS stream waits for the handshake when
 * dropped), so a client that sends nothing, or half a ClientHello, keeps a
 * file descriptor for as long as it likes. `node:net`'s server is not used
 * either: it stops accepting for good once file descriptors run out. Here
 * `Deno.listen` accepts the TCP connection, and `node:tls` runs TLS over it;
 * closing closes the TCP connection itself.
 *
 * @module
 */
import { Duplex } from "node:stream";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import type { ServerTls } from "../lib/tls.ts";
import { closeQuietly } from "./_close_quietly.ts";
import { type RosterConn, type RosterListener, writeAll } from "./conn.ts";

/** A TLS listener over a TCP one; every connection can be closed at once. */
export class TlsListener implements RosterListener {
  readonly #listener: Deno.Listener<Deno.TcpConn>;
  readonly #context: SecureContext;

  /** Serves TLS with the certificate and key in `tls` on `listener`. */
  constructor(listener: Deno.Listener<Deno.TcpConn>, tls: ServerTls) {
    this.#listener = listener;
    this.#context = createSecureContext(tls);
  }

  /** Where it listens. */
  get addr(): Deno.Addr {
    return this.#listener.addr;
  }

  /** The next connection, once accepted over TCP; its TLS handshake follows. */
  async accept(): Promise<RosterConn> {
    return new TlsServerConn(await this.#listener.accept(), this.#context);
  }

  /** Stops listening. */
  close(): void {
    this.#listener.close();
  }
}

/**
 * A TLS server connection over a TCP one, as a {@linkcode RosterConn}. The
 * TLS socket is paused while a received chunk waits to be read, so what it
 * holds is about one TLS record.
 */
class TlsServerConn implements RosterConn {
  /** The client's address. */
  readonly remoteAddr: Deno.Addr;
  readonly #tcp: Deno.TcpConn;
  readonly #socket: TLSSocket;
  /** Received and not read yet, oldest first. */
  readonly #received: Uint8Array[] = [];
  #ended = false;
  #reader: (() => void) | undefined;

  constructor(tcp: Deno.TcpConn, context: SecureContext) {
    tcp.setNoDelay(true);
    tcp.setKeepAlive(true);
    this.remoteAddr = tcp.remoteAddr;
    this.#tcp = tcp;
    const transport = new TcpDuplex(tcp);
    // Its errors reach the TLS socket, whose error listener ends the reads.
    transport.on("error", () => {});
    const socket = new TLSSocket(transport, {
      isServer: true,
      secureContext: context,
    });
    socket.on("data", (data: Uint8Array) => {
      this.#received.push(data);
      socket.pause();
      this.#wake();
    });
    const end = () => {
      this.#ended = true;
      this.#wake();
    };
    socket.on("end", end);
    socket.on("close", end);
    // A failed handshake or a reset: the reads end.
    socket.on("error", end);
    this.#socket = socket;
  }

  /** Reads into `buffer`; null at the end, after an error or once closed. */
  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#received.length === 0 && !this.#ended) {
      await new Promise<void>((resolve) => this.#reader = resolve);
    }
    const received = this.#received[0];
    if (received === undefined) return null;
    const count = Math.min(buffer.length, received.length);
    buffer.set(received.subarray(0, count));
    if (count < received.length) this.#received[0] = received.subarray(count);
    else {
      this.#received.shift();
      if (this.#received.length === 0) this.#socket.resume();
    }
    return count;
  }

  /** Writes `data`; resolves once the TCP connection has taken all of it. */
  write(data: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#socket.write(
        data,
        (error) => error ? reject(error) : resolve(data.length),
      );
    });
  }

  /** Sends TLS's close_notify and the TCP FIN; resolves once sent or closed. */
  closeWrite(): Promise<void> {
    if (this.#socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#socket.once("close", resolve);
      this.#socket.end(resolve);
    });
  }

  /** Closes the TCP connection at once, mid-handshake or not. */
  close(): void {
    this.#socket.destroy();
    closeQuietly(this.#tcp);
    this.#received.length = 0;
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.();
  }
}

/** The most bytes one read of the TCP connection takes for TLS. */
const TRANSPORT_READ_BYTES = 4096;

/** The first byte of a TLS handshake record, as a ClientHello starts. */
const HANDSHAKE_RECORD = 0x16;

/**
 * A fatal TLS `unexpected_message` alert, sent to a client that does not
 * speak TLS so that `roster-client` can say so.
 */
const NOT_TLS_ALERT = Uint8Array.of(0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x0a);

/**
 * A `Deno.TcpConn` as the Node stream that `TLSSocket` runs over. A client
 * whose first byte cannot start a ClientHello gets a TLS alert and is closed
 * before TLS sees it.
 */
class TcpDuplex extends Duplex {
  readonly #tcp: Deno.TcpConn;
  #first = true;

  constructor(tcp: Deno.TcpConn) {
    super();
    this.#tcp = tcp;
  }

  override _read(): void {
    const buffer = new Uint8Array(TRANSPORT_READ_BYTES);
    this.#tcp.read(buffer).then(
      (count) => {
        if (this.#first && count !== null && buffer[0] !== HANDSHAKE_RECORD) {
          writeAll(this.#tcp, NOT_TLS_ALERT).finally(() => this.destroy());
          return;
        }
        this.#first = false;
        this.push(count === null ? null : buffer.subarray(0, count));
      },
      (error: Error) => this.destroy(error),
    );
  }

  override _write(
    chunk: Uint8Array,
    _encoding: string,
    done: (error?: Error | null) => void,
  ): void {
    writeAll(this.#tcp, chunk).then(() => done(), done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.#tcp.closeWrite().then(() => done(), done);
  }

  override _destroy(
    error: Error | null,
    done: (error?: Error | null) => void,
  ): void {
    closeQuietly(this.#tcp);
    done(error);
  }
}
