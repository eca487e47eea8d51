/**
 * The Redis store: the queue lives in Redis, so that several queue-servers
 * given the same URL and key serve one queue. This module opens the store
 * and wires its parts: the keys (`keys.ts`), the put script (`protocol.ts`),
 * the pop through this server's items in flight (`inflight.ts`), the
 * waiting calls (`waiting.ts`), the items under lease (`item_leases.ts`),
 * the server's lease on its in-flight items (`leases.ts`), outage recovery
 * (`recovery.ts`) and the durability check (`durability.ts`).
 *
 * Three connections per server, however many calls wait: one for commands
 * (watched: its pings bound every command), one that runs the blocking pops
 * of this server's waiting pops one at a time (`BLMOVE` into the server's
 * in-flight list, then the pop takes it from there), and one that listens
 * for room for this server's waiting puts.
 *
 * @module
 */
import {
  connectRedis,
  describeUrl,
  newRedisClient,
  type RedisClient,
  type RedisClientOptions,
} from "../../../lib/redis/mod.ts";
import {
  DEFAULT_MAX_BYTES,
  type Leased,
  type LeaseOptions,
  type QueueStore,
  StoreClosedError,
  type StoreStatus,
  utf8Bytes,
  type WaitOptions,
} from "../mod.ts";
import { checkDurability } from "./durability.ts";
import { InFlight } from "./inflight.ts";
import { ItemLeases } from "./item_leases.ts";
import { QueueKeys } from "./keys.ts";
import { Lease } from "./leases.ts";
import { QueueProtocol } from "./protocol.ts";
import { Reachability } from "./recovery.ts";
import { BLOCK_SECONDS, RedisWaiting } from "./waiting.ts";

/**
 * Options of {@linkcode openRedisStore}; `ca` as for {@linkcode newRedisClient}.
 */
export interface RedisStoreOptions extends Pick<RedisClientOptions, "ca"> {
  /**
   * The most UTF-8 bytes of items, stored with a new queue.
   *
   * @default {1073741824}
   */
  maxBytes?: number;
  /**
   * The queue's name in Redis: servers with the same Redis and key share
   * one queue.
   *
   * @default {"queue"}
   */
  key?: string;
  /**
   * How long a command, or a connection attempt, may take before Redis
   * counts as unreachable, in milliseconds.
   *
   * @default {2000}
   */
  deadlineMs?: number;
  /**
   * How long a server's lease lasts: the in-flight item of a server that
   * stopped renewing it for this long goes back to the head of the queue.
   *
   * @default {10000}
   */
  leaseMs?: number;
}

/** What {@linkcode openRedisStore} found in Redis, for the start-up log. */
export interface RedisStoreReport {
  /** The stored capacity, which the store uses. */
  capacity: number;
  /** The stored byte bound, which the store uses. */
  maxBytes: number;
  /**
   * One line when Redis's settings do not make every acknowledged change
   * durable (or could not be read), else undefined.
   */
  durabilityWarning: string | undefined;
}

/**
 * Connects to the Redis at `url` (`redis://` or `rediss://`, with an
 * optional password and database number) and opens the queue named by
 * `options.key`, storing `capacity` and `maxBytes` with it unless it has
 * them already; the stored ones win.
 *
 * @throws {Error} when Redis cannot be reached within the deadline
 */
export async function openRedisStore(
  url: string,
  capacity: number,
  options: RedisStoreOptions = {},
): Promise<{ store: RedisStore; report: RedisStoreReport }> {
  const store = new RedisStore(url, capacity, options);
  try {
    const report = await store.open();
    return { store, report };
  } catch (error: unknown) {
    await store.close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`Cannot use Redis at "${describeUrl(url)}": ${reason}`);
  }
}

/**
 * A queue kept in Redis and shared by every server that opens it. Use
 * {@linkcode openRedisStore} to make one.
 */
export class RedisStore implements QueueStore {
  readonly #deadlineMs: number;
  readonly #keys: QueueKeys;
  readonly #client: RedisClient;
  readonly #blocker: RedisClient;
  readonly #listener: RedisClient;
  readonly #closing = new AbortController();
  readonly #reachability: Reachability;
  readonly #protocol: QueueProtocol;
  readonly #inFlight: InFlight;
  readonly #waiting: RedisWaiting;
  readonly #lease: Lease;
  readonly #leases: ItemLeases;
  /** Never aborted: Redis's failures are recoverable (`unavailable`). */
  readonly #neverFails = new AbortController().signal;

  /** Prepares a store; {@linkcode openRedisStore} connects it. */
  constructor(url: string, capacity: number, options: RedisStoreOptions) {
    const { maxBytes = DEFAULT_MAX_BYTES, key = "queue" } = options;
    const { deadlineMs = 2000, leaseMs = 10_000, ca } = options;
    const id = crypto.randomUUID();
    const keys = new QueueKeys(key, id);
    this.#keys = keys;
    this.#deadlineMs = deadlineMs;
    const pingMs = Math.max(50, Math.floor(deadlineMs / 4));
    this.#client = newRedisClient(url, {
      deadlineMs,
      pingMs,
      watched: true,
      ca,
    });
    this.#listener = newRedisClient(url, { deadlineMs, pingMs, ca });
    // Always in a blocking pop of at most BLOCK_SECONDS when busy, so a
    // silent socket counts as dead only past that.
    this.#blocker = newRedisClient(url, {
      deadlineMs: deadlineMs + BLOCK_SECONDS * 1000,
      ca,
    });
    const closing = this.#closing.signal;
    const reachability = new Reachability(this.#client, {
      url,
      closing,
      recover: async () => {
        await protocol.init();
        await inFlight.recover();
      },
      lost: (error) => this.#waiting.failAll(error),
    });
    const protocol = new QueueProtocol(this.#client, keys, reachability, {
      capacity,
      maxBytes,
      flagMs: leaseMs,
    });
    const inFlight = new InFlight(this.#client, keys, { id, reachability });
    this.#reachability = reachability;
    this.#protocol = protocol;
    this.#inFlight = inFlight;
    this.#leases = new ItemLeases(this.#client, keys, reachability);
    this.#waiting = new RedisWaiting({
      blocker: this.#blocker,
      keys,
      protocol,
      inFlight,
      leases: this.#leases,
      reachability,
      closing,
    });
    this.#lease = new Lease(this.#client, keys, { id, leaseMs });
  }

  /** Connects, stores or reads the queue's settings and checks durability. */
  async open(): Promise<RedisStoreReport> {
    const ms = this.#deadlineMs;
    await connectRedis(this.#client, ms);
    await connectRedis(this.#blocker, ms);
    await connectRedis(this.#listener, ms);
    await this.#listener.subscribe(
      this.#keys.room,
      () => this.#waiting.admitPuts(),
    );
    await this.#protocol.init();
    await this.#inFlight.recover();
    this.#reachability.watch();
    await this.#renewLease();
    this.#lease.keep(() => this.#renewLease());
    return {
      capacity: this.#protocol.capacity,
      maxBytes: this.#protocol.maxBytes,
      durabilityWarning: await checkDurability(this.#client),
    };
  }

  /** Never aborted: a lost Redis makes the store unavailable, not failed. */
  get failed(): AbortSignal {
    return this.#neverFails;
  }

  /** Calls `listener` when Redis becomes unreachable and when it is back. */
  watchAvailability(listener: (available: boolean) => void): void {
    this.#reachability.onChange(listener);
  }

  /**
   * Appends `item` in one atomic step if the queue (shared by every server)
   * has room for it; otherwise waits behind this server's earlier waiting
   * puts, retrying each time a pop anywhere makes room.
   */
  async put(item: string, options: WaitOptions = {}): Promise<boolean> {
    this.#check(options.signal);
    const { waitMs = 0 } = options;
    const bytes = utf8Bytes(item);
    const wait = waitMs > 0 && bytes <= this.#protocol.maxBytes &&
      this.#waiting.holds(bytes);
    if (this.#waiting.puts === 0 && await this.#protocol.tryPut(item, wait)) {
      return true;
    }
    if (!wait || !this.#waiting.holds(bytes)) return false;
    this.#check(options.signal);
    return await this.#waiting.put(item, bytes, options);
  }

  /**
   * Removes and returns the head item; when there is none, waits behind this
   * server's earlier waiting pops for Redis's blocking pop to hand one over.
   */
  async pop(options: WaitOptions = {}): Promise<string | undefined> {
    this.#check(options.signal);
    const { waitMs = 0 } = options;
    // A waiting pop goes behind this server's earlier waiting pops, which
    // the blocking connection serves first.
    if (waitMs <= 0 || this.#waiting.pops === 0) {
      const { signal } = options;
      const item = await this.#inFlight.pop(
        this.#keys.items,
        () => signal?.aborted ?? false,
      );
      if (item !== undefined || waitMs <= 0) return item;
    }
    this.#check(options.signal);
    return await this.#waiting.pop(options);
  }

  /**
   * Leases the head item in one atomic step; when there is none, waits in
   * the same line as this server's waiting pops. A caller gone before the
   * answer gets nothing: its item goes back to the head at once.
   */
  async lease(options: LeaseOptions): Promise<Leased | undefined> {
    this.#check(options.signal);
    if (options.owner?.aborted) throw options.owner.reason;
    const { waitMs = 0, signal } = options;
    if (waitMs <= 0 || this.#waiting.pops === 0) {
      const leased = await this.#leases.take(this.#keys.items, options);
      if (leased !== undefined && signal?.aborted) {
        await this.#leases.release(leased.receipt).catch(() => {});
        throw signal.reason;
      }
      if (leased !== undefined || waitMs <= 0) return leased;
    }
    this.#check(signal);
    return await this.#waiting.lease(options);
  }

  /** Removes the item leased under `receipt` for good, from any server. */
  async ack(receipt: string): Promise<boolean> {
    this.#check();
    return await this.#leases.ack(receipt);
  }

  /** Puts the item leased under `receipt` back at the head, from any server. */
  async release(receipt: string): Promise<boolean> {
    this.#check();
    return await this.#leases.release(receipt);
  }

  /** Moves the end of the lease under `receipt` to `leaseMs` from now. */
  async extend(receipt: string, leaseMs: number): Promise<boolean> {
    this.#check();
    return await this.#leases.extend(receipt, leaseMs);
  }

  /** The head item, read from Redis. */
  async peek(): Promise<string | undefined> {
    this.#check();
    return await this.#protocol.peek();
  }

  /** The number of items in Redis (not those being delivered or leased). */
  async size(): Promise<number> {
    this.#check();
    return await this.#protocol.size();
  }

  /** What the store last saw in Redis and how many callers wait here. */
  status(): StoreStatus {
    return {
      size: this.#protocol.lastSize,
      leased: this.#protocol.lastLeased,
      bytes: this.#protocol.lastBytes,
      capacity: this.#protocol.capacity,
      maxBytes: this.#protocol.maxBytes,
      waitingPuts: this.#waiting.puts,
      waitingPops: this.#waiting.pops,
    };
  }

  /**
   * Ends every waiting call, gives back the leases of this server's
   * Sessions, returns its items in flight (if any) to the head of the queue,
   * drops its lease and closes the connections.
   */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    this.#lease.stop();
    await this.#waiting.close(
      new StoreClosedError("The queue is shutting down"),
    );
    await this.#leases.close();
    if (this.#client.isReady) await this.#inFlight.leave().catch(() => {});
    this.#listener.destroy();
    this.#client.destroy();
  }

  /** Closes the store. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Throws when the store is closed, unreachable, or the caller gave up. */
  #check(signal?: AbortSignal): void {
    if (this.#closing.signal.aborted) {
      throw new StoreClosedError("The queue is shutting down");
    }
    this.#reachability.check();
    if (signal?.aborted) throw signal.reason;
  }

  /**
   * Renews the lease, returns dead servers' items and the items of leases
   * that ran out (whichever server took them), refreshes the status;
   * nothing while Redis is unreachable (the commands would wait for it).
   * With no waiting pop here, returns an item a blocking pop moved out for
   * nobody: one sent on a connection given up, that Redis ran late.
   */
  async #renewLease(): Promise<void> {
    if (this.#reachability.unreachable !== undefined) return;
    await this.#lease.renew(this.#waiting.puts > 0);
    if (this.#waiting.pops === 0) await this.#inFlight.returnMoved();
    await this.#leases.lapse();
    await this.#protocol.readCounts();
  }
}
