import assert from "node:assert/strict";
import { BoundedQueue } from "./bounded_queue.ts";

Deno.test("BoundedQueue refuses a put when full and stores nothing", () => {
  const queue = new BoundedQueue<string>(3);
  assert.equal(queue.capacity, 3);
  assert.equal(queue.put("A"), true);
  assert.equal(queue.put("B"), true);
  assert.equal(queue.put("C"), true);
  assert.equal(queue.put("D"), false);
  assert.equal(queue.size, 3);
  assert.deepEqual([queue.pop(), queue.pop(), queue.pop()], ["A", "B", "C"]);
  assert.equal(queue.pop(), undefined);
});

Deno.test("BoundedQueue hands items out in the order they were put", () => {
  const queue = new BoundedQueue<number>(1000);
  for (let i = 0; i < 1000; i++) assert.ok(queue.put(i));
  for (let i = 0; i < 1000; i++) {
    assert.equal(queue.peek(), i);
    assert.equal(queue.pop(), i);
  }
  assert.equal(queue.size, 0);
});

Deno.test("BoundedQueue peek returns the head without removing it", () => {
  const queue = new BoundedQueue<string>(2);
  queue.put("A");
  queue.put("B");
  assert.equal(queue.peek(), "A");
  assert.equal(queue.peek(), "A");
  assert.equal(queue.size, 2);
});

Deno.test("BoundedQueue peek and pop return undefined when empty", () => {
  const queue = new BoundedQueue<string>(1);
  assert.equal(queue.peek(), undefined);
  assert.equal(queue.pop(), undefined);
  assert.equal(queue.size, 0);
  queue.put("");
  assert.equal(queue.peek(), "", "an empty string is an item, not emptiness");
  assert.equal(queue.pop(), "");
  assert.equal(queue.pop(), undefined);
});

Deno.test("BoundedQueue keeps FIFO order while the ring wraps around", () => {
  const queue = new BoundedQueue<number>(5);
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 100; round++) {
    while (queue.put(next)) next++;
    assert.equal(queue.size, 5);
    for (let i = 0; i < 3; i++) assert.equal(queue.pop(), expected++);
  }
});

Deno.test("BoundedQueue matches an array model through growth and shrinkage", () => {
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const capacity = 300;
  const queue = new BoundedQueue<number>(capacity);
  const model: number[] = [];
  let next = 0;
  for (let step = 0; step < 20_000; step++) {
    // Phases that mostly fill, then mostly drain, to grow and shrink the ring.
    const fillBias = Math.floor(step / 2000) % 2 === 0 ? 0.7 : 0.3;
    const roll = random();
    if (roll < fillBias) {
      const accepted = queue.put(next);
      assert.equal(accepted, model.length < capacity);
      if (accepted) model.push(next);
      next++;
    } else if (roll < fillBias + 0.05) {
      assert.equal(queue.peek(), model[0]);
    } else {
      assert.equal(queue.pop(), model.shift());
    }
    assert.equal(queue.size, model.length);
  }
});

Deno.test("BoundedQueue accepts a huge capacity without allocating it", () => {
  const queue = new BoundedQueue<string>(2 ** 32 - 1);
  assert.ok(queue.put("only"));
  assert.equal(queue.pop(), "only");
});

Deno.test("BoundedQueue rejects a capacity that is not an integer from 1", () => {
  for (const bad of [0, -1, 1.5, NaN, Infinity]) {
    assert.throws(() => new BoundedQueue(bad), RangeError);
  }
});
