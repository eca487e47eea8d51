/**
 * A client's unsent output on the roster server: the lines waiting to be
 * written to its socket, bounded in bytes.
 *
 * @module
 */

/**
 * Lines waiting to be written to one client, at most `limit` bytes of them.
 * Each roster line is a full snapshot, so when a new line would pass the
 * limit, the older unsent lines are obsolete and are dropped: the client
 * skips to the newest roster instead of the server buffering without bound.
 */
export class OutboundLines {
  #lines: Uint8Array[] = [];
  #bytes = 0;
  readonly #limit: number;

  /** Creates an empty buffer holding at most `limit` bytes (beyond one line). */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** The number of bytes waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Queues `line`, dropping every older line if the limit would be passed. */
  push(line: Uint8Array): void {
    if (this.#bytes + line.length > this.#limit) {
      this.#lines = [];
      this.#bytes = 0;
    }
    this.#lines.push(line);
    this.#bytes += line.length;
  }

  /**
   * Takes every waiting line as one chunk to write (the line itself when
   * only one waits), or `undefined` when none does.
   */
  take(): Uint8Array | undefined {
    const lines = this.#lines;
    if (lines.length <= 1) {
      this.#bytes = 0;
      return lines.pop();
    }
    const chunk = new Uint8Array(this.#bytes);
    let offset = 0;
    for (const line of lines) {
      chunk.set(line, offset);
      offset += line.length;
    }
    this.#lines = [];
    this.#bytes = 0;
    return chunk;
  }
}
