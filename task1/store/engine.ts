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
import { type HeldItem, LeaseTable, ReturnedItems } from "./leases.ts";
import {
  DEFAULT_MAX_BYTES,
  type JournalStatus,
  type Leased,
  type LeaseOptions,
  type QueueStore,
  StoreClosedError,
  type StoreStatus,
  utf8Bytes,
  type WaitOptions,
} from "./mod.ts";
import { MAX_WAITING_BYTES, type PopWaiter, Waiters } from "./waiters.ts";

/**
 * Where a durable store writes what the engine decided, item by item, named
 * by `seq` (put order, never reused for a present item). Changes are
 * recorded in order; {@linkcode Journal.durable} resolves once everything
 * recorded so far is durable.
 */
export interface Journal {
  /** Records that `item` was appended at the tail as `seq`. */
  appended(seq: number, item: string): void;
  /** Records that the item `seq` was removed for good (popped or acked). */
  removed(seq: number): void;
  /** Records that the item `seq` was leased, now `deliveryCount` times. */
  leased(seq: number, deliveryCount: number): void;
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

/** An item that was leased and not acked, as a durable store reloads it. */
export interface ReturnedItem {
  /** Its place in put order. */
  seq: number;
  /** The item. */
  item: string;
  /** How many leasing pops handed it out. */
  deliveryCount: number;
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
  /**
   * The items never leased, queued at start, head first (a durable store's
   * contents), numbered from `firstSeq` on: strings, or a `Utf8Queue` the
   * engine takes over as it is, which must hold at least `capacity` items.
   */
  items?: Iterable<string> | Utf8Queue;
  /**
   * The `seq` of the first of `items`, and of the next item put if there is
   * none.
   *
   * @default {1}
   */
  firstSeq?: number;
  /**
   * The items leased and not acked before a restart: they are back at the
   * head, in put order, ahead of `items`, with their delivery counts.
   */
  returned?: Iterable<ReturnedItem>;
  /** Where each change is made durable before its answer is released. */
  journal?: Journal;
}

/**
 * A bounded first-in, first-out queue in memory whose puts and pops may
 * wait, and whose items may be leased. A put waits while the queue is full
 * (by count or by bytes, leased items included) or while an earlier put
 * still waits; a pop waits while the queue is empty. An item put while pops
 * wait goes straight to the first of them. Items that come back from a lease
 * are served first, in put order, before the `Utf8Queue` of items never
 * leased.
 */
export class QueueEngine implements QueueStore {
  #capacity: number;
  #maxBytes: number;
  /** The items never leased, from seq `#headSeq` on, without gaps. */
  #queue: Utf8Queue;
  #headSeq: number;
  #nextSeq: number;
  /** The items that came back from a lease, served before `#queue`. */
  #returned = new ReturnedItems();
  #leases = new LeaseTable((held) => this.#giveBack(held));
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
   * @throws {RangeError} when `capacity` or a bound is not a positive
   * integer, or a `Utf8Queue` given as `items` holds fewer than `capacity`
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
    this.#queue = items instanceof Utf8Queue
      ? items
      : Utf8Queue.from(items, capacity);
    if (this.#queue.capacity < capacity) {
      throw new RangeError(
        `Invalid items: their queue holds ${this.#queue.capacity} items, fewer than the capacity ${capacity}`,
      );
    }
    this.#headSeq = options.firstSeq ?? 1;
    this.#nextSeq = this.#headSeq + this.#queue.size;
    for (const { seq, item, deliveryCount } of options.returned ?? []) {
      this.#returned.add({ seq, item, bytes: utf8Bytes(item), deliveryCount });
    }
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
      if (popper && popper.lease === undefined) {
        // Straight to a waiting pop: the item never enters the queue, and
        // nothing needs to be written for it.
        popper.settle(this.#answer(item));
        return this.#answer(true);
      }
      if (popper && this.#fits(bytes)) {
        // Straight to a waiting leasing pop: it is stored, under lease.
        const seq = this.#nextSeq++;
        this.#journal?.appended(seq, item);
        this.#hand(popper, { seq, item, bytes, deliveryCount: 0 });
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
    const held = this.#takeHead();
    if (held !== undefined) {
      this.#journal?.removed(held.seq);
      this.#admitWaitingPuts();
      return this.#answer(held.item);
    }
    const { waitMs = 0 } = options;
    if (waitMs <= 0) return this.#answer(undefined);
    return this.#waiters.pop(options);
  }

  /** Leases the head item, or answers undefined when none comes in `waitMs`. */
  lease(options: LeaseOptions): Promise<Leased | undefined> {
    const refused = this.#refusal(options.signal) ??
      (options.owner?.aborted ? options.owner.reason : undefined);
    if (refused) return Promise.reject(refused);
    const held = this.#takeHead();
    if (held !== undefined) return this.#answer(this.#lease(held, options));
    const { waitMs = 0 } = options;
    if (waitMs <= 0) return this.#answer(undefined);
    return this.#waiters.lease(options);
  }

  /** Removes the item leased under `receipt` for good. */
  ack(receipt: string): Promise<boolean> {
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    const held = this.#leases.end(receipt);
    if (held === undefined) return this.#answer(false);
    this.#journal?.removed(held.seq);
    this.#admitWaitingPuts();
    return this.#answer(true);
  }

  /** Puts the item leased under `receipt` back at the head. */
  release(receipt: string): Promise<boolean> {
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    const held = this.#leases.end(receipt);
    if (held !== undefined) this.#giveBack(held);
    return this.#answer(held !== undefined);
  }

  /** Makes the lease under `receipt` end `leaseMs` from now. */
  extend(receipt: string, leaseMs: number): Promise<boolean> {
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    return this.#answer(this.#leases.extend(receipt, leaseMs));
  }

  /** The head item, read from memory. */
  peek(): Promise<string | undefined> {
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    return this.#answer(this.#returned.peek()?.item ?? this.#queue.peek());
  }

  /** The number of items queued (not leased), read from memory. */
  size(): Promise<number> {
    const refused = this.#refusal();
    if (refused) return Promise.reject(refused);
    return this.#answer(this.#queue.size + this.#returned.size);
  }

  /** What the store holds and how many callers wait. */
  status(): StoreStatus {
    const journal = this.#journal?.status?.();
    return {
      size: this.#queue.size + this.#returned.size,
      leased: this.#leases.size,
      bytes: this.#heldBytes(),
      capacity: this.#capacity,
      maxBytes: this.#maxBytes,
      waitingPuts: this.#waiters.puts.size,
      waitingPops: this.#waiters.pops.size,
      ...(journal === undefined ? {} : { journal }),
    };
  }

  /**
   * Ends every waiting call, refuses new ones, closes the journal. Leases
   * end with the store: in a durable store their items are back at restart.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiters.failAll(new StoreClosedError("The queue is shutting down"));
    this.#waiters.clear();
    this.#leases.clear();
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

  #heldBytes(): number {
    return this.#queue.bytes + this.#returned.bytes + this.#leases.bytes;
  }

  #fits(bytes: number): boolean {
    const held = this.#queue.size + this.#returned.size + this.#leases.size;
    return held < this.#capacity && this.#heldBytes() + bytes <= this.#maxBytes;
  }

  #append(item: string): void {
    this.#queue.put(item);
    this.#journal?.appended(this.#nextSeq++, item);
  }

  /** Takes the head item out of the queue: a returned one first. */
  #takeHead(): HeldItem | undefined {
    const returned = this.#returned.shift();
    if (returned) return returned;
    const item = this.#queue.pop();
    if (item === undefined) return undefined;
    return {
      seq: this.#headSeq++,
      item,
      bytes: utf8Bytes(item),
      deliveryCount: 0,
    };
  }

  /** Leases `held`, recording its new delivery count, and says so. */
  #lease(
    held: HeldItem,
    { leaseMs, owner }: Pick<LeaseOptions, "leaseMs" | "owner">,
  ): Leased {
    const deliveryCount = held.deliveryCount + 1;
    this.#journal?.leased(held.seq, deliveryCount);
    const receipt = this.#leases.take(
      { ...held, deliveryCount },
      leaseMs,
      owner,
    );
    return { item: held.item, receipt, deliveryCount };
  }

  /** Hands a held item to a waiting pop, leasing it if it asks for a lease. */
  #hand(popper: PopWaiter, held: HeldItem): void {
    const { lease } = popper;
    if (lease?.owner?.aborted) {
      // Its Session is gone: the item goes to the next one, or back.
      popper.fail(lease.owner.reason);
      this.#giveBack(held);
    } else if (lease) {
      popper.settle(this.#answer(this.#lease(held, lease)));
    } else {
      this.#journal?.removed(held.seq);
      popper.settle(this.#answer(held.item));
      this.#admitWaitingPuts();
    }
  }

  /**
   * Puts an item whose lease ended without an Ack back at the head, in put
   * order, or hands it to the first waiting pop.
   */
  #giveBack(held: HeldItem): void {
    if (this.#closed || this.failed.aborted) return;
    const [popper] = this.#waiters.pops;
    if (popper) this.#hand(popper, held);
    else this.#returned.add(held);
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
