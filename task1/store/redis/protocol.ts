/**
 * The Redis store's settings, put and reads: each change is one Lua script
 * (`init.lua`, `put.lua`) that checks and writes in one atomic step, so a
 * put checks the count and the bytes and then pushes, and the capacity is
 * exact however many servers race. Pops are in `inflight.ts`, leases in
 * `item_leases.ts`.
 *
 * @module
 */
import { type RedisClient, RedisScript } from "../../../lib/redis/mod.ts";
import type { QueueKeys } from "./keys.ts";
import { entryScript } from "./entries.ts";
import type { Reachability } from "./recovery.ts";
import INIT from "./init.lua" with { type: "text" };
import PEEK from "./peek.lua" with { type: "text" };
import PUT from "./put.lua" with { type: "text" };

/** The queue's settings as this server asks for them. */
export interface QueueSettings {
  /** The most items, stored with a new queue. */
  capacity: number;
  /** The most UTF-8 bytes of items, stored with a new queue. */
  maxBytes: number;
  /** How long the flag that says a put waits lasts, in milliseconds. */
  flagMs: number;
}

/**
 * The queue's changes, run as scripts on the command connection, and what
 * this server last saw of the queue: the stored settings and the counters.
 */
export class QueueProtocol {
  readonly #client: RedisClient;
  readonly #keys: QueueKeys;
  readonly #reachability: Reachability;
  readonly #flagMs: number;
  readonly #scripts = {
    init: new RedisScript(INIT),
    peek: entryScript(PEEK),
    put: new RedisScript(PUT),
  };
  #capacity: number;
  #maxBytes: number;
  #size = 0;
  #leased = 0;
  #bytes = 0;

  /** The protocol of the queue at `keys`, run on `client`. */
  constructor(
    client: RedisClient,
    keys: QueueKeys,
    reachability: Reachability,
    settings: QueueSettings,
  ) {
    this.#client = client;
    this.#keys = keys;
    this.#reachability = reachability;
    this.#capacity = settings.capacity;
    this.#maxBytes = settings.maxBytes;
    this.#flagMs = settings.flagMs;
  }

  /** The stored capacity (this server's, until {@linkcode init} read it). */
  get capacity(): number {
    return this.#capacity;
  }

  /** The stored byte bound (this server's, until {@linkcode init} read it). */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** The number of items last seen. */
  get lastSize(): number {
    return this.#size;
  }

  /** The number of items under lease last seen. */
  get lastLeased(): number {
    return this.#leased;
  }

  /** The bytes of the items last seen, leased ones included. */
  get lastBytes(): number {
    return this.#bytes;
  }

  /**
   * Stores the capacity and byte bound with the queue unless it has them,
   * and reads the stored ones. Its errors are Redis's own.
   */
  async init(): Promise<void> {
    const [capacity, maxBytes] = await this.#scripts.init.run(
      this.#client,
      [this.#keys.meta],
      [this.#capacity, this.#maxBytes],
    ) as [string, string];
    this.#capacity = Number(capacity);
    this.#maxBytes = Number(maxBytes);
  }

  /**
   * Appends `item` if the queue has room and resolves to true; when it has
   * none, resolves to false and, if `wait`, raises the flag that makes pops
   * say when they made room.
   */
  async tryPut(item: string, wait: boolean): Promise<boolean> {
    const keys = this.#keys;
    const added = await this.#reachability.command(() =>
      this.#scripts.put.run(
        this.#client,
        [keys.items, keys.meta, keys.putWait],
        [item, this.#capacity, this.#maxBytes, wait ? this.#flagMs : 0],
      )
    );
    return added === 1;
  }

  /** The head item. */
  async peek(): Promise<string | undefined> {
    const item = await this.#reachability.command(() =>
      this.#scripts.peek.run(this.#client, [this.#keys.items], [])
    );
    return item === null ? undefined : String(item);
  }

  /**
   * The number of items (not counting those being delivered or leased), and
   * that of the items leased, read together.
   */
  async size(): Promise<number> {
    const keys = this.#keys;
    const [size, leased] = await this.#reachability.command(() =>
      this.#client.multi().lLen(keys.items).hLen(keys.leased).exec()
    );
    this.#size = Number(size);
    this.#leased = Number(leased);
    return this.#size;
  }

  /** Reads the queue's counters. Its errors are Redis's own. */
  async readCounts(): Promise<void> {
    const keys = this.#keys;
    const [counts, leased] = await this.#client.multi()
      .hmGet(keys.meta, ["count", "bytes"])
      .hLen(keys.leased)
      .exec() as unknown as [(string | null)[], number];
    this.#leased = Number(leased);
    // The count takes in the items leased and in flight.
    this.#size = Math.max(0, Number(counts[0] ?? 0) - this.#leased);
    this.#bytes = Number(counts[1] ?? 0);
  }
}
