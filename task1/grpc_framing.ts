/**
 * gRPC's framing of the messages of a stream over HTTP/2: each message is a
 * 1-byte compressed flag (always 0 here), its length as a 4-byte big-endian
 * integer, then its bytes. {@linkcode frameMessage} writes one;
 * {@linkcode MessageDecoder} splits received bytes back into messages,
 * whatever the chunks they arrive in.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** grpc-js's default limit on a received message: 4 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** The bytes before each message: the compressed flag and the length. */
const PREFIX_BYTES = 5;

/** No bytes: what the decoder holds between whole messages. */
const EMPTY = Buffer.alloc(0);

/** A gRPC length-prefixed message: flag 0 (uncompressed), length, bytes. */
export function frameMessage(message: Uint8Array): Buffer {
  return frameMessages([message]);
}

/**
 * `messages` framed as by {@linkcode frameMessage}, one after the other, in
 * one buffer.
 */
export function frameMessages(messages: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const message of messages) total += PREFIX_BYTES + message.length;
  const framed = Buffer.allocUnsafe(total);
  let at = 0;
  for (const message of messages) {
    framed[at] = 0;
    framed.writeUInt32BE(message.length, at + 1);
    framed.set(message, at + PREFIX_BYTES);
    at += PREFIX_BYTES + message.length;
  }
  return framed;
}

/** Options of {@linkcode MessageDecoder}. */
export interface MessageDecoderOptions {
  /**
   * The largest message accepted, in bytes; a longer one fails the decoder
   * as soon as its length prefix arrives, before its bytes are buffered.
   *
   * @default {4194304}
   */
  maxMessageBytes?: number;
}

/**
 * Splits the bytes of a gRPC stream into its messages. It holds at most the
 * bytes of one message (up to the limit) and a prefix between calls.
 */
export class MessageDecoder {
  readonly #maxMessageBytes: number;
  /** Received bytes that do not yet make a whole message. */
  #partial: Buffer = EMPTY;
  /** Where each message found in a chunk ends, reused from chunk to chunk. */
  readonly #ends: number[] = [];

  /** Creates a decoder expecting the first byte of a message. */
  constructor(options: MessageDecoderOptions = {}) {
    this.#maxMessageBytes = options.maxMessageBytes ??
      DEFAULT_MAX_MESSAGE_BYTES;
  }

  /**
   * Adds the next received bytes and returns the messages they complete, in
   * order, without their prefixes.
   *
   * @throws {RangeError} when a message is longer than the limit, worded as
   * grpc-js words it: `Received message larger than max (N vs LIMIT)`
   */
  push(chunk: Buffer): Buffer[] {
    const messages: Buffer[] = [];
    this.read(chunk, (bytes, start, end) => {
      messages.push(bytes.subarray(start, end));
    });
    return messages;
  }

  /**
   * Adds the next received bytes and calls `onMessage` with each message
   * they complete, in order, as the bytes of `bytes` from `start` to `end`,
   * without copying them (valid only during the call).
   *
   * @throws {RangeError} as {@linkcode MessageDecoder.push}, before
   * `onMessage` is called for any message of `chunk`
   */
  read(
    chunk: Buffer,
    onMessage: (bytes: Buffer, start: number, end: number) => void,
  ): void {
    const bytes = this.#partial.length === 0
      ? chunk
      : Buffer.concat([this.#partial, chunk]);
    const ends = this.#ends;
    let count = 0;
    let offset = 0;
    while (bytes.length - offset >= PREFIX_BYTES) {
      const length = bytes.readUInt32BE(offset + 1);
      if (length > this.#maxMessageBytes) {
        this.#partial = EMPTY;
        throw new RangeError(
          `Received message larger than max (${length} vs ${this.#maxMessageBytes})`,
        );
      }
      const end = offset + PREFIX_BYTES + length;
      if (end > bytes.length) break;
      ends[count++] = end;
      offset = end;
    }
    this.#partial = offset === bytes.length ? EMPTY : bytes.subarray(offset);
    let start = 0;
    for (let i = 0; i < count; i++) {
      const end = ends[i]!;
      onMessage(bytes, start + PREFIX_BYTES, end);
      start = end;
    }
  }
}
