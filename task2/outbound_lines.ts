/**
 * A client's unsent output on the roster server: the lines waiting to be
 * written to its socket, bounded in bytes.
 *
 * @module
 */

/**
 * The most recent concatenation of several lines, shared by every client's
 * {@linkcode OutboundLines}. The server queues the same line objects for
 * every client, so after a burst most clients wait for the same run of lines:
 * they all get the one copy instead of one copy each, which keeps a burst's
 * memory to a few chunks rather than one per client.
 */
export class SharedChunk {
  #lines: readonly Uint8Array[] = [];
  #chunk: Uint8Array = new Uint8Array(0);

  /**
   * The concatenation of `lines` (`bytes` long in all): the previous result
   * when it was made of the very same line objects, else a new copy that
   * replaces it.
   */
  concat(lines: readonly Uint8Array[], bytes: number): Uint8Array {
    if (!this.#isSameRun(lines)) {
      const chunk = new Uint8Array(bytes);
      let offset = 0;
      for (const line of lines) {
        chunk.set(line, offset);
        offset += line.length;
      }
      this.#lines = lines;
      this.#chunk = chunk;
    }
    return this.#chunk;
  }

  #isSameRun(lines: readonly Uint8Array[]): boolean {
    const previous = this.#lines;
    if (previous.length !== lines.length) return false;
    for (let i = 0; i < lines.length; i++) {
      if (previous[i] !== lines[i]) return false;
    }
    return true;
  }
}

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
  readonly #shared: SharedChunk;

  /**
   * Creates an empty buffer holding at most `limit` bytes (beyond one line),
   * concatenating through `shared` (the server passes one to every client).
   */
  constructor(limit: number, shared: SharedChunk = new SharedChunk()) {
    this.#limit = limit;
    this.#shared = shared;
  }

  /** The number of bytes waiting. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Queues `line`, dropping every older line if the limit would be passed;
   * returns how many lines it dropped.
   */
  push(line: Uint8Array): number {
    let dropped = 0;
    if (this.#bytes + line.length > this.#limit) {
      dropped = this.#lines.length;
      this.#lines = [];
      this.#bytes = 0;
    }
    this.#lines.push(line);
    this.#bytes += line.length;
    return dropped;
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
    const chunk = this.#shared.concat(lines, this.#bytes);
    this.#lines = [];
    this.#bytes = 0;
    return chunk;
  }
}
