/**
 * This server's lease on the queue: while it renews the lease, the items it
 * has in flight (`inflight.ts`) are its own to deliver; once a lease runs
 * out (the server died between taking an item and delivering it), any
 * server's renewal returns those items to the head of the queue, and ends
 * the leases its Sessions held.
 *
 * @module
 */
import { type RedisClient, RedisScript } from "../../../lib/redis/mod.ts";
import type { QueueKeys } from "./keys.ts";
import LEASE from "./lease.lua" with { type: "text" };

/** The lease of the server whose id is `id` on the queue at `keys`. */
export class Lease {
  readonly #client: RedisClient;
  readonly #keys: QueueKeys;
  readonly #id: string;
  readonly #leaseMs: number;
  readonly #script = new RedisScript(LEASE);
  #timer: ReturnType<typeof setInterval> | undefined;

  /** A lease of `leaseMs` milliseconds, renewed on `client`. */
  constructor(
    client: RedisClient,
    keys: QueueKeys,
    { id, leaseMs }: { id: string; leaseMs: number },
  ) {
    this.#client = client;
    this.#keys = keys;
    this.#id = id;
    this.#leaseMs = leaseMs;
  }

  /**
   * Renews the lease and returns dead servers' in-flight items; with
   * `putsWaiting`, raises the flag that makes pops say when they made room.
   */
  async renew(putsWaiting: boolean): Promise<void> {
    const keys = this.#keys;
    await this.#script.run(
      this.#client,
      [keys.servers, keys.items, keys.putWait, keys.deadlines],
      [
        this.#id,
        this.#leaseMs,
        keys.inflightPrefix,
        putsWaiting ? 1 : 0,
        keys.takenPrefix,
        keys.epochPrefix,
        keys.ownedPrefix,
      ],
    );
  }

  /** Runs `renewal` ten times per lease (at most every 50 ms) until stopped. */
  keep(renewal: () => Promise<void>): void {
    this.#timer = setInterval(
      () => renewal().catch(() => {}),
      Math.max(50, Math.floor(this.#leaseMs / 10)),
    );
  }

  /** Stops renewing. */
  stop(): void {
    clearInterval(this.#timer);
  }
}
