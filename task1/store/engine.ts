/**
 * The in-memory queue engine that the memory and the durable store share: a
 * {@linkcode Utf8Queue} with a bound on the bytes of its items, whose puts
 * and pops may wait ({@linkcode Waiters}). Given a {@linkcode Journal}, it is
 * also the durable store's core: every decision is made here, synchronously
 * and in arrival order, and each answer is released only once the journal
 * has made it durable.
 *
 * @module
 */
import { checkWellFormed, Utf8Queue } from "../utf8_queue.ts";
import {
  DEFAULT_MAX_BYTES,
  type JournalStatus,
  type QueueStore,
  StoreClosedError,
  type StoreStatus,
  utf8Bytes,
  type WaitOptions,
} from "./mod.ts";
import { MAX_WAITING_BYTES, Waiters } from "./waiters.ts";

/**
 * Where a durable store writes what the engine decided. Appends and
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
  /** What the journal wrote so far, if it counts it. */
  status?(): JournalStatus;
  /** Makes everything recorded durable and releases the journal. */
  close(): Promise<void>;
}

/** Options of {@linkcode QueueEngine}. */
export interface QueueEngineOptions {
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

/**
 * A bounded first-in, first-out queue in memory whose puts and pops may
 * wait. A put waits while the queue is full (by count or by bytes) or while
 * an earlier put still waits; a pop waits while the queue is empty. An item
 * put while pops wait goes straight to the first of them.
 */
export class QueueEngine implements QueueStore {
  #capacity: number;
  #maxBytes: number;
  #queue: Utf8Queue;
  #waiters: Waiters;
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
  constructor(capacity: number, options: QueueEngineOptions = {}) {
    const { maxBytes = DEFAULT_MAX_BYTES, items = [], journal } = options;
    const { maxWaitingBytes = Math.min(maxBytes, MAX_WAITING_BYTES) } = options;
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
    this.#queue = new Utf8Queue(Math.max(capacity, initial.length));
    for (const item of initial) this.#queue.put(item);
    this.#capacity = capacity;
    this.#maxBytes = maxBytes;
    this.#waiters = new Waiters({
      maxWaitingBytes,
      answer: (value) => this.#answer(value),
      // The put that gave up may have held up others that fit.
      onPutGaveUp: () => this.#admitWaitingPuts(),
    });
    this.#journal = journal;
    journal?.failed.addEventListener("abort", () => {
      this.#waiters.failAll(journal.failed.reason);
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
    try {
      checkWellFormed(item);
    } catch (error) {
      return Promise.reject(error);
    }
    const bytes = utf8Bytes(item);
    if (this.#waiters.puts.size === 0) {
      const [popper] = this.#waiters.pops;
      if (popper) {
        // Straight to a waiting pop: the item never enters the queue, and
        // nothing needs to be written for it.
        popper.settle(this.#answer(item));
        return this.#answer(true);
      }
      if (this.#fits(bytes)) {
        this.#append(item);
        return this.#answer(true);
      }
    }
    const { waitMs = 0 } = options;
    if (
      waitMs <= 0 || bytes > this.#maxBytes || !this.#waiters.holds(bytes)
    ) {
      return this.#answer(false);
    }
    return this.#waiters.put(item, bytes, options);
  }

  /** Removes the head item, or answers undefined when none comes in `waitMs`. */
  pop(options: WaitOptions = {}): Promise<string | undefined> {
    const refused = this.#refusal(options.signal);
    if (refused) return Promise.reject(refused);
    const item = this.#queue.pop();
    if (item !== undefined) {
      this.#journal?.removed(1);
      this.#admitWaitingPuts();
      return this.#answer(item);
    }
    const { waitMs = 0 } = options;
    if (waitMs <= 0) return this.#answer(undefined);
    return this.#waiters.pop(options);
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
    const journal = this.#journal?.status?.();
    return {
      size: this.#queue.size,
      bytes: this.#queue.bytes,
      capacity: this.#capacity,
      maxBytes: this.#maxBytes,
      waitingPuts: this.#waiters.puts.size,
      waitingPops: this.#waiters.pops.size,
      ...(journal === undefined ? {} : { journal }),
    };
  }

  /** Ends every waiting call, refuses new ones, closes the journal. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiters.failAll(new StoreClosedError("The queue is shutting down"));
    this.#waiters.clear();
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
      this.#queue.bytes + bytes <= this.#maxBytes;
  }

  #append(item: string): void {
    this.#queue.put(item);
    this.#journal?.appended(item);
  }

  /** Moves waiting puts into the queue, in order, while the first one fits. */
  #admitWaitingPuts(): void {
    if (this.#closed || this.failed.aborted) return;
    for (const waiter of this.#waiters.puts) {
      if (!this.#fits(waiter.bytes)) return;
      this.#append(waiter.item);
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
}
