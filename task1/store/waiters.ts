/**
 * The callers that wait, shared by every store: two first-in, first-out
 * queues of continuations, one of puts waiting for room and one of pops
 * waiting for an item (the model of Java's `ArrayBlockingQueue`: waiting is a
 * queue of continuations, never a polling loop). A waiter leaves when the
 * store settles or fails it, when its time is up, or when its caller gives
 * up (its signal aborts), and then leaves no trace. The items of waiting
 * puts are held in memory, so their bytes together are bounded.
 *
 * @module
 */
import { Deadlines } from "../../lib/deadlines.ts";
import type { Leased, LeaseOptions, WaitOptions } from "./mod.ts";

/**
 * The most UTF-8 bytes of items that waiting puts hold in memory together, by
 * default: past it a put answers false at once instead of waiting.
 */
export const MAX_WAITING_BYTES = 16 * 1024 * 1024;

/** One caller waiting in a {@linkcode Waiters}. */
export interface Waiter<T> {
  /**
   * Set by the store while a step for this waiter runs elsewhere (a Redis
   * script): it cannot leave then.
   */
  busy: boolean;
  /** Set when it gave up while busy: it leaves when called, after the step. */
  leaving: (() => void) | undefined;
  /** Removes it from its queue and answers `value`. */
  settle(value: T | Promise<T>): void;
  /** Removes it from its queue and rejects with `reason`. */
  fail(reason: unknown): void;
}

/** A put waiting for room, with its item. */
export interface PutWaiter extends Waiter<boolean> {
  /** The item it puts. */
  readonly item: string;
  /** The item's UTF-8 bytes. */
  readonly bytes: number;
}

/**
 * A pop waiting for an item. One that asks for a `lease` must be settled
 * with a {@linkcode Leased}, any other with the item itself.
 */
export interface PopWaiter extends Waiter<string | Leased | undefined> {
  /** The lease it asks for; undefined for a pop that removes the item. */
  readonly lease: Pick<LeaseOptions, "leaseMs" | "owner"> | undefined;
}

/** Options of {@linkcode Waiters}. */
export interface WaitersOptions {
  /**
   * The most UTF-8 bytes of items that waiting puts hold together.
   *
   * @default {16777216}
   */
  maxWaitingBytes?: number;
  /**
   * How an answer to a waiter whose time is up is released (a durable store
   * releases it once everything decided before is durable).
   *
   * @default {the value itself, at once}
   */
  answer?: <T>(value: T) => T | Promise<T>;
  /** Called after a waiting put gave up, for example to admit those behind. */
  onPutGaveUp?: () => void;
}

/**
 * The waiting puts and pops of one store, each served first come, first
 * served by the store, which settles them; a caller who gives up leaves from
 * any position.
 */
export class Waiters {
  // Sets iterate in insertion order and delete in constant time: a FIFO from
  // which a caller who gives up leaves from any position.
  #puts = new Set<PutWaiter>();
  #pops = new Set<PopWaiter>();
  #deadlines = new Deadlines();
  #bytes = 0;
  #maxBytes: number;
  #answer: <T>(value: T) => T | Promise<T>;
  #onPutGaveUp: () => void;

  /** Creates empty queues of waiters. */
  constructor(options: WaitersOptions = {}) {
    const { maxWaitingBytes = MAX_WAITING_BYTES } = options;
    this.#maxBytes = maxWaitingBytes;
    this.#answer = options.answer ?? ((value) => value);
    this.#onPutGaveUp = options.onPutGaveUp ?? (() => {});
  }

  /** The waiting puts, first come first. */
  get puts(): ReadonlySet<PutWaiter> {
    return this.#puts;
  }

  /** The waiting pops, first come first. */
  get pops(): ReadonlySet<PopWaiter> {
    return this.#pops;
  }

  /** Whether a put of `bytes` more may wait within the bound. */
  holds(bytes: number): boolean {
    return this.#bytes + bytes <= this.#maxBytes;
  }

  /**
   * Queues a put of `item` until the store settles it, its time is up (it
   * then resolves to false), or its signal or the store ends it.
   */
  put(item: string, bytes: number, options: WaitOptions): Promise<boolean> {
    this.#bytes += bytes;
    return this.#wait(this.#puts, { item, bytes }, false, options, {
      release: () => {
        this.#bytes -= bytes;
      },
      gaveUp: this.#onPutGaveUp,
    });
  }

  /**
   * Queues a pop until the store settles it, its time is up (it then
   * resolves to undefined), or its signal or the store ends it.
   */
  pop(options: WaitOptions): Promise<string | undefined> {
    // Settled with a string: it asks for no lease.
    return this.#wait<string | Leased | undefined, PopWaiter>(
      this.#pops,
      { lease: undefined },
      undefined,
      options,
    ) as Promise<string | undefined>;
  }

  /**
   * Queues a leasing pop in the same line as the others, until the store
   * settles it with a lease, its time is up (undefined), or its signal or
   * the store ends it.
   */
  lease(options: LeaseOptions): Promise<Leased | undefined> {
    const { leaseMs, owner } = options;
    // Settled with a Leased: it asks for a lease.
    return this.#wait<string | Leased | undefined, PopWaiter>(
      this.#pops,
      { lease: owner === undefined ? { leaseMs } : { leaseMs, owner } },
      undefined,
      options,
    ) as Promise<Leased | undefined>;
  }

  /** Fails every waiter that is not busy with `reason`. */
  failAll(reason: unknown): void {
    for (const waiter of [...this.#puts, ...this.#pops]) {
      if (!waiter.busy) waiter.fail(reason);
    }
  }

  /** Cancels every deadline: the store is closing. */
  clear(): void {
    this.#deadlines.clear();
  }

  /**
   * Queues a waiter in `waiters`. A waiter that is busy leaves only once its
   * step answers, so that an item is never stored or taken for a caller who
   * left. `release` runs once, when it leaves the queue for any reason;
   * `gaveUp` after that when it left because its caller gave up.
   */
  #wait<T, W extends Waiter<T>>(
    waiters: Set<W>,
    kind: Omit<W, keyof Waiter<T>>,
    timedOut: T,
    { waitMs = 0, signal }: WaitOptions,
    { release = () => {}, gaveUp = () => {} } = {},
  ): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const detach = () => {
      if (!waiters.delete(waiter)) return;
      release();
      this.#deadlines.remove(deadline);
      signal?.removeEventListener("abort", onAbort);
    };
    // A caller who gave up: it leaves, those behind may move up, it answers.
    const giveUp = (end: () => void) => {
      detach();
      gaveUp();
      end();
    };
    const leave = (end: () => void) => {
      if (waiter.busy) {
        waiter.leaving ??= () => giveUp(end);
      } else {
        giveUp(end);
      }
    };
    const waiter = {
      ...kind,
      busy: false,
      leaving: undefined,
      settle: (value: T | Promise<T>) => {
        detach();
        resolve(value);
      },
      fail: (reason: unknown) => {
        detach();
        reject(reason);
      },
    } as unknown as W;
    const onAbort = () => leave(() => reject(signal?.reason));
    const deadline = this.#deadlines.add(
      waitMs,
      () => leave(() => resolve(this.#answer(timedOut))),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
    waiters.add(waiter);
    return promise;
  }
}
