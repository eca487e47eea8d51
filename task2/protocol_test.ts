import assert from "node:assert/strict";
import {
  encodeErrorLine,
  encodeGreeting,
  isValidName,
  MAX_TOKEN_LINE_BYTES,
  parseHandshake,
  parseTokenLine,
  Refusal,
} from "./protocol.ts";

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

Deno.test("isValidName accepts 1 to 20 ASCII letters or digits only", () => {
  for (const name of ["a", "Z9", "x".repeat(20), "greg", "007"]) {
    assert.ok(isValidName(name), name);
  }
  for (const name of ["", "x".repeat(21), "bob greg", "é", "a-b", "a\n"]) {
    assert.equal(isValidName(name), false, name);
  }
});

Deno.test("a client's greeting is the bare name, or the token line and the name with newlines", () => {
  const text = (data: Uint8Array) => new TextDecoder().decode(data);
  assert.equal(text(encodeGreeting("greg")), "greg");
  assert.equal(text(encodeGreeting("greg", "s3cret")), "TOKEN s3cret\ngreg\n");
  const line = parseTokenLine(encodeGreeting("greg", "s3cret"));
  assert.ok(line.kind === "token");
  assert.deepEqual(parseHandshake(line.rest), { name: "greg" });
});

Deno.test('an error line is the reason after "error: " with a newline', () => {
  assert.equal(
    new TextDecoder().decode(encodeErrorLine(Refusal.nameTaken("greg"))),
    'error: name "greg" is already connected\n',
  );
});
