import assert from "node:assert/strict";
import { OutboundLines, SharedChunk } from "./outbound_lines.ts";

const line = (text: string) => new TextEncoder().encode(text + "\n");
const decode = (bytes: Uint8Array | undefined) =>
  bytes && new TextDecoder().decode(bytes);

Deno.test("outbound lines are taken in order as one chunk", () => {
  const outbound = new OutboundLines(1024);
  assert.equal(outbound.take(), undefined);
  outbound.push(line("greg"));
  outbound.push(line("bob greg"));
  assert.equal(outbound.bytes, 14);
  assert.equal(decode(outbound.take()), "greg\nbob greg\n");
  assert.equal(outbound.bytes, 0);
  assert.equal(outbound.take(), undefined);
});

Deno.test("outbound lines hand back a lone line itself, without copying", () => {
  const outbound = new OutboundLines(1024);
  const only = line("greg");
  outbound.push(only);
  assert.equal(outbound.take(), only);
});

Deno.test("outbound lines keep only the newest roster past the limit", () => {
  const outbound = new OutboundLines(10);
  outbound.push(line("a"));
  outbound.push(line("a b"));
  outbound.push(line("a b c"));
  assert.equal(decode(outbound.take()), "a b c\n");
  const big = line("x".repeat(50));
  outbound.push(line("a"));
  outbound.push(big);
  assert.equal(outbound.take(), big);
});

Deno.test("outbound lines of clients waiting for the same lines share one chunk", () => {
  const shared = new SharedChunk();
  const first = new OutboundLines(1024, shared);
  const second = new OutboundLines(1024, shared);
  const lines = [line("greg"), line("bob greg")];
  for (const each of lines) {
    first.push(each);
    second.push(each);
  }
  const chunk = first.take();
  assert.equal(decode(chunk), "greg\nbob greg\n");
  assert.equal(second.take(), chunk);
});

Deno.test("outbound lines copy anew when the waiting lines differ, even with equal bytes", () => {
  const shared = new SharedChunk();
  const first = new OutboundLines(1024, shared);
  const second = new OutboundLines(1024, shared);
  first.push(line("a"));
  first.push(line("a b"));
  second.push(line("a"));
  second.push(line("a c"));
  assert.equal(decode(first.take()), "a\na b\n");
  assert.equal(decode(second.take()), "a\na c\n");
  first.push(line("a"));
  first.push(line("a b"));
  assert.equal(decode(first.take()), "a\na b\n");
});

Deno.test("outbound lines say how many older lines a push dropped", () => {
  const lines = new OutboundLines(10);
  const line = new TextEncoder().encode("abcdef\n");
  assert.equal(lines.push(line), 0);
  assert.equal(lines.push(line), 1);
  assert.equal(lines.push(line), 1);
});
