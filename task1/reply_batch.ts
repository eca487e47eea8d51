/**
 * Writes the messages of one grpc-js server streaming call (`Session`'s
 * replies) so that those ready in the same event-loop turn reach HTTP/2 as
 * one write: each is serialized and framed as a gRPC message (5-byte
 * prefix) here, and a turn's frames are written, concatenated, to the
 * call's HTTP/2 stream. grpc-js alone makes one write, and Deno's
 * `node:http2` one DATA frame, per message.
 *
 * What it relies on beyond public APIs (`reply_batch_test.ts` checks each
 * against a real grpc-js server, with and without a server interceptor):
 * - grpc-js's last intercepting call keeps the HTTP/2 stream and whether
 *   the response headers left ({@linkcode callHttp2Responder}); after
 *   `call.sendMetadata()` they have, unless an interceptor holds them back,
 *   and then every message goes through `call.write()` as before.
 * - grpc-js's `ServerDuplexStreamImpl._final` completes before it sends
 *   the status, so the stream's `prefinish` event comes first: the batch
 *   left is written then, before the trailers, however the call ends.
 *
 * Written this way, a message skips grpc-js's own send path: server
 * interceptors do not see it (the queue server's only one checks the token
 * of incoming calls) and channelz counts no message sent.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { once } from "node:events";
import { frameMessages } from "./grpc_framing.ts";
import {
  callHttp2Responder,
  type Http2Responder,
  watchSentMessages,
} from "./grpc_internals.ts";

/** A grpc-js server call that streams messages of type `T`. */
export type StreamingCall<T> =
  | grpc.ServerDuplexStream<unknown, T>
  | grpc.ServerWritableStream<unknown, T>;

/** Options of {@linkcode openReplyWriter}. */
export interface ReplyWriterOptions<T> {
  /** Serializes one message, without the gRPC prefix. */
  serialize: (message: T) => Uint8Array;
  /**
   * Called once for each message that has left the server, in the order
   * written: seen in the connection's outgoing frames
   * ({@linkcode watchSentMessages}), or, where those cannot be watched,
   * when the message's write completes.
   */
  onSent: () => void;
  /**
   * How many bytes a turn's batch may gather before it is written at once,
   * without waiting for the turn to end.
   *
   * @default {65536}
   */
  maxBatchBytes?: number;
}

/** Writes one call's messages; see {@linkcode openReplyWriter}. */
export interface ReplyWriter<T> {
  /** Whether messages are batched (else each goes through `call.write()`). */
  readonly batching: boolean;
  /**
   * Writes `message` after those before it. Returns false when the caller
   * should write no more until {@linkcode ReplyWriter.drained} resolves.
   */
  write(message: T): boolean;
  /** Resolves once the stream takes writes again, or when `signal` aborts. */
  drained(signal: AbortSignal): Promise<void>;
  /** Hands the messages gathered so far to HTTP/2 now. */
  flush(): void;
}

/**
 * Returns the writer of `call`'s messages: batching where the call's HTTP/2
 * stream can be reached, else each through `call.write()`. Call it before
 * the call writes any message, and write only through it.
 */
export function openReplyWriter<T>(
  call: StreamingCall<T>,
  options: ReplyWriterOptions<T>,
): ReplyWriter<T> {
  const stopWatching = watchSentMessages(call, options.onSent);
  if (stopWatching) {
    call.once("cancelled", stopWatching);
    call.once("finish", stopWatching);
  }
  const watching = stopWatching !== undefined;
  const responder = callHttp2Responder(call);
  return responder
    ? new BatchWriter(call, responder, options, watching)
    : new CallWriter(call, options.onSent, watching);
}

/** Each message through `call.write()`, as grpc-js alone does. */
class CallWriter<T> implements ReplyWriter<T> {
  readonly batching: boolean = false;
  readonly #call: StreamingCall<T>;
  readonly #onSent: (() => void) | undefined;

  constructor(call: StreamingCall<T>, onSent: () => void, watching: boolean) {
    this.#call = call;
    this.#onSent = watching ? undefined : onSent;
  }

  write(message: T): boolean {
    return this.#onSent
      ? this.#call.write(message, this.#onSent)
      : this.#call.write(message);
  }

  drained(signal: AbortSignal): Promise<void> {
    return once(this.#call, "drain", { signal }).then(() => {}, () => {});
  }

  flush(): void {}
}

/** The gRPC message prefix: a compression flag and a 32-bit length. */
const PREFIX_BYTES = 5;

/** A turn's messages gathered and written to the HTTP/2 stream as one. */
class BatchWriter<T> implements ReplyWriter<T> {
  batching = true;
  readonly #call: StreamingCall<T>;
  readonly #responder: Http2Responder;
  readonly #serialize: (message: T) => Uint8Array;
  readonly #onSent: () => void;
  readonly #watching: boolean;
  readonly #maxBatchBytes: number;
  /** The serialized messages not yet written, oldest first. */
  #serialized: Uint8Array[] = [];
  #pendingBytes = 0;
  #scheduled = false;
  /** Replaces batching once an interceptor held the headers back. */
  #fallback: CallWriter<T> | undefined;

  constructor(
    call: StreamingCall<T>,
    responder: Http2Responder,
    options: ReplyWriterOptions<T>,
    watching: boolean,
  ) {
    this.#call = call;
    this.#responder = responder;
    this.#serialize = options.serialize;
    this.#onSent = options.onSent;
    this.#watching = watching;
    this.#maxBatchBytes = options.maxBatchBytes ?? 64 * 1024;
    // Before grpc-js sends the status, however the call ends.
    call.once("prefinish", this.flush);
    // grpc-js handles only a stream's first error; one that a batch's write
    // meets is followed by "close", and the call is cancelled then.
    responder.stream.on("error", () => {});
  }

  write(message: T): boolean {
    if (this.#fallback) return this.#fallback.write(message);
    if (!this.#responder.metadataSent) {
      // The headers must leave first: grpc-js would send them with this
      // message. If an interceptor holds them back, leave it all to grpc-js.
      this.#call.sendMetadata(new grpc.Metadata());
      if (!this.#responder.metadataSent) return this.#fallBack(message);
    }
    const bytes = this.#serialize(message);
    this.#serialized.push(bytes);
    this.#pendingBytes += PREFIX_BYTES + bytes.byteLength;
    if (this.#pendingBytes >= this.#maxBatchBytes) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.flush);
    }
    return !this.#responder.stream.writableNeedDrain;
  }

  drained(signal: AbortSignal): Promise<void> {
    if (this.#fallback) return this.#fallback.drained(signal);
    const { stream } = this.#responder;
    if (!stream.writableNeedDrain) return Promise.resolve();
    return once(stream, "drain", { signal }).then(() => {}, () => {});
  }

  flush = (): void => {
    this.#scheduled = false;
    const serialized = this.#serialized;
    if (serialized.length === 0) return;
    this.#serialized = [];
    this.#pendingBytes = 0;
    const { stream } = this.#responder;
    // The call is over (cancelled, failed, or its status sent): grpc-js
    // drops a message written then, and so does this.
    if (stream.destroyed || stream.closed || stream.writableEnded) return;
    const batch = frameMessages(serialized);
    if (this.#watching) stream.write(batch);
    else {
      const onSent = this.#onSent;
      stream.write(batch, (error) => {
        if (error) return;
        for (let i = 0; i < serialized.length; i++) onSent();
      });
    }
  };

  /**
   * An interceptor has not let the headers go: writes `message`, and every
   * later one, through `call.write()`, after them.
   */
  #fallBack(message: T): boolean {
    this.batching = false;
    this.#fallback = new CallWriter(this.#call, this.#onSent, this.#watching);
    return this.#fallback.write(message);
  }
}
