import assert from "node:assert/strict";
import { type Journal, QueueEngine } from "./engine.ts";
import { StoreFailedError } from "./mod.ts";

/** A journal whose batches the test makes durable (or fails) by hand. */
class ManualJournal implements Journal {
  readonly log: string[] = [];
  #controller = new AbortController();
  #batch = ManualJournal.#newBatch();
  static #newBatch() {
    const batch = Promise.withResolvers<void>();
    batch.promise.catch(() => {});
    return batch;
  }
  get failed() {
    return this.#controller.signal;
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
    return this.#batch.promise;
  }
  commit() {
    this.#batch.resolve();
    this.#batch = ManualJournal.#newBatch();
  }
  fail() {
    const failure = new StoreFailedError("Cannot write: disk full");
    this.#controller.abort(failure);
    this.#batch.reject(failure);
  }
  close() {
    return Promise.resolve();
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
