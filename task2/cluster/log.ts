/**
 * The log reader: reads the cluster's log of joins and leaves on its own
 * connection and applies it in order, admitting this node's claims, evicting
 * names taken from it, and asking for a snapshot at any gap.
 *
 * Each log entry has the fields `s` (its number), `i` (the incarnation of
 * Redis's data it was written in), `k` (`join` or `leave`), `n` (the name)
 * and `o` (the id of the node that holds or held the name).
 *
 * @module
 */
import type { RedisClient } from "../../lib/redis/mod.ts";
import { Refusal } from "../protocol.ts";
import { type ClusterNode, delay, heartbeatMs } from "./_node.ts";
import type { Claims } from "./claims.ts";
import type { Lease } from "./lease.ts";
import type { Resync } from "./resync.ts";

/** The most log entries read at once. */
const READ_BATCH = 1000;

/** How long to wait before retrying Redis after a failure, in milliseconds. */
const RETRY_MS = 100;

/**
 * How long one blocking read of the log waits for entries, for a node whose
 * lease lasts `ttlMs`.
 */
export function blockMs(ttlMs: number): number {
  return Math.min(1000, heartbeatMs(ttlMs));
}

/** One log entry as the reader receives it. */
interface LogEntry {
  id: string;
  message: Record<string, string>;
}

/** The parts of the node the log reader calls on. */
export interface LogReaderParts {
  /** Releases claims whose client gave up. */
  claims: Claims;
  /** Tells whether the node still holds its lease. */
  lease: Lease;
  /** Reads a snapshot at a gap. */
  resync: Resync;
}

/** Reads and applies one node's log until the node closes. */
export class LogReader {
  readonly #node: ClusterNode;
  readonly #reader: RedisClient;
  readonly #parts: LogReaderParts;
  #reading: Promise<void> = Promise.resolve();

  /** Reads `node`'s log on `reader`, its own connection. */
  constructor(node: ClusterNode, reader: RedisClient, parts: LogReaderParts) {
    this.#node = node;
    this.#reader = reader;
    this.#parts = parts;
  }

  /** Starts reading. */
  start(): void {
    this.#reading = this.#read();
  }

  /** Settles once the reading stopped (after the node closed). */
  stopped(): Promise<void> {
    return this.#reading;
  }

  /** Reads the log on the reader's own connection until closed. */
  async #read(): Promise<void> {
    const node = this.#node;
    while (node.state !== "closed") {
      let entries: LogEntry[];
      try {
        const reply = await this.#reader.xRead(
          { key: node.keys.log, id: node.lastId },
          { BLOCK: blockMs(node.ttlMs), COUNT: READ_BATCH },
        ) as { messages: LogEntry[] }[] | null;
        entries = reply?.[0]?.messages ?? [];
      } catch {
        await delay(RETRY_MS);
        continue;
      }
      await node.enqueue(() => this.#apply(entries));
    }
  }

  /**
   * Applies log entries in order. A gap in the numbering (entries trimmed
   * away, or a restarted Redis) makes the node read a snapshot instead.
   */
  async #apply(entries: LogEntry[]): Promise<void> {
    const node = this.#node;
    if (!this.#parts.lease.holds()) return;
    for (const { id, message } of entries) {
      const seq = Number(message.s);
      if (message.i !== node.incarnation) {
        // Written since Redis lost its data (or before): the numbering
        // restarted, so only a snapshot tells where this node stands.
        await this.#parts.resync.resync();
        return;
      }
      if (seq <= node.seq) continue;
      if (seq !== node.seq + 1) {
        await this.#parts.resync.resync();
        return;
      }
      node.seq = seq;
      node.lastId = id;
      const name = message.n ?? "";
      const mine = message.o === node.nodeId;
      if (message.k === "join") {
        node.roster.add(name);
        const resolve = mine ? node.waiting.get(name) : undefined;
        if (resolve) {
          node.waiting.delete(name);
          node.mine.add(name);
          node.listener?.admit(name);
        } else if (mine && !node.mine.has(name)) {
          // A claim whose client gave up waiting: let it go.
          this.#parts.claims.release(name);
        }
        node.emit("join", name);
        resolve?.();
      } else {
        node.roster.remove(name);
        if (mine && node.mine.delete(name)) {
          node.listener?.evict(name, Refusal.nameRemoved);
        }
        node.emit("leave", name);
      }
    }
  }
}
