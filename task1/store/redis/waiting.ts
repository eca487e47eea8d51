/**
 * How this server's waiting calls are served by a queue kept in Redis. The
 * waiting pops are served first come, first served, one at a time, by a
 * blocking pop on a connection of their own; the waiting puts are retried in
 * order each time a pop anywhere says it made room.
 *
 * @module
 */
import type { RedisClient } from "../../../lib/redis/mod.ts";
import {
  type Leased,
  type LeaseOptions,
  StoreUnavailableError,
  type WaitOptions,
} from "../mod.ts";
import { type PopWaiter, Waiters } from "../waiters.ts";
import type { InFlight } from "./inflight.ts";
import type { ItemLeases } from "./item_leases.ts";
import type { QueueKeys } from "./keys.ts";
import type { QueueProtocol } from "./protocol.ts";
import type { Reachability } from "./recovery.ts";

/** The longest one blocking pop waits in Redis before it is issued again. */
export const BLOCK_SECONDS = 1;

/** What {@linkcode RedisWaiting} serves its waiters with. */
export interface RedisWaitingParts {
  /** The connection for blocking pops, used by nothing else. */
  blocker: RedisClient;
  /** The queue's keys. */
  keys: QueueKeys;
  /** The queue's put. */
  protocol: QueueProtocol;
  /** The queue's pop, through this server's items in flight. */
  inFlight: InFlight;
  /** The queue's leasing pop. */
  leases: ItemLeases;
  /** Whether Redis is reachable. */
  reachability: Reachability;
  /** Aborted when the store closes: nothing is served after that. */
  closing: AbortSignal;
}

/** The waiting puts and pops of one server, and how they are served. */
export class RedisWaiting {
  readonly #parts: RedisWaitingParts;
  // The items of this server's waiting puts are bounded as in the memory
  // store: past the bound a put answers false at once instead of waiting.
  readonly #waiters = new Waiters();
  #popping: Promise<void> | undefined;
  #admitting: Promise<void> | undefined;
  #admitAgain = false;

  /** Serves nobody until a call waits. */
  constructor(parts: RedisWaitingParts) {
    this.#parts = parts;
  }

  /** The number of puts waiting for room. */
  get puts(): number {
    return this.#waiters.puts.size;
  }

  /** The number of pops waiting for an item. */
  get pops(): number {
    return this.#waiters.pops.size;
  }

  /** Whether a put of `bytes` more may wait within the bound. */
  holds(bytes: number): boolean {
    return this.#waiters.holds(bytes);
  }

  /** Waits behind this server's earlier waiting puts for room. */
  put(item: string, bytes: number, options: WaitOptions): Promise<boolean> {
    const waiting = this.#waiters.put(item, bytes, options);
    // The first try raised the flag: a pop from now on publishes, but one
    // may have made room between that try and this wait.
    if (this.#waiters.puts.size === 1) this.admitPuts();
    return waiting;
  }

  /** Waits behind this server's earlier waiting pops for an item. */
  pop(options: WaitOptions): Promise<string | undefined> {
    const waiting = this.#waiters.pop(options);
    this.#startPopping();
    return waiting;
  }

  /** Waits in the same line as {@linkcode pop} for an item to lease. */
  lease(options: LeaseOptions): Promise<Leased | undefined> {
    const waiting = this.#waiters.lease(options);
    this.#startPopping();
    return waiting;
  }

  /** Fails every waiter whose Redis step is not running with `reason`. */
  failAll(reason: unknown): void {
    this.#waiters.failAll(reason);
  }

  /**
   * Ends every waiting call with `reason`, closes the blocking connection
   * and resolves once the blocking pop has stopped.
   */
  async close(reason: unknown): Promise<void> {
    this.#waiters.failAll(reason);
    this.#waiters.clear();
    this.#parts.blocker.destroy();
    await this.#popping;
  }

  /**
   * Retries this server's waiting puts in order while they fit, one at a
   * time; called when a pop anywhere made room and when Redis is back.
   */
  admitPuts(): void {
    if (this.#admitting) {
      this.#admitAgain = true;
      return;
    }
    const { protocol, reachability, closing } = this.#parts;
    this.#admitting = (async () => {
      do {
        this.#admitAgain = false;
        for (const waiter of this.#waiters.puts) {
          if (closing.aborted || reachability.unreachable !== undefined) return;
          waiter.busy = true;
          let added: boolean;
          try {
            added = await protocol.tryPut(waiter.item, true);
          } catch (error: unknown) {
            waiter.busy = false;
            waiter.fail(error);
            return;
          }
          waiter.busy = false;
          if (added) {
            waiter.settle(true);
          } else {
            waiter.leaving?.();
            break;
          }
        }
      } while (this.#admitAgain && this.#waiters.puts.size > 0);
    })().finally(() => {
      this.#admitting = undefined;
    });
  }

  #startPopping(): void {
    this.#popping ??= this.#servePops().finally(() => {
      this.#popping = undefined;
    });
  }

  /**
   * Serves this server's waiting pops, first come first served, with one
   * blocking pop at a time on the blocking connection: `BLMOVE` moves the
   * head item into this server's in-flight list, then the first waiter pops
   * it from there (if the lease ran out meanwhile and another server
   * returned it to the queue, it is not delivered here), or leases it from
   * there if it asks for a lease. An item that arrives when no waiter is
   * left goes back to the head, and so does one whose waiter left (gave up
   * or timed out) before it was delivered or leased.
   */
  async #servePops(): Promise<void> {
    const { blocker, keys, inFlight, reachability, closing } = this.#parts;
    while (this.#waiters.pops.size > 0 && !closing.aborted) {
      let moved: string | null;
      try {
        moved = await blocker.blMove(
          keys.items,
          keys.inflight,
          "LEFT",
          "RIGHT",
          BLOCK_SECONDS,
        );
      } catch (error: unknown) {
        if (closing.aborted) return;
        const reason = error instanceof Error ? error.message : String(error);
        this.failAll(new StoreUnavailableError(reachability.line(reason)));
        return;
      }
      if (moved === null) continue;
      const [waiter] = this.#waiters.pops;
      if (waiter === undefined) {
        await inFlight.returnMoved().catch(() => {});
        return;
      }
      waiter.busy = true;
      let item: string | Leased | undefined;
      try {
        item = await this.#take(waiter);
      } catch (error: unknown) {
        // An item not delivered is back at the head, or goes back once
        // Redis is (or, if this server dies, once its lease runs out).
        waiter.busy = false;
        if (waiter.leaving) waiter.leaving();
        else waiter.fail(error);
        continue;
      }
      waiter.busy = false;
      if (item === undefined) {
        waiter.leaving?.();
      } else {
        waiter.settle(item);
      }
    }
  }

  /**
   * Takes the item this server's blocking pop moved into its in-flight list
   * for `waiter`: pops it, or leases it if the waiter asks for a lease (and
   * gives it back at once if the waiter left meanwhile).
   */
  async #take(waiter: PopWaiter): Promise<string | Leased | undefined> {
    const { keys, inFlight, leases } = this.#parts;
    if (waiter.lease === undefined) {
      return await inFlight.pop(
        keys.inflight,
        () => waiter.leaving !== undefined,
      );
    }
    const leased = await leases.take(keys.inflight, waiter.lease);
    if (leased !== undefined && waiter.leaving !== undefined) {
      await leases.release(leased.receipt).catch(() => {});
      return undefined;
    }
    return leased;
  }
}
