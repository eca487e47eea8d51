import assert from "node:assert/strict";
import { type Deadline, Deadlines } from "./deadlines.ts";

Deno.test("Deadlines fire earliest first whatever the order they were added in, on one timer", async () => {
  const deadlines = new Deadlines();
  const fired: Deadline[] = [];
  const all = Promise.withResolvers<void>();
  const added = [40, 10, 30, 20, 0].map((ms) => {
    const deadline: Deadline = deadlines.add(ms, () => {
      fired.push(deadline);
      if (fired.length === 5) all.resolve();
    });
    return deadline;
  });
  assert.equal(deadlines.size, 5);
  await all.promise;
  // By when each falls due: on a loaded machine the adds themselves may be
  // milliseconds apart, so the order of `ms` alone could differ.
  assert.deepEqual(fired, added.toSorted((a, b) => a.at - b.at));
  assert.equal(deadlines.size, 0);
});

Deno.test("Deadlines removed before they are due never fire and leave the heap at once", async () => {
  const deadlines = new Deadlines();
  const fired: number[] = [];
  const entries = Array.from(
    { length: 1000 },
    (_, i) => deadlines.add(10 + (i % 37), () => fired.push(i)),
  );
  for (const [i, entry] of entries.entries()) {
    if (i % 2 === 1) deadlines.remove(entry);
  }
  assert.equal(deadlines.size, 500);
  const last = Promise.withResolvers<void>();
  deadlines.add(100, () => last.resolve());
  await last.promise;
  assert.equal(fired.length, 500);
  assert.ok(fired.every((i) => i % 2 === 0));
  deadlines.remove(entries[0]!); // already fired: nothing happens
  assert.equal(deadlines.size, 0);
});

Deno.test("Deadlines.clear cancels every deadline and the timer", async () => {
  const deadlines = new Deadlines();
  let fired = false;
  deadlines.add(5, () => fired = true);
  deadlines.clear();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(fired, false);
  assert.equal(deadlines.size, 0);
});
