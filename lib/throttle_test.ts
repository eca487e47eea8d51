import assert from "node:assert/strict";
import { AttemptLimit } from "./throttle.ts";

Deno.test("AttemptLimit admits at most perAddress attempts from one address until one finishes", () => {
  const limit = new AttemptLimit({ perAddress: 2 });
  assert.ok(limit.tryStart("a"));
  assert.ok(limit.tryStart("a"));
  assert.ok(!limit.tryStart("a"), "a third attempt from a is refused");
  assert.ok(limit.tryStart("b"), "other addresses are free");
  limit.finish("a");
  assert.ok(limit.tryStart("a"));
  assert.equal(limit.size, 3);
});

Deno.test("AttemptLimit admits at most total attempts from all addresses together", () => {
  const limit = new AttemptLimit({ perAddress: 2, total: 3 });
  for (const address of ["a", "b", "c"]) assert.ok(limit.tryStart(address));
  assert.ok(!limit.tryStart("d"));
  limit.finish("b");
  assert.ok(limit.tryStart("d"));
});

Deno.test("AttemptLimit forgets an address once its attempts have finished", () => {
  const limit = new AttemptLimit();
  for (let i = 0; i < 1000; i++) {
    assert.ok(limit.tryStart(`10.0.0.${i}`));
    limit.finish(`10.0.0.${i}`);
  }
  assert.equal(limit.size, 0);
  limit.finish("never-started");
  assert.equal(limit.size, 0, "a stray finish changes nothing");
});
