/**
 * One roster client's connection once it has joined: its own bounded
 * outgoing buffer and writer, so a slow reader never delays the others.
 *
 * @module
 */
import { closeQuietly } from "./_close_quietly.ts";
import type { RosterConn } from "./conn.ts";
import { OutboundLines, type SharedChunk } from "./outbound_lines.ts";

/**
 * A joined client as the broadcaster sees it, whatever carries its lines
 * (a TCP connection here, a WebSocket in `web_connection.ts`).
 */
export interface RosterMember {
  /** The name it joined as. */
  readonly name: string;
  /**
   * Queues a roster line (with its "\n"), bounded per client; returns how
   * many older lines it dropped for a slow reader.
   */
  queue(line: Uint8Array): number;
  /** Starts sending what is queued. */
  flush(): void;
  /** Sends `line` (an `error:` line) as the last one, then closes. */
  end(line: Uint8Array): void;
}

/** One client's connection once it has joined. */
export class RosterConnection implements RosterMember {
  /** The name it joined as. */
  readonly name: string;
  readonly #conn: RosterConn;
  readonly #outbound: OutboundLines;
  /** The chunk being written, if a write is under way. */
  #writing: Uint8Array | undefined;
  /** Whether the connection closes once what is queued is written. */
  #ending = false;

  /**
   * Wraps `conn`, joined as `name`, with an outgoing buffer of at most
   * `maxPendingBytes` whose chunks it shares through `shared`.
   */
  constructor(
    name: string,
    conn: RosterConn,
    maxPendingBytes: number,
    shared: SharedChunk,
  ) {
    this.name = name;
    this.#conn = conn;
    this.#outbound = new OutboundLines(maxPendingBytes, shared);
  }

  /**
   * Queues `line`; the bounded queue keeps a stalled client from growing
   * memory. Returns how many older unsent lines it dropped for it.
   */
  queue(line: Uint8Array): number {
    return this.#outbound.push(line);
  }

  /** Queues `line` as the last one; the connection closes once it is written. */
  end(line: Uint8Array): void {
    this.#ending = true;
    this.queue(line);
    this.flush();
  }

  /** Starts writing what is queued, unless a write is already under way. */
  flush(): void {
    if (this.#writing) return;
    const chunk = this.#outbound.take();
    if (chunk) this.#write(chunk);
  }

  /**
   * Writes `data`, then whatever queued meanwhile, chaining promises rather
   * than awaiting in a loop: this runs for every client on every flush, so
   * the callbacks are made once per connection, not once per write.
   */
  #write(data: Uint8Array): void {
    this.#writing = data;
    this.#conn.write(data).then(this.#onWritten, this.#onFailed);
  }

  /**
   * Writes the rest of a partial write, else what queued meanwhile, else
   * closes an ending connection.
   */
  readonly #onWritten = (written: number): void => {
    const data = this.#writing!;
    const next = written < data.length
      ? data.subarray(written)
      : this.#outbound.take();
    if (next) this.#write(next);
    else {
      this.#writing = undefined;
      if (this.#ending) closeQuietly(this.#conn);
    }
  };

  /** Gives up on a connection whose write failed. */
  readonly #onFailed = (): void => {
    // The peer is gone; its reader sees the error and makes it leave.
    this.#writing = undefined;
    closeQuietly(this.#conn);
  };
}
