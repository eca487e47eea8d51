/**
 * Whether an HTTP/2 client has started its first call, seen in the bytes it
 * sends: its connection preface, then frames, until one whole HEADERS frame
 * (a request's headers) has arrived. The queue server's handshake timeout
 * ends there; the frames are checked by `node:http2`, not here.
 *
 * @module
 */
import type { Readable } from "node:stream";

/** `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`: the first bytes of every client. */
const PREFACE_BYTES = 24;

/** Every frame starts with 9 bytes: length (3), type, flags, stream (4). */
const FRAME_HEADER_BYTES = 9;

/** The frame type of a request's (or a response's) headers. */
const HEADERS = 0x1;

/**
 * Scans the bytes a client sends, in any chunks, for the end of its first
 * HEADERS frame. It keeps 9 bytes at most.
 */
export class CallStartScanner {
  /** Bytes still to pass over: the preface, then the current payload. */
  #skip = PREFACE_BYTES;
  /** Whether the payload being passed over is a HEADERS frame's. */
  #inHeaders = false;
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES);
  #headerBytes = 0;

  /**
   * Scans `chunk`, the next bytes from the client; returns true once a
   * whole HEADERS frame has arrived (in this chunk or an earlier one).
   */
  feed(chunk: Uint8Array): boolean {
    let offset = 0;
    for (;;) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, chunk.length - offset);
        this.#skip -= take;
        offset += take;
        if (this.#skip > 0) return false;
      }
      if (this.#inHeaders) return true;
      if (offset === chunk.length) return false;
      const take = Math.min(
        FRAME_HEADER_BYTES - this.#headerBytes,
        chunk.length - offset,
      );
      this.#header.set(
        chunk.subarray(offset, offset + take),
        this.#headerBytes,
      );
      this.#headerBytes += take;
      offset += take;
      if (this.#headerBytes < FRAME_HEADER_BYTES) return false;
      this.#headerBytes = 0;
      const header = this.#header;
      this.#skip = (header[0]! << 16) | (header[1]! << 8) | header[2]!;
      this.#inHeaders = header[3] === HEADERS;
    }
  }
}

/**
 * Calls `onStart` once `socket` has carried the headers of a client's first
 * call, then stops watching. The socket's other reader (grpc-js's HTTP/2
 * session) must already be attached: this listener only looks.
 */
export function watchCallStart(
  socket: Readable,
  onStart: () => void,
): void {
  const scanner = new CallStartScanner();
  const look = (chunk: Uint8Array) => {
    if (!scanner.feed(chunk)) return;
    socket.off("data", look);
    onStart();
  };
  socket.on("data", look);
}
