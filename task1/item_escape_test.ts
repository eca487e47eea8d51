import assert from "node:assert/strict";
import { escapeItem } from "./item_escape.ts";

/** Reads an escaped item back: the inverse of escapeItem, for the tests. */
function unescape(text: string): string {
  return text.replace(
    /\\(?:x([0-9a-f]{2})|u([0-9a-f]{4})|(.))/g,
    (_, hex2?: string, hex4?: string, short?: string) => {
      if (hex2 !== undefined || hex4 !== undefined) {
        return String.fromCharCode(parseInt(hex2 ?? hex4!, 16));
      }
      const decoded = { "\\": "\\", n: "\n", r: "\r", t: "\t" }[short!];
      if (decoded === undefined) throw new Error(`Stray escape \\${short}`);
      return decoded;
    },
  );
}

Deno.test("escapeItem leaves an item without control characters or backslashes as it is", () => {
  for (const item of ["", "A", "job1", "é😀 日本", "a/b'\"c", "\u00a0\u00ff"]) {
    assert.equal(escapeItem(item), item);
  }
});

Deno.test("escapeItem turns a forged multi-line answer and a terminal escape into one escaped line", () => {
  assert.equal(
    escapeItem("job1\nQueue is empty\nTrue"),
    "job1\\nQueue is empty\\nTrue",
  );
  assert.equal(escapeItem("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
  assert.equal(escapeItem("a\tb\r\n"), "a\\tb\\r\\n");
  assert.equal(escapeItem("C:\\new"), "C:\\\\new", "a backslash is escaped");
  assert.equal(escapeItem("\x00\x7f"), "\\x00\\x7f");
  assert.equal(
    escapeItem("\u0085\u009b\u2028\u2029"),
    "\\u0085\\u009b\\u2028\\u2029",
  );
});

Deno.test("escapeItem's result is one line of no control characters that reads back to the item", () => {
  const every = Array.from(
    { length: 0x2030 },
    (_, code) => String.fromCharCode(code),
  ).join("");
  for (const item of [every, "\\x41", "\\\\n", "\\u0085\\", "x\\"]) {
    const escaped = escapeItem(item);
    // deno-lint-ignore no-control-regex -- control characters are what it finds
    assert.ok(!/[\x00-\x1f\x7f-\x9f\u2028\u2029]/.test(escaped));
    assert.equal(unescape(escaped), item);
  }
});
