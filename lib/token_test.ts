import assert from "node:assert/strict";
import { parseToken, TokenGate, tokensEqual } from "./token.ts";

const RIGHT = "r".repeat(32);
const WRONG = "w".repeat(32);

Deno.test("parseToken accepts 32 to 256 visible ASCII characters and explains a bad token without quoting it", () => {
  const good = "a-Z_0.9~!".padEnd(32, "x");
  assert.equal(parseToken(good, "test"), good);
  for (
    const bad of [
      "",
      "has space".padEnd(32, "x"),
      "tab\there",
      "é",
      "x".repeat(257),
    ]
  ) {
    assert.throws(() => parseToken(bad, 'file "t"'), (error: unknown) => {
      assert.ok(error instanceof RangeError);
      assert.match(
        error.message,
        /^Invalid token in file "t": expected 32 to 256/,
      );
      assert.ok(bad === "" || !error.message.includes(bad));
      return true;
    });
  }
});

Deno.test("parseToken refuses a token shorter than 32 characters and says how to make one", () => {
  assert.equal(parseToken("x".repeat(32), "test").length, 32);
  for (const short of ["s3cret", "x".repeat(31)]) {
    assert.throws(() => parseToken(short, 'file "t"'), {
      name: "RangeError",
      message:
        'Invalid token in file "t": too short, expected 32 to 256 visible ASCII characters (no spaces) (make one with: openssl rand -hex 32)',
    });
  }
});

Deno.test("tokensEqual tells equal tokens from different ones of any length", () => {
  assert.ok(tokensEqual("s3cret", "s3cret"));
  assert.ok(!tokensEqual("s3cret", "s3cres"));
  assert.ok(!tokensEqual("s3cret", "s3cret-longer"));
  assert.ok(!tokensEqual("", "s3cret"));
});

Deno.test("TokenGate lets the right token in at once while a wrong one from the same address waits, and does not hold a missing one", async () => {
  const gate = new TokenGate(RIGHT, { delayMs: 200 });
  assert.deepEqual(await gate.check("a", undefined), {
    ok: false,
    reason: "missing token",
  });
  assert.equal(gate.waiting, 0);
  let wrongAnswered = false;
  const wrong = gate.check("a", WRONG).then((verdict) => {
    wrongAnswered = true;
    return verdict;
  });
  assert.deepEqual(await gate.check("a", RIGHT), { ok: true });
  assert.ok(!wrongAnswered, "the wrong token is still waiting");
  assert.equal(gate.waiting, 1);
  assert.deepEqual(await wrong, { ok: false, reason: "wrong token" });
});

Deno.test("TokenGate refuses a wrong token after the delay, and past the per-address bound at once without blocking the right token", async () => {
  const gate = new TokenGate(RIGHT, { delayMs: 200, perAddress: 2 });
  const started = performance.now();
  const held = [gate.check("a", WRONG), gate.check("a", WRONG)];
  assert.equal(gate.waiting, 2);
  assert.deepEqual(await gate.check("a", WRONG), {
    ok: false,
    reason: "wrong token (refused at once: too many wrong tokens waiting)",
  });
  assert.deepEqual(await gate.check("a", RIGHT), { ok: true });
  assert.equal(gate.waiting, 2, "neither the right token nor the excess waits");
  for (const verdict of await Promise.all(held)) {
    assert.deepEqual(verdict, { ok: false, reason: "wrong token" });
  }
  assert.ok(performance.now() - started >= 190, "the refusals were held");
  assert.equal(gate.waiting, 0);
  assert.deepEqual(await gate.check("b", RIGHT), { ok: true });
});
