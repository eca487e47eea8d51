/**
 * The server's check that every item it receives is valid UTF-8. protobufjs
 * decodes a `string` field leniently (a byte that is not UTF-8 becomes
 * U+FFFD), so the check reads the item's raw bytes in the request, before
 * they are lost, and marks a request whose item fails it; the Put operation
 * then refuses it (INVALID_ARGUMENT), unary and in a Session alike. The wire
 * contract is unchanged.
 *
 * @module
 */
import { isUtf8 } from "node:buffer";
import type { PutRequest, QueueServiceDefinition } from "./proto.ts";

/** The mark on a `PutRequest` whose item's bytes are not valid UTF-8. */
const NOT_UTF8 = Symbol("item not valid UTF-8");

type MarkedPutRequest = PutRequest & { [NOT_UTF8]?: true };

/** `PutRequest.item` and `Command.put` are both field 1. */
const ITEM_FIELD = 1;

/** Protobuf's wire types, by number. */
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/**
 * Whether the Put request's item was received as bytes that are not valid
 * UTF-8 (checked as strictly as a fatal `TextDecoder`: no stray, cut short
 * or over-long sequences, no UTF-16 surrogates).
 */
export function itemNotUtf8(request: PutRequest): boolean {
  return (request as MarkedPutRequest)[NOT_UTF8] === true;
}

/**
 * Returns `definition` with the request decoders of Put and Session replaced
 * by ones that decode as before and then mark a Put whose item's raw bytes
 * are not valid UTF-8 (see {@linkcode itemNotUtf8}). For the server only.
 */
export function checkingItemUtf8(
  definition: QueueServiceDefinition,
): QueueServiceDefinition {
  const { Put, Session } = definition;
  return {
    ...definition,
    Put: {
      ...Put,
      requestDeserialize(bytes) {
        const request = Put.requestDeserialize(bytes);
        if (!putItemIsUtf8(bytes)) markNotUtf8(request);
        return request;
      },
    },
    Session: {
      ...Session,
      requestDeserialize(bytes) {
        const command = Session.requestDeserialize(bytes);
        if (command.put !== undefined && !commandItemIsUtf8(bytes)) {
          markNotUtf8(command.put);
        }
        return command;
      },
    },
  };
}

function markNotUtf8(request: PutRequest): void {
  (request as MarkedPutRequest)[NOT_UTF8] = true;
}

/**
 * Whether every `item` in the encoded `PutRequest` (a repeated field is
 * allowed; protobufjs keeps the last) is valid UTF-8.
 */
export function putItemIsUtf8(message: Uint8Array): boolean {
  return lengthDelimited(message, ITEM_FIELD).every((item) => isUtf8(item));
}

/** Whether the item of every `put` in the encoded `Command` is valid UTF-8. */
export function commandItemIsUtf8(message: Uint8Array): boolean {
  return lengthDelimited(message, ITEM_FIELD).every(putItemIsUtf8);
}

/**
 * The values of every length-delimited occurrence of field `field` in the
 * encoded protobuf `message`. Stops at the first malformed byte: the caller
 * has decoded the message already, so it is well formed.
 */
function lengthDelimited(message: Uint8Array, field: number): Uint8Array[] {
  const values: Uint8Array[] = [];
  let at = 0;
  const varint = (): number | undefined => {
    let value = 0;
    for (let shift = 0; shift < 70 && at < message.length; shift += 7) {
      const byte = message[at++]!;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    return undefined;
  };
  while (at < message.length) {
    const key = varint();
    if (key === undefined) break;
    const wireType = key % 8;
    if (wireType === VARINT) {
      if (varint() === undefined) break;
    } else if (wireType === FIXED64) {
      at += 8;
    } else if (wireType === FIXED32) {
      at += 4;
    } else if (wireType === LENGTH_DELIMITED) {
      const length = varint();
      if (length === undefined || at + length > message.length) break;
      if (Math.floor(key / 8) === field) {
        values.push(message.subarray(at, at + length));
      }
      at += length;
    } else {
      break; // groups: never in queue.proto
    }
  }
  return values;
}
