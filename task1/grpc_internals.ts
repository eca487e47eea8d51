/**
 * The one place that reads private fields of grpc-js and of Deno's
 * `node:http2`. Everything else uses public APIs; {@linkcode watchSentMessages}
 * is what `Session` needs beyond them, and `grpc_internals_test.ts` checks
 * against a real grpc-js server, with and without a server interceptor,
 * that what it reads is still there, so an upgrade of grpc-js or Deno that
 * moves it fails that test instead of silently lifting a bound.
 *
 * What it relies on:
 * - grpc-js 1.14 (`server-call.js`, `server-interceptors.js`): a server call
 *   object (`ServerDuplexStreamImpl` and its siblings) keeps its intercepting
 *   call in `call`; each `ServerInterceptingCall` (one per server
 *   interceptor) keeps the next one in `nextCall`, and the last,
 *   `BaseServerInterceptingCall`, keeps the call's `http2.ServerHttp2Stream`
 *   in `stream` and whether it has sent the response headers in
 *   `metadataSent` ({@linkcode callHttp2Responder}, for `reply_batch.ts`).
 * - Deno 2.9's `node:http2`: the session keeps its native handle under the
 *   symbol described `kHandle`, whose `getOutgoingChunk()` hands out the
 *   connection's outgoing bytes, whole HTTP/2 frames, as they leave (within
 *   HTTP/2 flow control). Deno completes every stream write at once, whatever
 *   room the client's flow-control window leaves, and keeps what does not
 *   fit; so neither `write()`'s return value nor its callback says what a
 *   client has read. The frames that leave do.
 *
 * @module
 */
import type { Writable } from "node:stream";

/** The parts of an `http2.ServerHttp2Stream` this module uses. */
interface Http2StreamLike {
  readonly id: number;
  readonly session: object | undefined;
}

/** The HTTP/2 side of a grpc-js server call, as `reply_batch.ts` uses it. */
export interface Http2Responder {
  /** The call's HTTP/2 stream, where its response's DATA is written. */
  readonly stream: Http2StreamLike & Writable;
  /** Whether grpc-js has sent the response headers (so DATA may follow). */
  readonly metadataSent: boolean;
}

/**
 * The last link of a grpc-js server call's chain of intercepting calls, the
 * one that holds the HTTP/2 stream, with or without server interceptors, or
 * undefined if it cannot be reached.
 */
export function callHttp2Responder(call: object): Http2Responder | undefined {
  const link = lastLink(call);
  const { stream, metadataSent } = link ?? {};
  return typeof stream?.write === "function" &&
      typeof metadataSent === "boolean"
    ? link as Http2Responder
    : undefined;
}

/**
 * The HTTP/2 stream under a grpc-js server call, with or without server
 * interceptors, or undefined if it cannot be reached.
 */
export function callHttp2Stream(call: object): Http2StreamLike | undefined {
  return lastLink(call)?.stream as Http2StreamLike | undefined;
}

/** The link of `call`'s chain whose `stream` looks like an HTTP/2 stream. */
function lastLink(call: object): Partial<Http2Responder> | undefined {
  let link = (call as { call?: unknown }).call;
  for (let depth = 0; depth < 16 && typeof link === "object" && link; depth++) {
    const { stream } = link as { stream?: Partial<Http2StreamLike> };
    if (typeof stream?.id === "number" && typeof stream.session === "object") {
      return link as Partial<Http2Responder>;
    }
    link = (link as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

/** Where a session's outgoing frames are counted, kept on its handle. */
const FRAME_COUNTER = Symbol("sent gRPC messages per stream");

/** The HTTP/2 frame header's size, and the DATA frame's type and flag. */
const FRAME_HEADER_BYTES = 9;
const DATA_FRAME = 0;
const PADDED_FLAG = 0x8;

/** Counts the gRPC messages that leave on each stream of one connection. */
class OutgoingFrames {
  /** The streams watched, by id. */
  readonly streams = new Map<number, MessageCounter>();
  /** The current frame's header, and how much of it has been seen. */
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES);
  #headerSeen = 0;
  /** How many payload bytes of the current frame are still to come. */
  #payloadLeft = 0;
  /** How many of those are data (not the pad length nor the padding). */
  #dataLeft = 0;
  #needPadLength = false;
  /** The watched stream the current DATA frame belongs to, if any. */
  #stream: MessageCounter | undefined;

  /** Reads the frames in the next outgoing bytes. */
  push(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      if (this.#payloadLeft === 0) {
        while (this.#headerSeen < FRAME_HEADER_BYTES && at < bytes.length) {
          this.#header[this.#headerSeen++] = bytes[at++]!;
        }
        if (this.#headerSeen < FRAME_HEADER_BYTES) return;
        this.#headerSeen = 0;
        this.#startFrame(this.#header);
      } else if (this.#needPadLength) {
        this.#needPadLength = false;
        this.#payloadLeft--;
        this.#dataLeft = Math.max(0, this.#payloadLeft - bytes[at++]!);
      } else {
        const take = Math.min(this.#payloadLeft, bytes.length - at);
        const data = Math.min(take, this.#dataLeft);
        if (data > 0) this.#stream?.push(bytes.subarray(at, at + data));
        this.#dataLeft -= data;
        this.#payloadLeft -= take;
        at += take;
      }
    }
  }

  /** Starts the frame whose 9-byte header is `header`. */
  #startFrame(header: Uint8Array): void {
    const view = new DataView(header.buffer);
    this.#payloadLeft = view.getUint32(0) >>> 8;
    const type = header[3];
    this.#needPadLength = (header[4]! & PADDED_FLAG) !== 0;
    this.#dataLeft = this.#payloadLeft;
    const id = view.getUint32(5) & 0x7fffffff;
    this.#stream = type === DATA_FRAME ? this.streams.get(id) : undefined;
  }
}

/** Counts the gRPC messages (5-byte prefix, then the bytes) in a stream. */
class MessageCounter {
  readonly #onSent: () => void;
  /** The prefix bytes of the next message seen so far. */
  #prefix: number[] = [];
  #messageLeft = 0;

  constructor(onSent: () => void) {
    this.#onSent = onSent;
  }

  /** Reads the next bytes of the stream's DATA; reports each message done. */
  push(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      if (this.#messageLeft === 0) {
        this.#prefix.push(bytes[at++]!);
        if (this.#prefix.length < 5) continue;
        const [, b1 = 0, b2 = 0, b3 = 0, b4 = 0] = this.#prefix;
        this.#prefix = [];
        this.#messageLeft = ((b1 << 24) >>> 0) + (b2 << 16) + (b3 << 8) + b4;
        if (this.#messageLeft === 0) this.#onSent();
        continue;
      }
      const take = Math.min(this.#messageLeft, bytes.length - at);
      this.#messageLeft -= take;
      at += take;
      if (this.#messageLeft === 0) this.#onSent();
    }
  }
}

/** The native handle of a Deno `node:http2` session, as far as used here. */
interface SessionHandle {
  getOutgoingChunk(): Uint8Array | undefined;
  [FRAME_COUNTER]?: OutgoingFrames;
}

/** The native handle of `session`, if it has the one this module knows. */
function sessionHandle(session: object): SessionHandle | undefined {
  const key = Object.getOwnPropertySymbols(session).find((symbol) =>
    symbol.description === "kHandle"
  );
  const handle = key && (session as Record<symbol, unknown>)[key];
  return typeof handle === "object" && handle !== null &&
      typeof (handle as SessionHandle).getOutgoingChunk === "function"
    ? handle as SessionHandle
    : undefined;
}

/**
 * Calls `onSent` each time one more gRPC message that the server call `call`
 * wrote has left the connection (HTTP/2 flow control let it go, so the
 * client has room for it), in the order written. Returns a function that
 * stops watching, or undefined if the connection's outgoing frames cannot be
 * watched (then `call.write()`'s callbacks are the best signal left).
 *
 * Counting starts with the call's first message: it must be called before
 * the call writes any. It reads no socket: whatever carries the connection,
 * the frames pass through the session's handle first.
 */
export function watchSentMessages(
  call: object,
  onSent: () => void,
): (() => void) | undefined {
  const stream = callHttp2Stream(call);
  const handle = stream?.session && sessionHandle(stream.session);
  if (stream === undefined || handle === undefined) return undefined;
  let frames = handle[FRAME_COUNTER];
  if (frames === undefined) {
    const counter = new OutgoingFrames();
    frames = counter;
    const next = handle.getOutgoingChunk.bind(handle);
    handle[FRAME_COUNTER] = counter;
    // Chunks are whole frames: counting may start on any chunk.
    handle.getOutgoingChunk = () => {
      const chunk = next();
      if (chunk && chunk.byteLength > 0) counter.push(chunk);
      return chunk;
    };
  }
  const { streams } = frames;
  const { id } = stream;
  streams.set(id, new MessageCounter(onSent));
  return () => streams.delete(id);
}
