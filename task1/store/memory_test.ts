import assert from "node:assert/strict";
import { MemoryStore } from "./memory.ts";
import { StoreClosedError } from "./mod.ts";

/** Lets every pending promise callback run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("MemoryStore without waiting behaves as the bounded queue: FIFO, false when full, undefined when empty", async () => {
  const store = new MemoryStore(2);
  assert.equal(await store.pop(), undefined);
  assert.equal(await store.put("A"), true);
  assert.equal(await store.put("B"), true);
  assert.equal(await store.put("C"), false);
  assert.equal(await store.peek(), "A");
  assert.equal(await store.size(), 2);
  assert.equal(await store.pop(), "A");
  assert.equal(await store.pop(), "B");
  assert.equal(await store.pop(), undefined);
});

Deno.test("MemoryStore counts UTF-8 bytes and refuses a put past maxBytes like a full queue", async () => {
  const store = new MemoryStore(100, { maxBytes: 10 });
  assert.equal(await store.put("éééé"), true, "8 bytes");
  assert.equal(await store.put("abc"), false, "8 + 3 > 10");
  assert.equal(await store.put("ab"), true, "exactly 10");
  assert.equal(store.status().bytes, 10);
  assert.equal(await store.pop(), "éééé");
  assert.equal(store.status().bytes, 2);
  assert.equal(await store.put("abcdefgh"), true);
  assert.equal(
    await store.put("x".repeat(11), { waitMs: 1000 }),
    false,
    "never fits: answers at once",
  );
  assert.equal(store.status().waitingPuts, 0);
});

Deno.test("MemoryStore serves waiting pops in the order they started waiting, handing items straight to them", async () => {
  const store = new MemoryStore(10);
  const pops = [1, 2, 3].map(() => store.pop({ waitMs: 60_000 }));
  assert.equal(store.status().waitingPops, 3);
  for (const item of ["x", "y", "z"]) assert.equal(await store.put(item), true);
  assert.deepEqual(await Promise.all(pops), ["x", "y", "z"]);
  assert.equal(await store.size(), 0, "handed over, never queued");
});

Deno.test("MemoryStore serves waiting puts in order, and a later put that does not wait never overtakes them", async () => {
  const store = new MemoryStore(1);
  assert.equal(await store.put("first"), true);
  const waiting = ["w1", "w2"].map((item) =>
    store.put(item, { waitMs: 60_000 })
  );
  assert.equal(await store.put("impatient"), false, "must not overtake");
  assert.equal(store.status().waitingPuts, 2);
  assert.equal(await store.pop(), "first");
  assert.equal(await waiting[0], true);
  assert.equal(await store.put("impatient"), false, "w2 still waits");
  assert.equal(await store.pop(), "w1");
  assert.equal(await waiting[1], true);
  assert.equal(await store.pop(), "w2");
  assert.equal(await store.put("impatient"), true);
});

Deno.test("MemoryStore: a put waiting for bytes holds up a smaller later put that would fit", async () => {
  const store = new MemoryStore(10, { maxBytes: 10 });
  assert.equal(await store.put("12345678"), true);
  const big = store.put("123456", { waitMs: 60_000 });
  const small = store.put("1", { waitMs: 60_000 });
  assert.equal(await store.put("2"), false, "fits, but must not overtake");
  assert.equal(store.status().size, 1);
  assert.equal(store.status().waitingPuts, 2);
  assert.equal(await store.pop(), "12345678");
  assert.deepEqual(await Promise.all([big, small]), [true, true]);
  assert.deepEqual([await store.pop(), await store.pop()], ["123456", "1"]);
});

Deno.test("MemoryStore: a waiting pop whose time is up answers undefined and takes no later item", async () => {
  const store = new MemoryStore(10);
  assert.equal(await store.pop({ waitMs: 20 }), undefined);
  assert.equal(store.status().waitingPops, 0);
  assert.equal(await store.put("later"), true);
  assert.equal(await store.size(), 1);
});

Deno.test("MemoryStore: a waiting put whose time is up answers false and adds nothing later", async () => {
  const store = new MemoryStore(1);
  await store.put("full");
  assert.equal(await store.put("late", { waitMs: 20 }), false);
  assert.equal(store.status().waitingPuts, 0);
  assert.equal(await store.pop(), "full");
  await settle();
  assert.equal(await store.size(), 0, "the given-up put added nothing");
});

Deno.test("MemoryStore: an aborted waiting pop rejects with the signal's reason and a later item goes to the next waiter", async () => {
  const store = new MemoryStore(10);
  const controller = new AbortController();
  const gone = store.pop({ waitMs: 60_000, signal: controller.signal });
  const next = store.pop({ waitMs: 60_000 });
  controller.abort();
  await assert.rejects(gone, (error: unknown) => {
    assert.ok(error instanceof DOMException);
    assert.equal(error.name, "AbortError");
    return true;
  });
  assert.equal(store.status().waitingPops, 1);
  await store.put("item");
  assert.equal(await next, "item");
});

Deno.test("MemoryStore: an aborted waiting put rejects, adds nothing, and frees its place for the next waiter", async () => {
  const store = new MemoryStore(1);
  await store.put("full");
  const controller = new AbortController();
  const gone = store.put("gone", { waitMs: 60_000, signal: controller.signal });
  const next = store.put("next", { waitMs: 60_000 });
  controller.abort();
  await assert.rejects(gone);
  assert.equal(await store.pop(), "full");
  assert.equal(await next, true);
  assert.equal(await store.pop(), "next");
  assert.equal(await store.pop(), undefined);
});

Deno.test("MemoryStore: when the first waiting put gives up, the puts behind it that fit go in at once", async () => {
  const store = new MemoryStore(10, { maxBytes: 10 });
  assert.equal(await store.put("12345678"), true);
  const controller = new AbortController();
  const big = store.put("123456", {
    waitMs: 60_000,
    signal: controller.signal,
  });
  const small = store.put("1", { waitMs: 60_000 });
  controller.abort();
  await assert.rejects(big);
  assert.equal(await small, true);
  assert.equal(store.status().size, 2);
  assert.equal(await store.put("2", { waitMs: 20 }), true, "room for one more");
});

Deno.test("MemoryStore: an already aborted signal is refused before anything happens", async () => {
  const store = new MemoryStore(1);
  const signal = AbortSignal.abort();
  await assert.rejects(store.put("x", { signal }));
  await assert.rejects(store.pop({ waitMs: 10, signal }));
  assert.equal(await store.size(), 0);
});

Deno.test("MemoryStore.close ends every waiter with StoreClosedError, leaves the queue as it was, and refuses later calls", async () => {
  const store = new MemoryStore(1);
  await store.put("kept");
  const put = store.put("never", { waitMs: 60_000 });
  const emptyStore = new MemoryStore(1);
  const pop = emptyStore.pop({ waitMs: 60_000 });
  await store.close();
  await emptyStore.close();
  await assert.rejects(put, StoreClosedError);
  await assert.rejects(pop, StoreClosedError);
  assert.deepEqual(store.status().size, 1);
  await assert.rejects(store.pop(), StoreClosedError);
});

Deno.test("MemoryStore holds 10,000 waiting pops, serves them in order, and 10,000 waiting puts likewise", async () => {
  const store = new MemoryStore(1);
  const pops = Array.from(
    { length: 10_000 },
    () => store.pop({ waitMs: 60_000 }),
  );
  assert.equal(store.status().waitingPops, 10_000);
  for (let i = 0; i < 10_000; i++) assert.equal(await store.put(`i${i}`), true);
  const popped = await Promise.all(pops);
  assert.deepEqual(popped, Array.from({ length: 10_000 }, (_, i) => `i${i}`));

  await store.put("head");
  const puts = Array.from(
    { length: 10_000 },
    (_, i) => store.put(`p${i}`, { waitMs: 60_000 }),
  );
  assert.equal(store.status().waitingPuts, 10_000);
  const order: string[] = [];
  for (let i = 0; i <= 10_000; i++) order.push((await store.pop())!);
  assert.deepEqual(await Promise.all(puts), puts.map(() => true));
  assert.deepEqual(order, [
    "head",
    ...Array.from({ length: 10_000 }, (_, i) => `p${i}`),
  ]);
});

Deno.test("MemoryStore bounds the bytes that waiting puts hold: past maxWaitingBytes a put answers false at once", async () => {
  const store = new MemoryStore(1, { maxWaitingBytes: 5 });
  await store.put("full");
  const waiting = store.put("abc", { waitMs: 60_000 });
  assert.equal(await store.put("def", { waitMs: 60_000 }), false);
  assert.equal(store.status().waitingPuts, 1);
  await store.pop();
  assert.equal(await waiting, true);
});
