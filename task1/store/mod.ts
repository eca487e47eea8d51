/**
 * Where the queue's items live, behind one interface: the gRPC handlers call a
 * {@linkcode QueueStore} and never know whether it keeps the items in memory
 * (`memory.ts`), in a file (`sqlite/`) or in Redis (`redis/`). Waiting is part
 * of the contract, so that every store waits in its own way (a queue of
 * continuations in memory, `BLPOP` in a remote store) and the handlers never
 * poll. The stores in one process share the in-memory engine (`engine.ts`)
 * and the waiter machinery (`waiters.ts`).
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** The longest wait a caller may ask for: one hour, in milliseconds. */
export const MAX_WAIT_MS = 3_600_000;

/** The longest lease a caller may ask for: one hour, in milliseconds. */
export const MAX_LEASE_MS = 3_600_000;

/** The default bound on the bytes of queued items: 1 GiB. */
export const DEFAULT_MAX_BYTES = 1024 ** 3;

/** How a waiting operation waits. */
export interface WaitOptions {
  /**
   * How long to wait for room (put) or for an item (pop), in milliseconds;
   * 0 answers at once.
   *
   * @default {0}
   */
  waitMs?: number;
  /**
   * Aborted when the caller gives up (it cancelled, disconnected or its
   * deadline passed): a waiting operation then rejects with the signal's
   * reason and leaves the queue as if it had never waited.
   */
  signal?: AbortSignal;
}

/** How a leasing pop waits and how long its lease lasts. */
export interface LeaseOptions extends WaitOptions {
  /** How long the lease lasts, in milliseconds (above 0). */
  leaseMs: number;
  /**
   * The lease's owner: when this signal aborts (the Session that took the
   * lease ended), the lease ends at once and its item goes back to the head.
   * Without an owner the lease lasts until Ack, Release or its end.
   */
  owner?: AbortSignal;
}

/** An item handed out under lease by {@linkcode QueueStore.lease}. */
export interface Leased {
  /** The item, as it was put. */
  item: string;
  /** The opaque, unguessable receipt that Ack, Release and Extend take. */
  receipt: string;
  /** How many leasing pops handed this item out, this one included. */
  deliveryCount: number;
}

/** What a store reports about itself, for logs, health and tests. */
export interface StoreStatus {
  /** The number of items queued. */
  size: number;
  /** The items under lease: out of Peek, Pop and Size's view, but holding room. */
  leased: number;
  /** The UTF-8 bytes of the items queued and leased (they all hold room). */
  bytes: number;
  /** The most items accepted. */
  capacity: number;
  /** The most bytes of items accepted. */
  maxBytes: number;
  /** The puts waiting for room. */
  waitingPuts: number;
  /** The pops waiting for an item. */
  waitingPops: number;
  /** What a durable store's journal wrote so far; absent without a journal. */
  journal?: JournalStatus;
}

/** What a durable store's journal wrote so far, for logs and the benchmark. */
export interface JournalStatus {
  /** Transactions committed. */
  commits: number;
  /** Appends and removals written, over all commits. */
  operations: number;
}

/** The UTF-8 length of `item` in bytes: the measure of every byte bound. */
export function utf8Bytes(item: string): number {
  return Buffer.byteLength(item, "utf8");
}

/**
 * A bounded first-in, first-out queue of strings that may wait. Every
 * answer is final: once a promise resolves, its effect is as durable as the
 * store promises (for a durable store, on disk).
 */
export interface QueueStore extends AsyncDisposable {
  /**
   * Appends `item` and resolves to true, or resolves to false, storing
   * nothing, when the queue has no room for it (count or bytes) within
   * `waitMs`. Waiting puts are served in the order they started waiting,
   * and a put never overtakes one that waits.
   */
  put(item: string, options?: WaitOptions): Promise<boolean>;
  /**
   * Removes and resolves to the head item, or resolves to undefined when no
   * item arrives within `waitMs`. Waiting pops are served in the order they
   * started waiting.
   */
  pop(options?: WaitOptions): Promise<string | undefined>;
  /**
   * Leases the head item for `leaseMs` and resolves to it with its receipt,
   * or resolves to undefined when no item arrives within `waitMs` (waiting
   * as {@linkcode QueueStore.pop} does, in the same line). The item leaves
   * Peek, Pop and Size's view but keeps its room until it is acked; when
   * the lease ends without an Ack (Release, its time, its owner, a
   * restart), it goes back to the head, ahead of every item never leased,
   * in the order items were put.
   */
  lease(options: LeaseOptions): Promise<Leased | undefined>;
  /**
   * Removes the item leased under `receipt` for good and resolves to true;
   * resolves to false, changing nothing, when the receipt holds no lease
   * (unknown, malformed, acked, released or run out).
   */
  ack(receipt: string): Promise<boolean>;
  /** Ends the lease under `receipt` and puts its item back at the head; false as for `ack`. */
  release(receipt: string): Promise<boolean>;
  /** Makes the lease under `receipt` end `leaseMs` from now; false as for `ack`. */
  extend(receipt: string, leaseMs: number): Promise<boolean>;
  /** Resolves to the head item without removing it, or undefined. */
  peek(): Promise<string | undefined>;
  /** Resolves to the number of items queued. */
  size(): Promise<number>;
  /** What the store holds and how many callers wait, right now. */
  status(): StoreStatus;
  /**
   * Aborted, with a {@linkcode StoreFailedError} as its reason, when the
   * store can no longer keep its promises (for example a disk write failed);
   * every operation then rejects with that error.
   */
  readonly failed: AbortSignal;
  /**
   * Calls `listener` with false when the store becomes unreachable for a
   * while (a remote store lost its server: every operation then rejects
   * with a {@linkcode StoreUnavailableError} until it is back) and with true
   * when it serves again. A store that cannot become unreachable (memory, a
   * local file) has no such method.
   */
  watchAvailability?(listener: (available: boolean) => void): void;
  /**
   * Refuses new operations, ends every waiting call with a
   * {@linkcode StoreClosedError}, makes what was decided durable and
   * releases the store's resources.
   */
  close(): Promise<void>;
}

/** The store is closing or closed: the server is shutting down. */
export class StoreClosedError extends Error {
  /** The class name, for messages and logs. */
  override name = "StoreClosedError";
}

/** The store cannot keep its promises any more, for example a write failed. */
export class StoreFailedError extends Error {
  /** The class name, for messages and logs. */
  override name = "StoreFailedError";
}

/**
 * The store cannot reach where it keeps the items right now (a remote store
 * lost its server); it recovers by itself once the server is back. Its
 * message is one line saying why.
 */
export class StoreUnavailableError extends Error {
  /** The class name, for messages and logs. */
  override name = "StoreUnavailableError";
}
