import assert from "node:assert/strict";
import { within } from "../tests/harness.ts";
import {
  HandshakeDeadlines,
  MAX_TOKEN_LINE_BYTES,
  parseHandshake,
  parseTokenLine,
} from "./handshake.ts";

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

Deno.test("parseTokenLine splits the token line from the name that follows", () => {
  const line = parseTokenLine(bytes("TOKEN s3cret\ngreg"));
  assert.equal(line.kind, "token");
  assert.ok(line.kind === "token");
  assert.equal(line.token, "s3cret");
  assert.deepEqual(parseHandshake(line.rest), { name: "greg" });
  const crlf = parseTokenLine(bytes("TOKEN s3cret\r\n"));
  assert.ok(crlf.kind === "token");
  assert.equal(crlf.token, "s3cret");
  assert.equal(crlf.rest.length, 0);
});

Deno.test("parseTokenLine asks for more bytes while a token line may still come", () => {
  for (const text of ["", "T", "TOKEN", "TOKEN ", "TOKEN s3c"]) {
    assert.deepEqual(parseTokenLine(bytes(text)), { kind: "incomplete" }, text);
  }
});

Deno.test("parseTokenLine finds no token in a bare name or an over-long line", () => {
  for (const text of ["greg", "TOKENS x\n", "TOKEN\n", "token x\n"]) {
    assert.deepEqual(parseTokenLine(bytes(text)), { kind: "absent" }, text);
  }
  const long = bytes("TOKEN " + "x".repeat(MAX_TOKEN_LINE_BYTES));
  assert.deepEqual(parseTokenLine(long), { kind: "absent" });
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
