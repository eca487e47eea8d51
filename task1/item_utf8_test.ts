import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  checkingItemUtf8,
  commandItemIsUtf8,
  itemNotUtf8,
  putItemIsUtf8,
} from "./item_utf8.ts";
import { queueServiceDefinition } from "./proto.ts";

/** A length-delimited field 1 holding `value`. */
function field1(value: number[]): number[] {
  return [0x0a, value.length, ...value];
}

const VALID = [...new TextEncoder().encode("job1 é😀")];
const INVALID = [
  [0x41, 0xff, 0x42],
  [0xc3],
  [0xed, 0xa0, 0x80],
  [0xc0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
];

Deno.test("putItemIsUtf8 refuses exactly the bytes a fatal TextDecoder refuses", () => {
  const fatal = new TextDecoder("utf-8", { fatal: true });
  for (const item of [VALID, [], ...INVALID]) {
    let decodes = true;
    try {
      fatal.decode(Uint8Array.from(item));
    } catch {
      decodes = false;
    }
    assert.equal(
      putItemIsUtf8(Uint8Array.from(field1(item))),
      decodes,
      String(item),
    );
  }
});

Deno.test("putItemIsUtf8 reads past wait_ms and checks every occurrence of item", () => {
  const waitMs = [0x10, 0xe8, 0x07]; // wait_ms = 1000
  assert.ok(putItemIsUtf8(Uint8Array.from([...waitMs, ...field1(VALID)])));
  assert.ok(
    !putItemIsUtf8(
      Uint8Array.from([...field1(INVALID[0]!), ...waitMs, ...field1(VALID)]),
    ),
  );
  assert.ok(putItemIsUtf8(Uint8Array.from(waitMs)), "no item: nothing wrong");
});

Deno.test("commandItemIsUtf8 checks the item of the Command's put", () => {
  assert.ok(commandItemIsUtf8(Uint8Array.from(field1(field1(VALID)))));
  assert.ok(!commandItemIsUtf8(Uint8Array.from(field1(field1(INVALID[1]!)))));
  const peek = [0x12, 0x00];
  assert.ok(commandItemIsUtf8(Uint8Array.from(peek)));
});

Deno.test("checkingItemUtf8 marks a Put and a Session put whose item is not UTF-8, and only those", () => {
  const { Put, Session } = checkingItemUtf8(queueServiceDefinition());
  const good = Put.requestDeserialize(Buffer.from(field1(VALID)));
  assert.equal(good.item, "job1 é😀");
  assert.ok(!itemNotUtf8(good));
  const bad = Put.requestDeserialize(Buffer.from(field1(INVALID[0]!)));
  assert.equal(bad.item, "A\ufffdB", "protobufjs alone would take it");
  assert.ok(itemNotUtf8(bad));
  const command = Session.requestDeserialize(
    Buffer.from(field1(field1(INVALID[0]!))),
  );
  assert.ok(command.put !== undefined && itemNotUtf8(command.put));
  const fine = Session.requestDeserialize(Buffer.from(field1(field1(VALID))));
  assert.ok(fine.put !== undefined && !itemNotUtf8(fine.put));
});
