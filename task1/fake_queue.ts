/**
 * An in-memory queue with leases, as a server answers: for the tests of the
 * REPL and of the worker, without sockets. A test double, for tests only.
 *
 * @module
 */
import type { LeasedItem, QueueCount, RemoteQueue } from "./queue_client.ts";

/** An item waiting in the queue, with how often it was leased. */
interface Ready {
  item: string;
  deliveries: number;
}

/** An item under lease. */
interface Held extends Ready {
  /** When the lease ends, as a `Date.now()` time. */
  endsAt: number;
  timer: ReturnType<typeof setTimeout>;
}

/** A leasing Pop waiting for an item. */
interface Waiter {
  leaseMs: number;
  resolve(leased: LeasedItem | undefined): void;
}

/**
 * A bounded FIFO with leases in memory: `put`, `peek`, `pop`, `size` as the
 * seed's server, and leases as queue.proto version 3 describes them (a lease
 * that runs out puts its item back at the head, counted in `expired`).
 */
export class FakeQueue implements RemoteQueue {
  /** The items in the queue, head first. */
  readonly ready: Ready[] = [];
  /** The items under lease, by receipt. */
  readonly held: Map<string, Held> = new Map();
  /** How many leases ran out. */
  expired = 0;
  /** Every extend call, as [receipt, the lease's time left before it]. */
  readonly extends: [string, number][] = [];
  readonly #capacity: number;
  readonly #waiters: Waiter[] = [];
  #receipts = 0;

  /** A queue holding at most `capacity` items, leased ones included. */
  constructor(capacity = Infinity) {
    this.#capacity = capacity;
  }

  /** Appends `item`; false when full. */
  put(item: string): Promise<boolean> {
    if (this.ready.length + this.held.size >= this.#capacity) {
      return Promise.resolve(false);
    }
    this.ready.push({ item, deliveries: 0 });
    this.#serve();
    return Promise.resolve(true);
  }

  /** The head item, or undefined. */
  peek(): Promise<string | undefined> {
    return Promise.resolve(this.ready[0]?.item);
  }

  /** Removes the head item, or resolves to undefined (no waiting). */
  pop(): Promise<string | undefined> {
    return Promise.resolve(this.ready.shift()?.item);
  }

  /** The number of items queued. */
  size(): Promise<number> {
    return Promise.resolve(this.ready.length);
  }

  /** The number of items queued and leased. */
  count(): Promise<QueueCount> {
    return Promise.resolve({ size: this.ready.length, leased: this.held.size });
  }

  /** Leases the head item, waiting up to `waitMs` or until `signal` aborts. */
  lease(
    leaseMs: number,
    waitMs = 0,
    signal?: AbortSignal,
  ): Promise<LeasedItem | undefined> {
    const head = this.ready.shift();
    if (head !== undefined) return Promise.resolve(this.#hold(head, leaseMs));
    if (waitMs === 0 || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const giveUp = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", giveUp);
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        resolve(undefined);
      };
      const waiter: Waiter = {
        leaseMs,
        resolve: (leased) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", giveUp);
          resolve(leased);
        },
      };
      const timer = setTimeout(giveUp, waitMs);
      signal?.addEventListener("abort", giveUp, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Removes a leased item for good. */
  ack(receipt: string): Promise<boolean> {
    return Promise.resolve(this.#end(receipt) !== undefined);
  }

  /** Puts a leased item back at the head. */
  release(receipt: string): Promise<boolean> {
    const held = this.#end(receipt);
    if (held !== undefined) this.#giveBack(held);
    return Promise.resolve(held !== undefined);
  }

  /** Moves the end of a lease to `leaseMs` from now. */
  extend(receipt: string, leaseMs: number): Promise<boolean> {
    const held = this.held.get(receipt);
    if (held === undefined) return Promise.resolve(false);
    this.extends.push([receipt, held.endsAt - Date.now()]);
    clearTimeout(held.timer);
    held.endsAt = Date.now() + leaseMs;
    held.timer = setTimeout(() => this.#expire(receipt), leaseMs);
    return Promise.resolve(true);
  }

  #hold(ready: Ready, leaseMs: number): LeasedItem {
    const receipt = `r${++this.#receipts}`;
    const deliveries = ready.deliveries + 1;
    this.held.set(receipt, {
      item: ready.item,
      deliveries,
      endsAt: Date.now() + leaseMs,
      timer: setTimeout(() => this.#expire(receipt), leaseMs),
    });
    return { item: ready.item, receipt, deliveryCount: deliveries };
  }

  #end(receipt: string): Held | undefined {
    const held = this.held.get(receipt);
    if (held === undefined) return undefined;
    clearTimeout(held.timer);
    this.held.delete(receipt);
    return held;
  }

  #expire(receipt: string): void {
    const held = this.#end(receipt);
    if (held === undefined) return;
    this.expired++;
    this.#giveBack(held);
  }

  #giveBack({ item, deliveries }: Ready): void {
    this.ready.unshift({ item, deliveries });
    this.#serve();
  }

  /** Hands ready items to waiting leasing Pops, oldest first. */
  #serve(): void {
    while (this.ready.length > 0 && this.#waiters.length > 0) {
      const waiter = this.#waiters.shift()!;
      waiter.resolve(this.#hold(this.ready.shift()!, waiter.leaseMs));
    }
  }
}
