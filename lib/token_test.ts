import assert from "node:assert/strict";
import { parseToken, TokenGate, tokensEqual } from "./token.ts";

Deno.test("parseToken accepts visible ASCII and explains a bad token without quoting it", () => {
  assert.equal(parseToken("a-Z_0.9~!", "test"), "a-Z_0.9~!");
  for (const bad of ["", "has space", "tab\there", "é", "x".repeat(257)]) {
    assert.throws(() => parseToken(bad, 'file "t"'), (error: unknown) => {
      assert.ok(error instanceof RangeError);
      assert.match(
        error.message,
        /^Invalid token in file "t": expected 1 to 256/,
      );
      assert.ok(bad === "" || !error.message.includes(bad));
      return true;
    });
  }
});

Deno.test("tokensEqual tells equal tokens from different ones of any length", () => {
  assert.ok(tokensEqual("s3cret", "s3cret"));
  assert.ok(!tokensEqual("s3cret", "s3cres"));
  assert.ok(!tokensEqual("s3cret", "s3cret-longer"));
  assert.ok(!tokensEqual("", "s3cret"));
});

Deno.test("TokenGate lets the right token in, blocks an address after a wrong one, and does not count a missing one", () => {
  const gate = new TokenGate("s3cret", { baseDelayMs: 100 });
  assert.deepEqual(gate.check("a", undefined, 0), {
    ok: false,
    reason: "missing token",
  });
  assert.deepEqual(gate.check("a", "s3cret", 0), { ok: true });
  assert.deepEqual(gate.check("a", "guess", 10), {
    ok: false,
    reason: "wrong token",
  });
  const blocked = gate.check("a", "s3cret", 50);
  assert.ok(!blocked.ok);
  assert.match(
    blocked.reason,
    /^too many wrong tokens from this address; retry in 0.1 s$/,
  );
  assert.deepEqual(gate.check("b", "s3cret", 50), { ok: true });
  assert.deepEqual(gate.check("a", "s3cret", 110), { ok: true });
});
