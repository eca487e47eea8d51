/**
 * Splitting a byte stream into text lines, for the clients' output and the
 * queue client's input.
 *
 * @module
 */

/** Options of {@linkcode readLines}. */
export interface ReadLinesOptions {
  /**
   * The longest line accepted, in UTF-16 code units; a longer one makes the
   * generator throw, so a peer cannot grow memory without bound.
   *
   * @default {16777216}
   */
  maxLineLength?: number;
}

/**
 * Yields each line of a byte stream, decoded as UTF-8, without its "\n" or
 * "\r\n". A line split across chunks is yielded once, whole; a final line
 * with no "\n" is yielded when the stream ends.
 *
 * @throws {RangeError} when a line is longer than `maxLineLength`
 */
export async function* readLines(
  chunks: AsyncIterable<Uint8Array>,
  options: ReadLinesOptions = {},
): AsyncGenerator<string> {
  const { maxLineLength = 16 * 1024 * 1024 } = options;
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of chunks) {
    const text = decoder.decode(chunk, { stream: true });
    let start = 0;
    let newline = text.indexOf("\n");
    while (newline >= 0) {
      yield withoutCarriageReturn(pending + text.slice(start, newline));
      pending = "";
      start = newline + 1;
      newline = text.indexOf("\n", start);
    }
    pending += text.slice(start);
    if (pending.length > maxLineLength) {
      throw new RangeError(
        `Line too long: more than ${maxLineLength} characters without a newline`,
      );
    }
  }
  pending += decoder.decode();
  if (pending !== "") yield withoutCarriageReturn(pending);
}

function withoutCarriageReturn(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
