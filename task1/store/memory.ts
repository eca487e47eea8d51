/**
 * The in-memory store: a {@linkcode BoundedQueue} with a bound on the bytes
 * of its items and two first-in, first-out queues of waiting callers, one for
 * puts and one for pops (the model of Java's `ArrayBlockingQueue`: waiting is
 * a queue of continuations, never a polling loop). Given a
 * {@linkcode Journal}, it is also the durable store's core: every decision is
 * made here, synchronously and in arrival order, and each answer is released
 * only once the journal has made it durable.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { BoundedQueue } from "../bounded_queue.ts";
import { Deadlines } from "../../lib/deadlines.ts";
import {
  DEFAULT_MAX_BYTES,
  type QueueStore,
  StoreClosedError,
  type StoreStatus,
  type WaitOptions,
} from "./mod.ts";

/**
 * Where a durable store writes what the in-memory core decided. Appends and
 * removals are recorded in order; {@linkcode Journal.durable} resolves once
 * everything recorded so far is durable.
 */
export interface Journal {
  /** Records that `item` was appended at the tail. */
  appended(item: string): void;
  /** Records that `count` items were removed from the head. */
  removed(count: number): void;
  /**
   * Resolves once everything recorded so far is durable; rejects with a
   * `StoreFailedError` if it never will be.
   */
  durable(): Promise<void>;
  /** Aborted with a `StoreFailedError` once the journal cannot write. */
  readonly failed: AbortSignal;
  /** Makes everything recorded durable and releases the journal. */
  close(): Promise<void>;
}

/** Options of {@linkcode MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * The most UTF-8 bytes of items the queue holds.
   *
   * @default {1073741824}
   */
  maxBytes?: number;
  /**
   * The most UTF-8 bytes of items that waiting puts may hold in memory
   * together; a put that would pass it answers false at once instead of
   * waiting.
   *
   * @default {Math.min(maxBytes, 16 MiB)}
   */
  maxWaitingBytes?: number;
  /** The items queued at start, head first (a durable store's contents). */
  items?: Iterable<string>;
  /** Where each change is made durable before its answer is released. */
  journal?: Journal;
}

interface Waiter<T> {
  settle(value: T | Promise<T>): void;
  fail(reason: unknown): void;
}

interface PutWaiter extends Waiter<boolean> {
  item: string;
  bytes: number;
}

/** The UTF-8 length of `item` in bytes. */
export function utf8Bytes(item: string): number {
  return Buffer.byteLength(item, "utf8");
}

/**
 * A bounded first-in, first-out queue in memory whose puts and pops may
 * wait. A put waits while the queue is full (by count or by bytes) or while
 * an earlier put still waits; a pop waits while the queue is empty. An item
 * put while pops wait goes straight to the first of them.
 */
export class MemoryStore implements QueueStore {
  #capacity: number;
  #maxBytes: number;
  #maxWaitingBytes: number;
  #queue: BoundedQueue<string>;
  #bytes = 0;
  #waitingBytes = 0;
  // Sets iterate in insertion order and delete in constant time: a FIFO from
  // which a caller who gives up leaves from any position.
  #putWaiters = new Set<PutWaiter>();
  #popWaiters = new Set<Waiter<string | undefined>>();
  #deadlines = new Deadlines();
  #journal: Journal | undefined;
  /** Never aborted: a store in memory alone cannot fail to write. */
  #neverFails = new AbortController().signal;
  #closed = false;

  /**
   * Creates a store of at most `capacity` items. Items given at start are
   * all kept, even past the capacity or the byte bound: puts then answer
   * false until there is room again.
   *
   * @throws {RangeError} when `capacity` or a bound is not a positive integer
   */
  constructor(capacity: number, options: MemoryStoreOptions = {}) {
    const { maxBytes = DEFAULT_MAX_BYTES, items = [], journal } = options;
    const { maxWaitingBytes = Math.min(maxBytes, 16 * 1024 * 1024) } = options;
    for (
      const [name, value] of [["maxBytes", maxBytes], [
        "maxWaitingBytes",
        maxWaitingBytes,
      ]] as const
    ) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(
          `Invalid ${name} "${value}": expected a whole number of bytes`,
        );
      }
    }
    const initial = [...items];
    this.#queue = new BoundedQueue(Math.max(capacity, initial.length));
    for (const item of initial) {
      this.#queue.put(item);
      this.#bytes += utf8Bytes(item);
    }
    this.#capacity = capacity;
    this.#maxBytes = maxBytes;
    this.#maxWaitingBytes = maxWaitingBytes;
    this.#journal = journal;
    journal?.failed.addEventListener("abort", () => {
      for (const waiter of [...this.#putWaiters, ...this.#popWaiters]) {
        waiter.fail(journal.failed.reason);
      }
    }, { once: true });
  }

  /** Aborted when the journal can no longer write; never in memory alone. */
  get failed(): AbortSignal {
    return this.#journal?.failed ?? this.#neverFails;
  }

  /** Appends `item`, or answers false when there is no room within `waitMs`. */
  put(item: string, options: WaitOptions = {}): Promise<boolean> {
    const refused = this.#refusal(options.signal);
    if (refused) return Promise.reject(refused);
    const bytes = utf8Bytes(item);
    if (this.#putWaiters.size === 0) {
      const [popper] = this.#popWaiters;
      if (popper) {
        // Straight to a waiting pop: the item never enters the queue, and
        // nothing needs to be written for it.
        this.#popWaiters.delete(popper);
        popper.settle(this.#answer(item));
        return this.#answer(true);
      }
      if (this.#fits(bytes)) {
        this.#append(item, bytes);
        return this.#answer(true);
      }
    }
    const { waitMs = 0 } = options;
    if (
      waitMs <= 0 || bytes > this.#maxBytes ||
      this.#waitingBytes + bytes > this.#maxWaitingBytes
    ) {
      return this.#answer(false);
    }
    this.#waitingBytes += bytes;
    return this.#wait(
      this.#putWaiters,
      { item, bytes },
      false,
      options,
      () => {
        this.#waitingBytes -= bytes;
        // The put that gave up may have held up others that fit.
        this.#admitWaitingPuts();
      },
    );
  }

  /** Removes the head item, or answers undefined when none comes in `waitMs`. */
  pop(options: WaitOptions = {}): Promise<string | undefined> {
    const refused = this.#refusal(options.signal);
    if (refused) return Promise.reject(refused);
    const item = this.#queue.pop();
    if (item !== undefined) {
      this.#bytes -= utf8Bytes(item);
      this.#journal?.removed(1);
      this.#admitWaitingPuts();
      return this.#answer(item);
    }
    const { waitMs = 0 } = options;
    if (waitMs <= 0) return this.#answer(undefined);
    return this.#wait(this.#popWaiters, {}, undefined, options);
  }

  /** The head item, read from memory. */
  peek(): Promise<string | undefined> {
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    return this.#answer(this.#queue.peek());
  }

  /** The number of items, read from memory. */
  size(): Promise<number> {
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    return this.#answer(this.#queue.size);
  }

  /** What the store holds and how many callers wait. */
  status(): StoreStatus {
    return {
      size: this.#queue.size,
      bytes: this.#bytes,
      capacity: this.#capacity,
      maxBytes: this.#maxBytes,
      waitingPuts: this.#putWaiters.size,
      waitingPops: this.#popWaiters.size,
    };
  }

  /** Ends every waiting call, refuses new ones, closes the journal. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closing = new StoreClosedError("The queue is shutting down");
    for (const waiter of [...this.#putWaiters, ...this.#popWaiters]) {
      waiter.fail(closing);
    }
    this.#deadlines.clear();
    await this.#journal?.close();
  }

  /** Closes the store. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #refusal(signal?: AbortSignal): unknown {
    if (this.failed.aborted) return this.failed.reason;
    if (this.#closed) return new StoreClosedError("The queue is shutting down");
    if (signal?.aborted) return signal.reason;
    return undefined;
  }

  #fits(bytes: number): boolean {
    return this.#queue.size < this.#capacity &&
      this.#bytes + bytes <= this.#maxBytes;
  }

  #append(item: string, bytes: number): void {
    this.#queue.put(item);
    this.#bytes += bytes;
    this.#journal?.appended(item);
  }

  /** Moves waiting puts into the queue, in order, while the first one fits. */
  #admitWaitingPuts(): void {
    if (this.#closed || this.failed.aborted) return;
    for (const waiter of this.#putWaiters) {
      if (!this.#fits(waiter.bytes)) return;
      this.#putWaiters.delete(waiter);
      this.#waitingBytes -= waiter.bytes;
      this.#append(waiter.item, waiter.bytes);
      waiter.settle(this.#answer(true));
    }
  }

  /**
   * Resolves to `value` once everything decided so far is durable: the
   * answer leaves only after its effect (and every earlier one) is written.
   */
  #answer<T>(value: T): Promise<T> {
    return this.#journal
      ? this.#journal.durable().then(() => value)
      : Promise.resolve(value);
  }

  /**
   * Queues a waiter of `kind` in `waiters` until it is settled by the other
   * side, its time is up (it then resolves to `timedOut`), or its signal or
   * the store ends it. Whichever comes first removes it from the queue and
   * calls `release`, so a caller who gave up leaves no trace.
   */
  #wait<T, W extends Waiter<T>>(
    waiters: Set<W>,
    kind: Omit<W, keyof Waiter<T>>,
    timedOut: T,
    { waitMs = 0, signal }: WaitOptions,
    release = () => {},
  ): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const leave = () => {
      waiters.delete(waiter);
      this.#deadlines.remove(deadline);
      signal?.removeEventListener("abort", onAbort);
      release();
    };
    const waiter = {
      ...kind,
      settle: (value: T | Promise<T>) => {
        this.#deadlines.remove(deadline);
        signal?.removeEventListener("abort", onAbort);
        resolve(value);
      },
      fail: (reason: unknown) => {
        leave();
        reject(reason);
      },
    } as W;
    const onAbort = () => waiter.fail(signal?.reason);
    const deadline = this.#deadlines.add(waitMs, () => {
      leave();
      resolve(this.#answer(timedOut));
    });
    signal?.addEventListener("abort", onAbort, { once: true });
    waiters.add(waiter);
    return promise;
  }
}
