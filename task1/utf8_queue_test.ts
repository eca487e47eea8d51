import assert from "node:assert/strict";
import { SLAB_BYTES, Utf8Queue } from "./utf8_queue.ts";

Deno.test("Utf8Queue refuses a put when full and hands items out in order", () => {
  const queue = new Utf8Queue(3);
  assert.equal(queue.capacity, 3);
  assert.deepEqual([queue.put("A"), queue.put("B"), queue.put("C")], [
    true,
    true,
    true,
  ]);
  assert.equal(queue.put("D"), false);
  assert.equal(queue.size, 3);
  assert.equal(queue.peek(), "A");
  assert.deepEqual([queue.pop(), queue.pop(), queue.pop()], ["A", "B", "C"]);
  assert.equal(queue.pop(), undefined);
  assert.equal(queue.peek(), undefined);
});

Deno.test("Utf8Queue counts the exact UTF-8 bytes it holds", () => {
  const queue = new Utf8Queue(10);
  queue.put("");
  queue.put("é");
  queue.put("😀");
  queue.put("abc");
  assert.equal(queue.bytes, 0 + 2 + 4 + 3);
  assert.equal(queue.pop(), "");
  assert.equal(queue.bytes, 9);
  assert.equal(queue.pop(), "é");
  assert.equal(queue.pop(), "😀");
  assert.equal(queue.pop(), "abc");
  assert.equal(queue.bytes, 0);
});

Deno.test("Utf8Queue keeps empty items, a leading byte-order mark and control characters as they were", () => {
  const queue = new Utf8Queue(10);
  const items = ["", "\uFEFFbom", "\u0000\u0001\n\x1b[31m", "", "\u{10FFFF}"];
  for (const item of items) assert.ok(queue.put(item));
  assert.deepEqual(items.map(() => queue.pop()), items);
});

Deno.test("Utf8Queue refuses a string with a lone surrogate and stores nothing", () => {
  const queue = new Utf8Queue(10);
  assert.throws(() => queue.put("a\uD800b"), RangeError);
  assert.throws(() => queue.put("\uDC00"), RangeError);
  assert.equal(queue.size, 0);
  assert.equal(queue.bytes, 0);
  assert.ok(queue.put("\uD83D\uDE00"));
  assert.equal(queue.pop(), "😀");
});

Deno.test("Utf8Queue moves to a new slab when an item does not fit in the rest of one, and back", () => {
  const queue = new Utf8Queue(1000);
  // 4-byte characters across the slab's end: 100 items of 1000 characters
  // (4000 bytes) do not divide the slab, so items skip a slab's rest.
  const items = Array.from(
    { length: 100 },
    (_, i) => String.fromCodePoint(0x1f600 + (i % 50)).repeat(1000),
  );
  for (const item of items) assert.ok(queue.put(item));
  assert.equal(queue.bytes, 400_000);
  assert.ok(queue.slabBytes >= 2 * SLAB_BYTES);
  for (const item of items) assert.equal(queue.pop(), item);
  assert.equal(queue.size, 0);
  assert.ok(queue.slabBytes <= SLAB_BYTES, "one slab kept for reuse at most");
});

Deno.test("Utf8Queue holds items of 1 MiB in slabs of their own and releases them", () => {
  const queue = new Utf8Queue(10);
  const big = "x".repeat(1024 * 1024);
  const bigUtf8 = "😀".repeat(262_144); // 1 MiB of 4-byte characters
  assert.ok(queue.put("small"));
  assert.ok(queue.put(big));
  assert.ok(queue.put(""));
  assert.ok(queue.put(bigUtf8));
  assert.ok(queue.put("after"));
  assert.equal(queue.bytes, 5 + 2 * 1024 * 1024 + 5);
  assert.equal(queue.pop(), "small");
  assert.equal(queue.pop(), big);
  assert.equal(queue.pop(), "");
  assert.equal(queue.pop(), bigUtf8);
  assert.equal(queue.pop(), "after");
  assert.ok(queue.slabBytes <= SLAB_BYTES);
});

Deno.test("Utf8Queue filled and drained over and over does not grow", () => {
  const queue = new Utf8Queue(100_000);
  let peak = 0;
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 100_000; i++) queue.put(`item-${round}-${i}`);
    peak = Math.max(peak, queue.slabBytes);
    if (round > 0) assert.ok(queue.slabBytes <= peak);
    for (let i = 0; i < 100_000; i++) {
      assert.equal(queue.pop(), `item-${round}-${i}`);
    }
  }
  const filled = queue.slabBytes;
  assert.ok(filled <= SLAB_BYTES);
});

Deno.test("Utf8Queue gives the same answers as a plain array over 100,000 random operations", () => {
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const alphabet = ["a", "é", "€", "😀", "\n", "\u0000", " "];
  const randomItem = () => {
    const roll = random();
    const length = roll < 0.002
      ? Math.floor(random() * 100_000)
      : Math.floor(random() * 40);
    let item = "";
    for (let i = 0; i < length; i++) {
      item += alphabet[Math.floor(random() * alphabet.length)];
    }
    return item;
  };
  const capacity = 500;
  const queue = new Utf8Queue(capacity);
  const model: string[] = [];
  let bytes = 0;
  const encoder = new TextEncoder();
  for (let op = 0; op < 100_000; op++) {
    const roll = random();
    if (roll < 0.5) {
      const item = randomItem();
      const added = model.length < capacity;
      assert.equal(queue.put(item), added);
      if (added) {
        model.push(item);
        bytes += encoder.encode(item).length;
      }
    } else if (roll < 0.85) {
      const expected = model.shift();
      if (expected !== undefined) bytes -= encoder.encode(expected).length;
      assert.equal(queue.pop(), expected);
    } else {
      assert.equal(queue.peek(), model[0]);
    }
    assert.equal(queue.size, model.length);
    assert.equal(queue.bytes, bytes);
  }
});

/** `items` as `Utf8Queue.putUtf8` takes them: their bytes and lengths. */
function utf8Batch(items: string[]): [Uint8Array, Uint32Array] {
  const encoded = items.map((item) => new TextEncoder().encode(item));
  const bytes = new Uint8Array(encoded.reduce((sum, b) => sum + b.length, 0));
  let at = 0;
  for (const item of encoded) {
    bytes.set(item, (at += item.length) - item.length);
  }
  return [bytes, Uint32Array.from(encoded, (item) => item.length)];
}

Deno.test("Utf8Queue.putUtf8 takes a batch of UTF-8 items after and before puts, across slabs and in slabs of their own", () => {
  const queue = new Utf8Queue(1_000_000);
  const big = "é".repeat(SLAB_BYTES); // 512 KiB: a slab of its own
  const items = [
    "",
    ...Array.from({ length: 60_000 }, (_, i) => `item-${i}-😀`),
    "",
    big,
    "\uFEFFafter",
    "",
  ];
  assert.ok(queue.put("first"));
  assert.equal(queue.putUtf8(...utf8Batch(items)), items.length);
  assert.ok(queue.put("last"));
  const all = ["first", ...items, "last"];
  assert.equal(queue.size, all.length);
  assert.equal(queue.bytes, utf8Batch(all)[0].length);
  for (const item of all) assert.equal(queue.pop(), item);
  assert.equal(queue.size, 0);
  assert.ok(queue.slabBytes <= SLAB_BYTES, "one slab kept for reuse at most");
});

Deno.test("Utf8Queue.putUtf8 takes items up to the capacity and says how many", () => {
  const queue = new Utf8Queue(3);
  assert.ok(queue.put("a"));
  assert.equal(queue.putUtf8(...utf8Batch(["b", "c", "d"])), 2);
  assert.equal(queue.putUtf8(...utf8Batch(["e"])), 0);
  assert.deepEqual([queue.pop(), queue.pop(), queue.pop()], ["a", "b", "c"]);
  assert.equal(queue.putUtf8(new Uint8Array(0), []), 0);
});

Deno.test("Utf8Queue.putUtf8 refuses a batch with an item that is not UTF-8, or lengths that do not add up, and stores nothing", () => {
  const queue = new Utf8Queue(10);
  const [bytes] = utf8Batch(["a😀c"]);
  // "a", the 4-byte character cut after its third byte, then its last byte
  // and "c": the batch as a whole is valid UTF-8, its items are not.
  assert.throws(() => queue.putUtf8(bytes, [1, 3, 2]), /Invalid item 1/);
  assert.throws(() => queue.putUtf8(bytes, [1, 3]), RangeError);
  // An encoded lone surrogate (WTF-8) is not UTF-8 either.
  assert.throws(
    () => queue.putUtf8(new Uint8Array([0xed, 0xa0, 0x80]), [3]),
    RangeError,
  );
  assert.equal(queue.size, 0);
  assert.equal(queue.bytes, 0);
});

Deno.test("Utf8Queue.putUtf8 mixed with put and pop gives the same answers as a plain array", () => {
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const randomItem = () => {
    const length = random() < 0.01
      ? Math.floor(random() * 100_000)
      : Math.floor(random() * 30);
    return "aé😀 ".repeat(Math.ceil(length / 4)).slice(0, length)
      .replace(/[\uD800-\uDBFF]$/, "");
  };
  const capacity = 2_000;
  const queue = new Utf8Queue(capacity);
  const model: string[] = [];
  for (let op = 0; op < 3_000; op++) {
    const roll = random();
    if (roll < 0.2) {
      const batch = Array.from(
        { length: Math.floor(random() * 200) },
        randomItem,
      );
      const taken = Math.min(batch.length, capacity - model.length);
      assert.equal(queue.putUtf8(...utf8Batch(batch)), taken);
      model.push(...batch.slice(0, taken));
    } else if (roll < 0.4) {
      const item = randomItem();
      assert.equal(queue.put(item), model.length < capacity);
      if (model.length < capacity) model.push(item);
    } else {
      assert.equal(queue.pop(), model.shift());
    }
    assert.equal(queue.size, model.length);
  }
  assert.equal(queue.bytes, utf8Batch(model)[0].length);
  for (const item of [...model]) assert.equal(queue.pop(), item);
});
