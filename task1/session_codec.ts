/**
 * The Session client's hot path, encoded by hand: commands written straight
 * into the gRPC-framed bytes of a turn ({@linkcode CommandWriter}), and
 * replies read straight from the received bytes ({@linkcode decodeReply}),
 * without protobufjs's message objects. The bytes written are those
 * proto-loader's `requestSerialize` writes, and a reply decodes to what its
 * `responseDeserialize` gives for the fields of `Reply` (its `_item` marker
 * of an optional field left out); `session_codec_test.ts` checks both
 * against proto-loader.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import protobuf from "protobufjs";
import type { Command, ItemResponse, Reply } from "./proto.ts";

/** The gRPC prefix of a message: the compressed flag and the length. */
const PREFIX_BYTES = 5;

/** The size of each buffer that commands are written into. */
const CHUNK_BYTES = 64 * 1024;

/** The most bytes a command's fields other than its one string take. */
const FIXED_BYTES = 32;

/** The tag (field number and wire type 2) of each `Command` field. */
const COMMAND_TAGS = {
  put: 0x0a,
  peek: 0x12,
  pop: 0x1a,
  size: 0x22,
  ack: 0x2a,
  release: 0x32,
  extend: 0x3a,
} as const;

/** UTF-8 bytes of `text`, counted as protobufjs counts them. */
function utf8Length(text: string): number {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) >= 0x80) return protobuf.util.utf8.length(text);
  }
  return text.length;
}

/** How many bytes `value` (an unsigned 32-bit number) takes as a varint. */
function varintLength(value: number): number {
  let bytes = 1;
  for (; value >= 0x80; value >>>= 7) bytes++;
  return bytes;
}

/**
 * Writes the framed commands of a turn one after another into large
 * buffers; {@linkcode take} hands out the bytes written since the last take,
 * which are never written over afterwards (HTTP/2 may still hold them).
 */
export class CommandWriter {
  #chunk: Buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  /** Where the bytes not yet taken start, and where they end. */
  #start = 0;
  #end = 0;
  /** How many commands were added since the last take. */
  #count = 0;

  /** How many commands were added since the last take. */
  get count(): number {
    return this.#count;
  }

  /** Appends `command`, framed, in the encoding of proto-loader. */
  add(command: Command): void {
    this.#count++;
    if (command.put !== undefined) {
      const { item, wait_ms } = command.put;
      this.#message(COMMAND_TAGS.put, item, undefined, wait_ms);
    } else if (command.pop !== undefined) {
      const { wait_ms, lease_ms } = command.pop;
      this.#message(COMMAND_TAGS.pop, undefined, wait_ms, lease_ms);
    } else if (command.peek !== undefined) {
      this.#message(COMMAND_TAGS.peek);
    } else if (command.size !== undefined) {
      this.#message(COMMAND_TAGS.size);
    } else if (command.ack !== undefined) {
      this.#message(COMMAND_TAGS.ack, command.ack.receipt);
    } else if (command.release !== undefined) {
      this.#message(COMMAND_TAGS.release, command.release.receipt);
    } else if (command.extend !== undefined) {
      const { receipt, lease_ms } = command.extend;
      this.#message(COMMAND_TAGS.extend, receipt, undefined, lease_ms);
    } else {
      this.#reserve(PREFIX_BYTES);
      this.#prefix(0);
    }
  }

  /** The bytes added since the last take, or undefined when none were. */
  take(): Buffer | undefined {
    if (this.#end === this.#start) return undefined;
    const bytes = this.#chunk.subarray(this.#start, this.#end);
    this.#start = this.#end;
    this.#count = 0;
    return bytes;
  }

  /** Forgets the bytes added since the last take. */
  clear(): void {
    this.#end = this.#start;
    this.#count = 0;
  }

  /**
   * Writes a `Command` whose field `tag` holds a message of up to three
   * fields, each left out when undefined: field 1 the string `text` or the
   * number `first`, field 2 the number `second`.
   */
  #message(
    tag: number,
    text?: string,
    first?: number,
    second?: number,
  ): void {
    const textBytes = text === undefined ? 0 : utf8Length(text);
    let inner = 0;
    if (text !== undefined) inner += 1 + varintLength(textBytes) + textBytes;
    const one = first === undefined ? undefined : first >>> 0;
    const two = second === undefined ? undefined : second >>> 0;
    if (one !== undefined) inner += 1 + varintLength(one);
    if (two !== undefined) inner += 1 + varintLength(two);
    const length = 1 + varintLength(inner) + inner;
    this.#reserve(PREFIX_BYTES + length);
    this.#prefix(length);
    const chunk = this.#chunk;
    chunk[this.#end++] = tag;
    this.#varint(inner);
    if (text !== undefined) {
      chunk[this.#end++] = 0x0a;
      this.#varint(textBytes);
      this.#end = writeString(text, textBytes, chunk, this.#end);
    }
    if (one !== undefined) {
      chunk[this.#end++] = 0x08;
      this.#varint(one);
    }
    if (two !== undefined) {
      chunk[this.#end++] = 0x10;
      this.#varint(two);
    }
  }

  /** Writes the gRPC prefix of a message of `length` bytes. */
  #prefix(length: number): void {
    const chunk = this.#chunk;
    const at = this.#end;
    chunk[at] = 0;
    chunk[at + 1] = length >>> 24;
    chunk[at + 2] = (length >>> 16) & 0xff;
    chunk[at + 3] = (length >>> 8) & 0xff;
    chunk[at + 4] = length & 0xff;
    this.#end = at + PREFIX_BYTES;
  }

  #varint(value: number): void {
    const chunk = this.#chunk;
    let at = this.#end;
    while (value >= 0x80) {
      chunk[at++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    chunk[at++] = value;
    this.#end = at;
  }

  /**
   * Makes room for `bytes` more bytes after the ones added, moving the
   * untaken bytes to a new buffer when the current one is too full.
   */
  #reserve(bytes: number): void {
    if (this.#end + bytes <= this.#chunk.length) return;
    const untaken = this.#end - this.#start;
    const next = Buffer.allocUnsafe(
      Math.max(CHUNK_BYTES, untaken + bytes + FIXED_BYTES),
    );
    this.#chunk.copy(next, 0, this.#start, this.#end);
    this.#chunk = next;
    this.#start = 0;
    this.#end = untaken;
  }
}

/**
 * Writes `text` (of `bytes` UTF-8 bytes) at `at` as protobufjs writes it:
 * its own encoder for a string under 40 units, Buffer's for a longer one
 * (they differ only for a lone surrogate). Returns where it ends.
 */
function writeString(
  text: string,
  bytes: number,
  chunk: Buffer,
  at: number,
): number {
  if (bytes === text.length) {
    for (let i = 0; i < bytes; i++) chunk[at + i] = text.charCodeAt(i);
  } else if (text.length < 40) {
    protobuf.util.utf8.write(text, chunk, at);
  } else {
    chunk.write(text, at, bytes, "utf8");
  }
  return at + bytes;
}

/** A position in a message being read, and where the message ends. */
interface Reader {
  bytes: Buffer;
  at: number;
  end: number;
}

function readVarint(reader: Reader): number {
  const { bytes, end } = reader;
  let value = 0;
  for (let shift = 0; shift < 70; shift += 7) {
    if (reader.at >= end) throw new RangeError("Index out of range");
    const byte = bytes[reader.at++]!;
    // As protobufjs's uint32: the bits past the 32nd are dropped.
    if (shift < 32) value |= (byte & 0x7f) << shift;
    if (byte < 0x80) return value >>> 0;
  }
  throw new Error("Invalid varint encoding");
}

/** Reads a length prefix and returns where the bytes it counts end. */
function readLength(reader: Reader): number {
  const length = readVarint(reader);
  const end = reader.at + length;
  if (end > reader.end) throw new RangeError("Index out of range");
  return end;
}

function readString(reader: Reader): string {
  const end = readLength(reader);
  const { bytes, at } = reader;
  reader.at = end;
  for (let i = at; i < end; i++) {
    if (bytes[i]! >= 0x80) return bytes.toString("utf8", at, end);
  }
  return bytes.toString("latin1", at, end);
}

/** Skips a field of wire type `type`, as protobufjs does. */
function skipField(reader: Reader, type: number): void {
  switch (type) {
    case 0:
      readVarint(reader);
      return;
    case 1:
      reader.at += 8;
      break;
    case 2:
      reader.at = readLength(reader);
      return;
    case 3:
      for (let tag = readVarint(reader); (tag & 7) !== 4;) {
        skipField(reader, tag & 7);
        tag = readVarint(reader);
      }
      return;
    case 5:
      reader.at += 4;
      break;
    default:
      throw new Error(`Invalid wire type ${type}`);
  }
  if (reader.at > reader.end) throw new RangeError("Index out of range");
}

/**
 * Reads the fields of a message of `Reply` (from a length prefix), calling
 * `field` with the number of each known one and skipping the others.
 */
function readMessage(
  reader: Reader,
  known: number,
  field: (number: number) => void,
): void {
  const outer = reader.end;
  reader.end = readLength(reader);
  while (reader.at < reader.end) {
    const tag = readVarint(reader);
    const number = tag >>> 3;
    if (number >= 1 && number <= known) field(number);
    else skipField(reader, tag & 7);
  }
  reader.end = outer;
}

/** The value of a message whose one field is a bool (false if absent). */
function readFlag(reader: Reader): boolean {
  let value = false;
  readMessage(reader, 1, () => value = readVarint(reader) !== 0);
  return value;
}

/** A `PeekResponse` or `PopResponse`. */
function readItem(reader: Reader, pop: boolean): ItemResponse {
  const response: ItemResponse = pop ? { receipt: "", delivery_count: 0 } : {};
  readMessage(reader, pop ? 3 : 1, (number) => {
    if (number === 1) response.item = readString(reader);
    else if (number === 2) response.receipt = readString(reader);
    else response.delivery_count = readVarint(reader);
  });
  return response;
}

/** Two numbered fields: field 1 read by `one`, field 2 by `two`. */
function readPair(
  reader: Reader,
  one: () => void,
  two: () => void,
): void {
  readMessage(reader, 2, (number) => number === 1 ? one() : two());
}

/**
 * Decodes the `Reply` in `bytes` from `start` to `end` as proto-loader's
 * `responseDeserialize` does: defaults filled in, `result` naming the field
 * set (the last in declaration order if several are).
 *
 * @throws {RangeError} when a field runs past the end of the message
 */
export function decodeReply(bytes: Buffer, start: number, end: number): Reply {
  const reader: Reader = { bytes, at: start, end };
  const reply: Reply = {};
  let result = 0;
  while (reader.at < end) {
    const tag = readVarint(reader);
    const number = tag >>> 3;
    switch (number) {
      case 1:
        reply.put = { added: readFlag(reader) };
        break;
      case 2:
        reply.peek = readItem(reader, false);
        break;
      case 3:
        reply.pop = readItem(reader, true);
        break;
      case 4: {
        const size = { size: 0, leased: 0 };
        readPair(
          reader,
          () => size.size = readVarint(reader),
          () => size.leased = readVarint(reader),
        );
        reply.size = size;
        break;
      }
      case 5: {
        const error = { code: 0, message: "" };
        readPair(
          reader,
          () => error.code = readVarint(reader),
          () => error.message = readString(reader),
        );
        reply.error = error;
        break;
      }
      case 6:
        reply.ack = { acked: readFlag(reader) };
        break;
      case 7:
        reply.release = { released: readFlag(reader) };
        break;
      case 8:
        reply.extend = { extended: readFlag(reader) };
        break;
      default:
        skipField(reader, tag & 7);
        continue;
    }
    result = Math.max(result, number);
  }
  const name = RESULTS[result - 1];
  if (name !== undefined) reply.result = name;
  return reply;
}

/** The names of `Reply`'s fields, by field number minus one. */
const RESULTS = [
  "put",
  "peek",
  "pop",
  "size",
  "error",
  "ack",
  "release",
  "extend",
] as const;
