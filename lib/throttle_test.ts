import assert from "node:assert/strict";
import { FailureThrottle } from "./throttle.ts";

Deno.test("FailureThrottle doubles an address's block with each failure, up to the cap", () => {
  const throttle = new FailureThrottle({ baseDelayMs: 100, maxDelayMs: 500 });
  assert.equal(throttle.retryAfter("a", 0), 0);
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((i) => throttle.fail("a", i * 1000)),
    [100, 200, 400, 500, 500],
  );
  assert.equal(throttle.retryAfter("a", 4000), 500);
  assert.equal(throttle.retryAfter("a", 4400), 100);
  assert.equal(throttle.retryAfter("a", 4500), 0);
  assert.equal(throttle.retryAfter("b", 4000), 0, "other addresses are free");
});

Deno.test("FailureThrottle forgets an address on success and after the forget period", () => {
  const throttle = new FailureThrottle({
    baseDelayMs: 100,
    forgetAfterMs: 10_000,
  });
  throttle.fail("a", 0);
  throttle.fail("a", 1000);
  throttle.succeed("a");
  assert.equal(throttle.fail("a", 2000), 100, "counting starts over");
  throttle.fail("b", 5000);
  assert.equal(throttle.fail("c", 12_000), 100);
  assert.equal(throttle.size, 2, "a was forgotten 10 s after its failure");
  assert.equal(throttle.fail("a", 12_001), 100);
});

Deno.test("FailureThrottle remembers at most maxAddresses, dropping the least recent", () => {
  const throttle = new FailureThrottle({ maxAddresses: 3 });
  for (let i = 0; i < 10; i++) throttle.fail(`10.0.0.${i}`, i);
  assert.equal(throttle.size, 3);
  assert.equal(throttle.retryAfter("10.0.0.0", 10), 0);
  assert.ok(throttle.retryAfter("10.0.0.9", 10) > 0);
});
