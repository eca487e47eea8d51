import assert from "node:assert/strict";
import { queueOperations } from "./operations.ts";
import { Buffer } from "node:buffer";
import { checkingItemUtf8 } from "./item_utf8.ts";
import { queueServiceDefinition } from "./proto.ts";
import { MemoryStore } from "./store/memory.ts";

const MIB = 1024 * 1024;

Deno.test("queue operations collect garbage after 32 MiB of accepted large items, counting Puts answered False but never refused ones", async () => {
  let collections = 0;
  const operations = queueOperations(new MemoryStore(1), {
    maxItemBytes: MIB,
    collectGarbage: () => collections++,
  });
  const signal = new AbortController().signal;
  const large = "x".repeat(MIB);
  // 64 MiB of refused Puts: too large, or a wait_ms that is too long.
  for (let i = 0; i < 32; i++) {
    await assert.rejects(
      operations.put({ item: large + "x" }, signal),
      RangeError,
    );
    await assert.rejects(
      operations.put({ item: large, wait_ms: 2 ** 31 }, signal),
      RangeError,
    );
  }
  assert.equal(collections, 0, "refused Puts never force a collection");
  // 32 MiB accepted: the first is added, the rest find the queue full.
  const added: boolean[] = [];
  for (let i = 0; i < 32; i++) {
    added.push((await operations.put({ item: large }, signal)).added);
  }
  assert.deepEqual(added, [true, ...Array(31).fill(false)]);
  assert.equal(collections, 1);
});

Deno.test("queue operations refuse a Put whose item was not valid UTF-8 on the wire", async () => {
  const { Put } = checkingItemUtf8(queueServiceDefinition());
  const operations = queueOperations(new MemoryStore(3));
  const signal = new AbortController().signal;
  const request = Put.requestDeserialize(
    Buffer.from([0x0a, 0x02, 0x41, 0xff]),
  );
  await assert.rejects(operations.put(request, signal), {
    name: "RangeError",
    message:
      "Invalid item: not valid UTF-8 (a protobuf string holds UTF-8 text only)",
  });
  assert.equal((await operations.size({}, signal)).size, 0);
});
