import assert from "node:assert/strict";
import { type Journal, QueueEngine } from "./engine.ts";
import { type Leased, StoreFailedError } from "./mod.ts";
import { Utf8Queue } from "../utf8_queue.ts";

/** A journal that records what it is told and is always durable. */
class LogJournal implements Journal {
  readonly log: string[] = [];
  protected controller = new AbortController();
  get failed() {
    return this.controller.signal;
  }
  appended(seq: number, item: string) {
    this.log.push(`+${item}@${seq}`);
  }
  removed(seq: number) {
    this.log.push(`-${seq}`);
  }
  leased(seq: number, deliveryCount: number) {
    this.log.push(`~${seq}x${deliveryCount}`);
  }
  durable() {
    return Promise.resolve();
  }
  close() {
    return Promise.resolve();
  }
}

/** A journal whose batches the test makes durable (or fails) by hand. */
class ManualJournal extends LogJournal {
  #batch = ManualJournal.#newBatch();
  static #newBatch() {
    const batch = Promise.withResolvers<void>();
    batch.promise.catch(() => {});
    return batch;
  }
  override durable() {
    return this.#batch.promise;
  }
  commit() {
    this.#batch.resolve();
    this.#batch = ManualJournal.#newBatch();
  }
  fail() {
    const failure = new StoreFailedError("Cannot write: disk full");
    this.controller.abort(failure);
    this.#batch.reject(failure);
  }
}

/** Lets every pending promise callback run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("QueueEngine keeps every item given at start, past capacity, and refuses puts until there is room", async () => {
  const store = new QueueEngine(2, { items: ["a", "b", "c", "d"] });
  assert.equal(await store.size(), 4);
  assert.equal(await store.put("e"), false);
  assert.equal(await store.pop(), "a");
  assert.equal(await store.pop(), "b");
  assert.equal(await store.put("e"), false, "still 2 of 2");
  assert.equal(await store.pop(), "c");
  assert.equal(await store.put("e"), true);
  assert.deepEqual([await store.pop(), await store.pop()], ["d", "e"]);
});

Deno.test("QueueEngine with a journal decides at once but answers only once the journal is durable", async () => {
  const journal = new ManualJournal();
  const store = new QueueEngine(10, { journal });
  let answered = false;
  const put = store.put("a").then((added) => (answered = added));
  const pop = store.pop();
  assert.deepEqual(journal.log, ["+a@1", "-1"], "decided in arrival order");
  await settle();
  assert.equal(answered, false, "not before the commit");
  journal.commit();
  assert.equal(await put, true);
  assert.equal(await pop, "a");
});

Deno.test("QueueEngine whose journal fails answers nothing as done, fails its waiters and refuses later calls", async () => {
  const journal = new ManualJournal();
  const store = new QueueEngine(1, { journal });
  const put = store.put("a");
  const waitingPut = store.put("b", { waitMs: 60_000 });
  const emptyJournal = new ManualJournal();
  const empty = new QueueEngine(1, { journal: emptyJournal });
  const waitingPop = empty.pop({ waitMs: 60_000 });
  journal.fail();
  emptyJournal.fail();
  await assert.rejects(put, StoreFailedError);
  await assert.rejects(waitingPut, StoreFailedError);
  await assert.rejects(waitingPop, StoreFailedError);
  await assert.rejects(store.size(), StoreFailedError);
  assert.equal(store.failed.aborted, true);
});

Deno.test("QueueEngine refuses an item with a lone surrogate with a RangeError, on every path, and stores nothing", async () => {
  const engine = new QueueEngine(2);
  await assert.rejects(engine.put("\uD800"), RangeError);
  const waiting = engine.pop({ waitMs: 10_000 });
  await assert.rejects(engine.put("x\uDFFF"), RangeError);
  assert.equal(await engine.put("ok"), true);
  assert.equal(await waiting, "ok");
  assert.equal(engine.status().size, 0);
  assert.equal(engine.status().bytes, 0);
  await engine.close();
});

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function leaseOf(
  engine: QueueEngine,
  leaseMs = 60_000,
  owner?: AbortSignal,
): Promise<Leased> {
  const leased = await engine.lease({
    leaseMs,
    ...(owner === undefined ? {} : { owner }),
  });
  assert.ok(leased, "an item was leased");
  return leased;
}

Deno.test("QueueEngine lease hides the item from Peek, Pop and Size, Ack removes it for good, a second Ack answers false", async () => {
  await using engine = new QueueEngine(10);
  await engine.put("a");
  await engine.put("b");
  const leased = await leaseOf(engine);
  assert.equal(leased.item, "a");
  assert.equal(leased.deliveryCount, 1);
  assert.match(leased.receipt, /^[A-Za-z0-9_-]{22,}$/);
  assert.equal(await engine.peek(), "b");
  assert.equal(await engine.size(), 1);
  assert.equal(engine.status().leased, 1);
  assert.equal(await engine.ack(leased.receipt), true);
  assert.equal(await engine.ack(leased.receipt), false);
  assert.equal(engine.status().leased, 0);
  assert.deepEqual([await engine.pop(), await engine.pop()], ["b", undefined]);
});

Deno.test("QueueEngine Release puts the item back at the head, ahead of items never leased, with its delivery count", async () => {
  await using engine = new QueueEngine(10);
  for (const item of ["a", "b", "c"]) await engine.put(item);
  const a = await leaseOf(engine);
  const b = await leaseOf(engine);
  assert.equal(await engine.release(b.receipt), true);
  assert.equal(await engine.release(b.receipt), false);
  assert.equal(await engine.release(a.receipt), true);
  assert.equal(await engine.peek(), "a", "back in put order");
  const again = await leaseOf(engine);
  assert.deepEqual([again.item, again.deliveryCount], ["a", 2]);
  const b2 = await leaseOf(engine);
  assert.deepEqual([b2.item, b2.deliveryCount], ["b", 2]);
  assert.equal(await engine.pop(), "c");
});

Deno.test("QueueEngine answers false, changing nothing, for a forged, malformed, empty or stale receipt", async () => {
  await using engine = new QueueEngine(10);
  await engine.put("a");
  const leased = await leaseOf(engine);
  for (
    const receipt of [
      "",
      "x",
      "AAAAAAAAAAAAAAAAAAAAAA",
      "\u0000",
      leased.receipt + "A",
    ]
  ) {
    assert.equal(await engine.ack(receipt), false, receipt);
    assert.equal(await engine.release(receipt), false, receipt);
    assert.equal(await engine.extend(receipt, 1000), false, receipt);
  }
  assert.deepEqual(engine.status().leased, 1);
  assert.equal(await engine.ack(leased.receipt), true);
});

Deno.test("QueueEngine puts an item back at the head when its lease runs out, and a waiting Pop gets it", async () => {
  await using engine = new QueueEngine(10);
  await engine.put("a");
  const started = performance.now();
  const leased = await leaseOf(engine, 100);
  const waiting = engine.pop({ waitMs: 10_000 });
  assert.equal(await waiting, "a");
  const took = performance.now() - started;
  assert.ok(took >= 90 && took < 2000, `back after ${took} ms`);
  assert.equal(await engine.ack(leased.receipt), false, "the lease is over");
});

Deno.test("QueueEngine serves a waiting leasing Pop with an item put, and with one whose lease ran out", async () => {
  await using engine = new QueueEngine(10);
  const waiting = engine.lease({ leaseMs: 50, waitMs: 10_000 });
  await engine.put("a");
  const first = await waiting;
  assert.deepEqual([first?.item, first?.deliveryCount], ["a", 1]);
  const second = await engine.lease({ leaseMs: 60_000, waitMs: 10_000 });
  assert.deepEqual([second?.item, second?.deliveryCount], ["a", 2]);
});

Deno.test("QueueEngine Extend keeps an item out past the end of its first lease", async () => {
  await using engine = new QueueEngine(10);
  await engine.put("a");
  const leased = await leaseOf(engine, 100);
  assert.equal(await engine.extend(leased.receipt, 400), true);
  await delay(250);
  assert.equal(await engine.peek(), undefined, "still leased");
  assert.equal(
    await engine.pop({ waitMs: 5000 }),
    "a",
    "back after the new end",
  );
});

Deno.test("QueueEngine counts leased items against the capacity and the byte bound, and an Ack makes room for a waiting put", async () => {
  await using engine = new QueueEngine(2, { maxBytes: 10 });
  await engine.put("aaaa");
  await engine.put("bbbb");
  const leased = await leaseOf(engine);
  assert.equal(await engine.size(), 1);
  assert.equal(await engine.put("c"), false, "2 of 2, one leased");
  assert.deepEqual(
    [engine.status().bytes, engine.status().leased],
    [8, 1],
  );
  const waiting = engine.put("c", { waitMs: 10_000 });
  assert.equal(await engine.release(leased.receipt), true);
  assert.equal(engine.status().waitingPuts, 1, "a release makes no room");
  const again = await leaseOf(engine);
  assert.equal(await engine.ack(again.receipt), true);
  assert.equal(await waiting, true);
});

Deno.test("QueueEngine gives back an owner's leases at once, in put order, when its signal aborts", async () => {
  await using engine = new QueueEngine(10);
  for (const item of ["a", "b", "c", "d"]) await engine.put(item);
  const session = new AbortController();
  const b = [await leaseOf(engine, 60_000, session.signal)];
  b.push(await leaseOf(engine, 60_000, session.signal));
  const unary = await leaseOf(engine);
  await engine.ack(b[0]!.receipt);
  session.abort();
  assert.equal(engine.status().leased, 1, "only the unary lease is left");
  assert.equal(await engine.ack(b[1]!.receipt), false);
  assert.deepEqual(
    [await engine.pop(), await engine.pop(), await engine.pop()],
    ["b", "d", undefined],
  );
  assert.equal(await engine.ack(unary.receipt), true);
  await assert.rejects(
    engine.lease({ leaseMs: 1000, owner: session.signal }),
    "a lease for an ended owner is refused",
  );
});

Deno.test("QueueEngine journals appends, leases with their delivery counts and removals by seq", async () => {
  const journal = new LogJournal();
  await using engine = new QueueEngine(10, { journal });
  await engine.put("a");
  await engine.put("b");
  const a = await leaseOf(engine);
  const b = await leaseOf(engine);
  await engine.ack(b.receipt);
  await engine.release(a.receipt);
  await engine.pop();
  assert.deepEqual(journal.log, ["+a@1", "+b@2", "~1x1", "~2x1", "-2", "-1"]);
});

Deno.test("QueueEngine started with returned items serves them first, in put order, with their delivery counts", async () => {
  await using engine = new QueueEngine(10, {
    items: ["c", "d"],
    firstSeq: 7,
    returned: [{ seq: 5, item: "b", deliveryCount: 3 }, {
      seq: 2,
      item: "a",
      deliveryCount: 1,
    }],
  });
  assert.equal(await engine.size(), 4);
  const a = await leaseOf(engine);
  assert.deepEqual([a.item, a.deliveryCount], ["a", 2]);
  const b = await leaseOf(engine);
  assert.deepEqual([b.item, b.deliveryCount], ["b", 4]);
  const c = await leaseOf(engine);
  assert.deepEqual([c.item, c.deliveryCount], ["c", 1]);
});

Deno.test("QueueEngine takes over a Utf8Queue given as its items, numbering them from firstSeq, and refuses one that holds fewer than its capacity", async () => {
  const queue = Utf8Queue.from(["c", "d"], 10);
  const journal = new LogJournal();
  await using engine = new QueueEngine(10, {
    items: queue,
    firstSeq: 7,
    journal,
  });
  assert.equal(await engine.put("e"), true);
  assert.equal(await engine.pop(), "c");
  assert.equal(queue.size, 2, "the engine's own queue");
  assert.deepEqual(journal.log, ["+e@9", "-7"]);
  assert.throws(
    () => new QueueEngine(11, { items: Utf8Queue.from([], 10) }),
    RangeError,
  );
});
