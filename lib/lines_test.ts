import assert from "node:assert/strict";
import { readLines } from "./lines.ts";

const encoder = new TextEncoder();

async function linesOf(
  chunks: (string | Uint8Array)[],
  maxLineLength?: number,
): Promise<string[]> {
  async function* source() {
    for (const chunk of chunks) {
      yield typeof chunk === "string" ? encoder.encode(chunk) : chunk;
    }
  }
  const lines: string[] = [];
  const options = maxLineLength === undefined ? {} : { maxLineLength };
  for await (const line of readLines(source(), options)) lines.push(line);
  return lines;
}

Deno.test("readLines yields a line split across chunks once, whole", async () => {
  assert.deepEqual(await linesOf(["bob gr", "eg\nbob greg v", "lad\n"]), [
    "bob greg",
    "bob greg vlad",
  ]);
});

Deno.test("readLines yields several lines from one chunk", async () => {
  assert.deepEqual(await linesOf(["a\nb\n\nc\n"]), ["a", "b", "", "c"]);
});

Deno.test("readLines drops a carriage return before the newline", async () => {
  assert.deepEqual(await linesOf(["put A\r", "\npeek\r\n"]), ["put A", "peek"]);
});

Deno.test("readLines yields a final line that has no newline", async () => {
  assert.deepEqual(await linesOf(["size\npo", "p"]), ["size", "pop"]);
  assert.deepEqual(await linesOf([]), []);
});

Deno.test("readLines decodes a UTF-8 character split across chunks", async () => {
  const bytes = encoder.encode("put é\n");
  const cut = bytes.indexOf(0xa9);
  assert.deepEqual(await linesOf([bytes.slice(0, cut), bytes.slice(cut)]), [
    "put é",
  ]);
});

Deno.test("readLines refuses a line longer than the limit", async () => {
  await assert.rejects(
    linesOf(["x".repeat(10), "y".repeat(10)], 15),
    RangeError,
  );
  assert.deepEqual(await linesOf(["x".repeat(10), "y\n"], 15), [
    "x".repeat(10) + "y",
  ]);
});
