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
  #partial: Buffer = Buffer.alloc(0);

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
    const bytes = this.#partial.length === 0
      ? chunk
      : Buffer.concat([this.#partial, chunk]);
    const messages: Buffer[] = [];
    let offset = 0;
    while (bytes.length - offset >= PREFIX_BYTES) {
      const length = bytes.readUInt32BE(offset + 1);
      if (length > this.#maxMessageBytes) {
        this.#partial = Buffer.alloc(0);
        throw new RangeError(
          `Received message larger than max (${length} vs ${this.#maxMessageBytes})`,
        );
      }
      const end = offset + PREFIX_BYTES + length;
      if (end > bytes.length) break;
      messages.push(bytes.subarray(offset + PREFIX_BYTES, end));
      offset = end;
    }
    this.#partial = bytes.subarray(offset);
    return messages;
  }
}
