import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { frameMessage } from "./grpc_framing.ts";
import { type Command, queueServiceDefinition, type Reply } from "./proto.ts";
import { CommandWriter, decodeReply } from "./session_codec.ts";

const SESSION = queueServiceDefinition().Session;

/** Strings that test each branch of the encoders: ASCII, UTF-8, lone surrogates. */
const STRINGS = [
  "",
  "item-1",
  "é",
  "😀",
  "a".repeat(39),
  "a".repeat(40),
  "é😀".repeat(30),
  "x\ud800y",
  "\udc00",
  "\ud800".repeat(45),
  "z".repeat(200_000),
];

const NUMBERS = [
  undefined,
  0,
  1,
  127,
  128,
  16_383,
  16_384,
  3_600_000,
  2 ** 32 - 1,
];

function commands(): Command[] {
  const all: Command[] = [{}, { peek: {} }, { size: {} }];
  for (const text of STRINGS) {
    all.push({ ack: { receipt: text } }, { release: { receipt: text } });
    for (const number of NUMBERS) {
      all.push(
        number === undefined
          ? { put: { item: text } }
          : { put: { item: text, wait_ms: number } },
        { extend: { receipt: text, lease_ms: number ?? 0 } },
      );
    }
  }
  for (const wait of NUMBERS) {
    for (const lease of NUMBERS) {
      all.push({
        pop: {
          ...(wait === undefined ? {} : { wait_ms: wait }),
          ...(lease === undefined ? {} : { lease_ms: lease }),
        },
      });
    }
  }
  return all;
}

Deno.test("CommandWriter writes each command framed as proto-loader serializes it, in one buffer per take", () => {
  const writer = new CommandWriter();
  const all = commands();
  for (const command of all) writer.add(command);
  const expected = Buffer.concat(
    all.map((command) => frameMessage(SESSION.requestSerialize(command))),
  );
  assert.deepEqual(writer.take(), expected);
  assert.equal(writer.take(), undefined);
  writer.add({ size: {} });
  writer.clear();
  assert.equal(writer.take(), undefined);
  writer.add({ peek: {} });
  assert.deepEqual(
    writer.take(),
    frameMessage(SESSION.requestSerialize({ peek: {} })),
  );
});

Deno.test("CommandWriter never writes over bytes it has handed out", () => {
  const writer = new CommandWriter();
  const taken: [Buffer, Buffer][] = [];
  for (let i = 0; i < 5000; i++) {
    const command = {
      put: { item: `item-${i}-${"é".repeat(i % 50)}`, wait_ms: i },
    };
    writer.add(command);
    const bytes = writer.take()!;
    taken.push([bytes, frameMessage(SESSION.requestSerialize(command))]);
  }
  for (const [bytes, expected] of taken) assert.deepEqual(bytes, expected);
});

/** What proto-loader decodes, without its marker of a set optional field. */
function expectedReply(bytes: Buffer): Reply {
  const reply = SESSION.responseDeserialize(bytes) as
    & Reply
    & Record<string, unknown>;
  for (const part of [reply.peek, reply.pop]) {
    if (part !== undefined) delete (part as Record<string, unknown>)["_item"];
  }
  return reply;
}

Deno.test("decodeReply decodes every reply as proto-loader deserializes it", () => {
  const replies: Reply[] = [
    {},
    { put: { added: true } },
    { put: { added: false } },
    { peek: {} },
    { pop: {} },
    { size: { size: 0, leased: 0 } },
    { size: { size: 2 ** 32 - 1, leased: 7 } },
    { error: { code: 3, message: 'Invalid "x": é' } },
    { ack: { acked: true } },
    { release: { released: false } },
    { extend: { extended: true } },
  ];
  for (const text of STRINGS) {
    replies.push(
      { peek: { item: text } },
      { pop: { item: text } },
      { pop: { item: text, receipt: `r-${text}`, delivery_count: 300 } },
      { error: { code: 9, message: text } },
    );
  }
  for (const reply of replies) {
    const bytes = Buffer.from(SESSION.responseSerialize(reply));
    const framed = Buffer.concat([
      Buffer.from([1, 2, 3]),
      bytes,
      Buffer.from([4]),
    ]);
    assert.deepEqual(
      decodeReply(framed, 3, 3 + bytes.length),
      expectedReply(bytes),
      JSON.stringify(reply).slice(0, 200),
    );
  }
});

Deno.test("decodeReply skips unknown fields and takes the last of repeated ones, as proto-loader does", () => {
  const cases = [
    // An unknown varint (field 9), fixed64 (10), bytes (11), fixed32 (12), then put.
    [
      0x48,
      0x96,
      0x01,
      0x51,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      0x5a,
      2,
      9,
      9,
      0x65,
      1,
      2,
      3,
      4,
      0x0a,
      2,
      8,
      1,
    ],
    // An unknown field inside a SizeResponse, and size given twice.
    [0x22, 8, 0x08, 5, 0x18, 0x01, 0x08, 6, 0x10, 2],
    // Two different answers: the later field names the result.
    [0x0a, 2, 8, 1, 0x22, 2, 8, 4],
    // An unknown group (field 13) before a peek.
    [0x6b, 0x08, 1, 0x6c, 0x12, 3, 0x0a, 1, 0x41],
  ];
  for (const bytes of cases) {
    const buffer = Buffer.from(bytes);
    assert.deepEqual(
      decodeReply(buffer, 0, buffer.length),
      expectedReply(buffer),
    );
  }
  assert.throws(() => decodeReply(Buffer.from([0x0a, 5, 8]), 0, 3), RangeError);
});
