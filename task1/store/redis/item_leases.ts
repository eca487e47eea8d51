/**
 * The items under lease in the Redis store, the same on every server of the
 * queue: a leasing pop moves the head entry into the hash of leased items
 * under a new receipt (`lease_item.lua`), and the lease's end goes in a
 * sorted set of deadlines on Redis's clock. Ack (`ack.lua`), Release
 * (`give_back.lua`) and Extend (`extend.lua`) work on any server. A lease
 * that runs out goes back to the head (`lapse.lua`), run by one timer armed
 * for the earliest deadline this server knows of, and by the store's renewal
 * (about every second), which also learns the earliest deadline of the whole
 * queue: a lease taken by a server that died still ends, on another. The
 * leases of a Session go back when its signal aborts, when this server
 * closes, or, once it died, when its own lease on the queue runs out
 * (`lease.lua`, through the set of its Sessions' receipts).
 *
 * @module
 */
import type { RedisClient } from "../../../lib/redis/mod.ts";
import { LeaseOwners, newReceipt } from "../leases.ts";
import type { Leased, LeaseOptions } from "../mod.ts";
import { entryScript } from "./entries.ts";
import type { QueueKeys } from "./keys.ts";
import type { Reachability } from "./recovery.ts";
import ACK from "./ack.lua" with { type: "text" };
import EXTEND from "./extend.lua" with { type: "text" };
import GIVE_BACK from "./give_back.lua" with { type: "text" };
import LAPSE from "./lapse.lua" with { type: "text" };
import LEASE_ITEM from "./lease_item.lua" with { type: "text" };

/**
 * How long after a deadline its timer runs `lapse.lua`, in milliseconds, so
 * that Redis's clock has surely passed it too.
 */
const SLACK_MS = 5;

/** The longest a timer may be set for, in milliseconds. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The queue's leased items, as one server takes, ends and watches them. */
export class ItemLeases {
  readonly #client: RedisClient;
  readonly #keys: QueueKeys;
  readonly #reachability: Reachability;
  readonly #scripts = {
    ack: entryScript(ACK),
    extend: entryScript(EXTEND),
    giveBack: entryScript(GIVE_BACK),
    lapse: entryScript(LAPSE),
    lease: entryScript(LEASE_ITEM),
  };
  readonly #owners = new LeaseOwners((receipts) => this.#endOwned(receipts));
  /** Owners' leases being given back, awaited by `close`. */
  readonly #givingBack = new Set<Promise<unknown>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedAt = Infinity;
  #closed = false;

  /** The leases of the queue at `keys`, run on `client`. */
  constructor(
    client: RedisClient,
    keys: QueueKeys,
    reachability: Reachability,
  ) {
    this.#client = client;
    this.#keys = keys;
    this.#reachability = reachability;
  }

  /**
   * Leases the head of `list` (the items, or this server's in-flight list)
   * for `leaseMs`, to `owner` if given, and resolves to it with its receipt;
   * undefined when the list is empty.
   *
   * @throws the owner's reason when its Session has already ended
   * @throws {StoreUnavailableError} when Redis is unreachable; an item it
   * leased then goes back when the lease runs out
   */
  async take(
    list: string,
    { leaseMs, owner }: Pick<LeaseOptions, "leaseMs" | "owner">,
  ): Promise<Leased | undefined> {
    if (owner?.aborted) throw owner.reason;
    const keys = this.#keys;
    const receipt = newReceipt();
    const reply = await this.#reachability.command(() =>
      this.#scripts.lease.run(
        this.#client,
        [list, keys.leased, keys.deadlines, keys.meta, keys.owned],
        [receipt, leaseMs, owner ? 1 : 0],
      )
    );
    if (reply === null) return undefined;
    const [item, deliveryCount] = reply as [string, number];
    this.#arm(leaseMs);
    if (owner) this.#owners.add(owner, receipt);
    return {
      item: String(item),
      receipt,
      deliveryCount: Number(deliveryCount),
    };
  }

  /** Removes the item leased under `receipt` for good; false if none. */
  async ack(receipt: string): Promise<boolean> {
    const keys = this.#keys;
    const acked = await this.#reachability.command(() =>
      this.#scripts.ack.run(
        this.#client,
        [keys.leased, keys.deadlines, keys.meta, keys.putWait, keys.owned],
        [receipt, keys.room],
      )
    );
    this.#owners.remove(receipt);
    return acked === 1;
  }

  /** Puts the item leased under `receipt` back at the head; false if none. */
  async release(receipt: string): Promise<boolean> {
    const released = await this.#giveBack([receipt]);
    this.#owners.remove(receipt);
    return released === 1;
  }

  /** Makes the lease under `receipt` end `leaseMs` from now; false if none. */
  async extend(receipt: string, leaseMs: number): Promise<boolean> {
    const keys = this.#keys;
    const extended = await this.#reachability.command(() =>
      this.#scripts.extend.run(
        this.#client,
        [keys.leased, keys.deadlines],
        [receipt, leaseMs],
      )
    );
    if (extended !== 1) return false;
    this.#arm(leaseMs);
    return true;
  }

  /**
   * Puts the item of every lease of the queue that ran out back at the head
   * and sets the timer for the next deadline. Its errors are Redis's own.
   */
  async lapse(): Promise<void> {
    const keys = this.#keys;
    const [, nextMs] = await this.#scripts.lapse.run(
      this.#client,
      [keys.items, keys.leased, keys.deadlines],
      [],
    ) as [number, number];
    if (nextMs >= 0) this.#arm(nextMs);
  }

  /**
   * Stops the timer and gives back the leases of this server's Sessions:
   * they end with the server (and so they do when it dies: its set of them
   * goes with its lease, `lease.lua`). Never rejects.
   */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    const receipts = this.#owners.clear();
    await Promise.all(this.#givingBack);
    if (this.#client.isReady) {
      if (receipts.length > 0) await this.#giveBack(receipts).catch(() => {});
      // What is left was acked or released on another server, or ran out.
      await this.#client.del(this.#keys.owned).catch(() => {});
    }
  }

  /** Ends the leases under `receipts` without an Ack; resolves to how many. */
  async #giveBack(receipts: string[]): Promise<number> {
    const keys = this.#keys;
    const given = await this.#reachability.command(() =>
      this.#scripts.giveBack.run(
        this.#client,
        [keys.items, keys.leased, keys.deadlines, keys.owned],
        receipts,
      )
    );
    return Number(given);
  }

  /** Sets the timer to run `lapse.lua` `ms` from now, unless set earlier. */
  #arm(ms: number): void {
    if (this.#closed) return;
    const wait = Math.min(ms + SLACK_MS, MAX_TIMER_MS);
    const at = performance.now() + wait;
    if (at >= this.#armedAt) return;
    clearTimeout(this.#timer);
    this.#armedAt = at;
    this.#timer = setTimeout(() => {
      this.#armedAt = Infinity;
      this.#timer = undefined;
      // While Redis is unreachable, the renewal runs it once Redis is back.
      if (this.#reachability.unreachable === undefined) {
        this.lapse().catch(() => {});
      }
    }, wait);
  }

  /** A Session ended: its leases here go back at once, in lease order. */
  #endOwned(receipts: string[]): void {
    if (this.#closed) return;
    // If this fails, each lease still ends when it runs out.
    const giving = this.#giveBack(receipts).catch(() => {});
    this.#givingBack.add(giving);
    giving.finally(() => this.#givingBack.delete(giving));
  }
}
