import assert from "node:assert/strict";
import { Waiters } from "./waiters.ts";

Deno.test("Waiters keeps puts and pops first come first, and a settled waiter leaves its queue", async () => {
  const waiters = new Waiters();
  const pops = [1, 2].map(() => waiters.pop({ waitMs: 60_000 }));
  const put = waiters.put("a", 1, { waitMs: 60_000 });
  assert.equal(waiters.pops.size, 2);
  for (const [i, waiter] of [...waiters.pops].entries()) {
    waiter.settle(`item ${i}`);
  }
  const [putter] = waiters.puts;
  assert.equal(putter?.item, "a");
  putter?.settle(true);
  assert.deepEqual(await Promise.all(pops), ["item 0", "item 1"]);
  assert.equal(await put, true);
  assert.equal(waiters.pops.size + waiters.puts.size, 0);
  waiters.clear();
});

Deno.test("Waiters: a waiter whose time is up answers the timed-out value, and a put that gives up calls onPutGaveUp", async () => {
  let gaveUp = 0;
  const waiters = new Waiters({ onPutGaveUp: () => gaveUp++ });
  const put = waiters.put("a", 1, { waitMs: 1 });
  const pop = waiters.pop({ waitMs: 1 });
  assert.equal(await put, false);
  assert.equal(await pop, undefined);
  assert.equal(gaveUp, 1);
  assert.equal(waiters.puts.size + waiters.pops.size, 0);
});

Deno.test("Waiters: a busy waiter whose caller gives up leaves only once its step answers", async () => {
  const waiters = new Waiters();
  const controller = new AbortController();
  const pop = waiters.pop({ waitMs: 60_000, signal: controller.signal });
  const [waiter] = waiters.pops;
  assert(waiter);
  waiter.busy = true;
  controller.abort(new Error("gave up"));
  waiters.failAll(new Error("not while busy"));
  assert.equal(waiters.pops.size, 1, "still queued while busy");
  waiter.busy = false;
  waiter.leaving?.();
  await assert.rejects(pop, /gave up/);
  assert.equal(waiters.pops.size, 0);
  waiters.clear();
});

Deno.test("Waiters bounds the bytes of waiting puts' items and frees them when a put leaves", async () => {
  const waiters = new Waiters({ maxWaitingBytes: 5 });
  assert.equal(waiters.holds(5), true);
  const put = waiters.put("abc", 3, { waitMs: 60_000 });
  assert.equal(waiters.holds(2), true);
  assert.equal(waiters.holds(3), false);
  waiters.failAll(new Error("closing"));
  await assert.rejects(put, /closing/);
  assert.equal(waiters.holds(5), true);
  waiters.clear();
});
