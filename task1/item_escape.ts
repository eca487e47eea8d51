/**
 * How `queue-client` shows an item on one line: control characters, line
 * separators and the backslash are escaped, so an item can never add lines
 * to the output or send the terminal an escape sequence. No I/O.
 *
 * @module
 */

/** The characters {@linkcode escapeItem} escapes. */
// deno-lint-ignore no-control-regex -- control characters are what it finds
const NEEDS_ESCAPE = /[\\\x00-\x1f\x7f-\x9f\u2028\u2029]/g;

/** The short escapes; every other escaped character is `\xHH` or `\uHHHH`. */
const SHORT_ESCAPES: ReadonlyMap<string, string> = new Map([
  ["\\", "\\\\"],
  ["\n", "\\n"],
  ["\r", "\\r"],
  ["\t", "\\t"],
]);

/**
 * Returns `item` with every backslash, control character (C0, DEL, C1) and
 * Unicode line or paragraph separator (U+2028, U+2029) escaped: `\\`, `\n`,
 * `\r`, `\t`, then `\xHH` (two lower-case hex digits) for the rest of C0 and
 * DEL, and `\uHHHH` (four) for C1 and the separators. Everything else is
 * unchanged, so an item without those characters prints exactly as stored,
 * and since every backslash in the result starts an escape, the result reads
 * back unambiguously (bash: `printf '%b\n' "$line"`).
 */
export function escapeItem(item: string): string {
  return item.replace(NEEDS_ESCAPE, (character) => {
    const short = SHORT_ESCAPES.get(character);
    if (short !== undefined) return short;
    const code = character.charCodeAt(0);
    return code <= 0x7f
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
