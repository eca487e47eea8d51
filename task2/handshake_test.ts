import assert from "node:assert/strict";
import { within } from "../tests/harness.ts";
import { HandshakeDeadlines, parseHandshake } from "./handshake.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("handshake takes the bare name when the first read has no newline", () => {
  assert.deepEqual(parseHandshake(bytes("greg")), { name: "greg" });
});

Deno.test("handshake takes the name before a newline or CRLF", () => {
  assert.deepEqual(parseHandshake(bytes("bob\n")), { name: "bob" });
  assert.deepEqual(parseHandshake(bytes("bob\r\n")), { name: "bob" });
  assert.deepEqual(parseHandshake(bytes("bob\nextra bytes")), { name: "bob" });
});

Deno.test("handshake refuses invalid and over-long names with the rule", () => {
  for (const text of ["", "\n", "bob greg", "x".repeat(21), "bob\r", "é"]) {
    const result = parseHandshake(bytes(text));
    assert.ok("error" in result, text);
    assert.match(result.error, /^invalid name ".*": a name is 1 to 20/);
  }
});

Deno.test("handshake shortens a long invalid name in its message", () => {
  const result = parseHandshake(bytes("y".repeat(60)));
  assert.ok("error" in result);
  assert.ok(result.error.includes(`"${"y".repeat(24)}..."`));
});

Deno.test("handshake deadlines expire items in arrival order, except those ended in time", async () => {
  const expired: string[] = [];
  const { promise: done, resolve } = Promise.withResolvers<void>();
  const deadlines = new HandshakeDeadlines<string>(20, (item) => {
    expired.push(item);
    if (expired.length === 2) resolve();
  });
  deadlines.add("first");
  deadlines.add("named in time");
  deadlines.add("second");
  deadlines.delete("named in time");
  assert.equal(deadlines.size, 2);
  await within(done, "two handshakes to expire");
  assert.deepEqual(expired, ["first", "second"]);
  assert.equal(deadlines.size, 0);
});

Deno.test("handshake deadlines keep no timer once every item has ended", () => {
  const deadlines = new HandshakeDeadlines<string>(60_000, () => {
    throw new Error("Nothing should expire");
  });
  deadlines.add("greg");
  deadlines.delete("greg");
  // Deno's test sanitizer fails this test if a timer were left running.
  assert.equal(deadlines.size, 0);
});
