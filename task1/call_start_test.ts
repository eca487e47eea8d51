import assert from "node:assert/strict";
import { CallStartScanner } from "./call_start.ts";

const PREFACE = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** One frame: a 9-byte header and `length` payload bytes. */
function frame(type: number, length: number): Uint8Array {
  const bytes = new Uint8Array(9 + length);
  bytes.set([length >> 16, (length >> 8) & 0xff, length & 0xff, type, 0]);
  return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

/** A client's first bytes: preface, SETTINGS, WINDOW_UPDATE, HEADERS. */
const OPENING = concat(PREFACE, frame(0x4, 18), frame(0x8, 4), frame(0x1, 40));

Deno.test("CallStartScanner sees the end of the first HEADERS frame, however the bytes are split", () => {
  for (let size = 1; size <= OPENING.length; size++) {
    const scanner = new CallStartScanner();
    let seenAt = -1;
    for (let offset = 0; offset < OPENING.length; offset += size) {
      const end = Math.min(offset + size, OPENING.length);
      if (scanner.feed(OPENING.subarray(offset, end)) && seenAt < 0) {
        seenAt = end;
      }
    }
    assert.equal(seenAt, OPENING.length, `chunks of ${size} bytes`);
  }
});

Deno.test("CallStartScanner does not count a HEADERS frame whose payload has not all arrived", () => {
  const scanner = new CallStartScanner();
  assert.equal(scanner.feed(OPENING.subarray(0, OPENING.length - 1)), false);
  assert.equal(scanner.feed(new Uint8Array(0)), false);
  assert.equal(scanner.feed(OPENING.subarray(OPENING.length - 1)), true);
  assert.equal(scanner.feed(new Uint8Array(0)), true);
});

Deno.test("CallStartScanner counts an empty HEADERS frame and ignores other frames and silence", () => {
  const scanner = new CallStartScanner();
  assert.equal(
    scanner.feed(concat(PREFACE, frame(0x4, 0), frame(0x6, 8))),
    false,
  );
  assert.equal(scanner.feed(frame(0x1, 0)), true);
  assert.equal(new CallStartScanner().feed(PREFACE), false);
});
