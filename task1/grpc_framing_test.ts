import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  frameMessage,
  frameMessages,
  MessageDecoder,
} from "./grpc_framing.ts";

/** The framed bytes of `texts`, one message each, back to back. */
function framed(...texts: string[]): Buffer {
  return Buffer.concat(texts.map((text) => frameMessage(Buffer.from(text))));
}

/** The messages `decoder` returns for `chunks`, as text. */
function decode(decoder: MessageDecoder, chunks: Buffer[]): string[] {
  return chunks.flatMap((chunk) => decoder.push(chunk))
    .map((message) => message.toString());
}

Deno.test("frameMessage writes flag 0, the big-endian length and the bytes", () => {
  assert.deepEqual(
    [...frameMessage(Buffer.from("abc"))],
    [0, 0, 0, 0, 3, 0x61, 0x62, 0x63],
  );
  assert.deepEqual([...frameMessage(new Uint8Array(0))], [0, 0, 0, 0, 0]);
});

Deno.test("frameMessages frames each message as frameMessage does, back to back in one buffer", () => {
  const messages = ["one", "", "x".repeat(70_000)].map((t) => Buffer.from(t));
  assert.deepEqual(
    frameMessages(messages),
    Buffer.concat(messages.map((message) => frameMessage(message))),
  );
  assert.equal(frameMessages([]).length, 0);
});

Deno.test("message decoder returns every message of one chunk in order, empty ones included", () => {
  const decoder = new MessageDecoder();
  assert.deepEqual(decode(decoder, [framed("one", "", "three")]), [
    "one",
    "",
    "three",
  ]);
});

Deno.test("message decoder reassembles messages split at every byte, in the prefix and in the body", () => {
  const bytes = framed("first", "second message", "x");
  for (let cut = 1; cut < bytes.length; cut++) {
    const decoder = new MessageDecoder();
    assert.deepEqual(
      decode(decoder, [bytes.subarray(0, cut), bytes.subarray(cut)]),
      ["first", "second message", "x"],
      `split at byte ${cut}`,
    );
  }
});

Deno.test("message decoder returns nothing until a message is whole, then only that message", () => {
  const decoder = new MessageDecoder();
  const bytes = framed("hello", "world");
  const single = [...bytes].map((byte) => decoder.push(Buffer.of(byte)));
  const returned = single.flatMap((messages, at) =>
    messages.map((message) => ({ at, text: message.toString() }))
  );
  assert.deepEqual(returned, [
    { at: 9, text: "hello" },
    { at: 19, text: "world" },
  ]);
});

Deno.test("message decoder accepts a message at its limit and fails one byte past it as grpc-js words it", () => {
  const decoder = new MessageDecoder({ maxMessageBytes: 4 });
  assert.deepEqual(decode(decoder, [framed("abcd")]), ["abcd"]);
  assert.throws(
    () => decoder.push(framed("abcde")),
    new RangeError("Received message larger than max (5 vs 4)"),
  );
});

Deno.test("message decoder fails a message over 4 MiB from its prefix alone, before buffering its bytes", () => {
  const decoder = new MessageDecoder();
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(DEFAULT_MAX_MESSAGE_BYTES + 1, 1);
  assert.deepEqual(decoder.push(framed("before")), [Buffer.from("before")]);
  assert.deepEqual(decoder.push(prefix.subarray(0, 3)), []);
  assert.throws(
    () => decoder.push(prefix.subarray(3)),
    new RangeError("Received message larger than max (4194305 vs 4194304)"),
  );
});
