/**
 * The Redis store: the queue lives in Redis, so that several queue-servers
 * given the same URL and key serve one queue.
 *
 * Each change is one Lua script (the `redis/*.lua` files) that checks and
 * writes in one atomic step: a put checks the count and the bytes, then
 * pushes, so the capacity is exact however many servers race. The queue's
 * keys share the hash tag `{KEY}`, so they live on one node of a cluster.
 *
 * - `queue:{KEY}:items`, a list, head on the left;
 * - `queue:{KEY}:meta`, a hash: the capacity and byte bound stored with the
 *   queue, and the count and bytes of its items (those in flight included);
 * - `queue:{KEY}:inflight:ID`, the item a waiting pop of server ID took and
 *   has not delivered yet; `queue:{KEY}:servers`, the servers' leases, so
 *   that the in-flight item of a server that died goes back to the head;
 * - `queue:{KEY}:putwait`, a flag with a time to live: some server has puts
 *   waiting for room, so pops publish on the channel `queue:{KEY}:room`.
 *
 * Three connections per server, however many calls wait: one for commands
 * (watched: its pings bound every command), one that runs the blocking pops
 * of this server's waiting pops one at a time (`BLMOVE` into the server's
 * in-flight list, then a script delivers the item), and one that listens
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
  RedisScript,
} from "../../../lib/redis.ts";
import { Deadlines } from "../../../lib/deadlines.ts";
import {
  DEFAULT_MAX_BYTES,
  type QueueStore,
  StoreClosedError,
  type StoreStatus,
  StoreUnavailableError,
  utf8Bytes,
  type WaitOptions,
} from "../mod.ts";
import INIT from "./init.lua" with { type: "text" };
import LEASE from "./lease.lua" with { type: "text" };
import LEAVE from "./leave.lua" with { type: "text" };
import POP from "./pop.lua" with { type: "text" };
import PUT from "./put.lua" with { type: "text" };

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
 * The most UTF-8 bytes of items that this server's waiting puts hold in
 * memory together, as in the memory store: past it a put answers false at
 * once instead of waiting.
 */
const MAX_WAITING_BYTES = 16 * 1024 * 1024;

/** The longest one blocking pop waits in Redis before it is issued again. */
const BLOCK_SECONDS = 1;

interface Waiter<T> {
  /** Set while a Redis step for this waiter runs: it cannot leave then. */
  busy: boolean;
  /** Set when it gave up while busy: it leaves when the step answers. */
  leaving: (() => void) | undefined;
  settle(value: T): void;
  fail(reason: unknown): void;
}

interface PutWaiter extends Waiter<boolean> {
  item: string;
  bytes: number;
}

/** The Redis keys of one queue. */
class QueueKeys {
  readonly items: string;
  readonly meta: string;
  readonly servers: string;
  readonly putWait: string;
  readonly room: string;
  readonly inflightPrefix: string;

  constructor(name: string) {
    const prefix = `queue:{${name}}:`;
    this.items = prefix + "items";
    this.meta = prefix + "meta";
    this.servers = prefix + "servers";
    this.putWait = prefix + "putwait";
    this.room = prefix + "room";
    this.inflightPrefix = prefix + "inflight:";
  }
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
  readonly #url: string;
  readonly #keys: QueueKeys;
  readonly #id = crypto.randomUUID();
  readonly #inflight: string;
  readonly #leaseMs: number;
  readonly #deadlineMs: number;
  readonly #client: RedisClient;
  readonly #blocker: RedisClient;
  readonly #listener: RedisClient;
  readonly #scripts = {
    init: new RedisScript(INIT),
    lease: new RedisScript(LEASE),
    leave: new RedisScript(LEAVE),
    pop: new RedisScript(POP),
    put: new RedisScript(PUT),
  };
  #capacity: number;
  #maxBytes: number;
  #size = 0;
  #bytes = 0;
  #waitingBytes = 0;
  readonly #putWaiters = new Set<PutWaiter>();
  readonly #popWaiters = new Set<Waiter<string | undefined>>();
  readonly #deadlines = new Deadlines();
  readonly #availability: ((available: boolean) => void)[] = [];
  /** Why Redis is unreachable, while it is; undefined while it serves. */
  #unreachable: string | undefined;
  #closed = false;
  #recovering = false;
  #leaseTimer: ReturnType<typeof setInterval> | undefined;
  #popping: Promise<void> | undefined;
  #admitting: Promise<void> | undefined;
  #admitAgain = false;
  /** Never aborted: Redis's failures are recoverable (`unavailable`). */
  readonly #neverFails = new AbortController().signal;

  /** Prepares a store; {@linkcode openRedisStore} connects it. */
  constructor(url: string, capacity: number, options: RedisStoreOptions) {
    const { maxBytes = DEFAULT_MAX_BYTES, key = "queue" } = options;
    const { deadlineMs = 2000, leaseMs = 10_000, ca } = options;
    this.#url = url;
    this.#keys = new QueueKeys(key);
    this.#inflight = this.#keys.inflightPrefix + this.#id;
    this.#capacity = capacity;
    this.#maxBytes = maxBytes;
    this.#leaseMs = leaseMs;
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
  }

  /** Connects, stores or reads the queue's settings and checks durability. */
  async open(): Promise<RedisStoreReport> {
    const ms = this.#deadlineMs;
    await connectRedis(this.#client, ms);
    await connectRedis(this.#blocker, ms);
    await connectRedis(this.#listener, ms);
    await this.#listener.subscribe(this.#keys.room, () => this.#admitPuts());
    await this.#init();
    this.#client.on("error", (error: Error) => this.#lost(error.message));
    this.#client.on("end", () => this.#lost("connection closed"));
    this.#client.on("ready", () => this.#found());
    await this.#renewLease();
    this.#leaseTimer = setInterval(
      () => this.#renewLease().catch(() => {}),
      Math.max(50, Math.floor(this.#leaseMs / 10)),
    );
    return {
      capacity: this.#capacity,
      maxBytes: this.#maxBytes,
      durabilityWarning: await this.#checkDurability(),
    };
  }

  /** Never aborted: a lost Redis makes the store unavailable, not failed. */
  get failed(): AbortSignal {
    return this.#neverFails;
  }

  /** Calls `listener` when Redis becomes unreachable and when it is back. */
  watchAvailability(listener: (available: boolean) => void): void {
    this.#availability.push(listener);
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
    const wait = waitMs > 0 && bytes <= this.#maxBytes &&
      this.#waitingBytes + bytes <= MAX_WAITING_BYTES;
    if (this.#putWaiters.size === 0 && await this.#tryPut(item, wait)) {
      return true;
    }
    if (!wait || this.#waitingBytes + bytes > MAX_WAITING_BYTES) return false;
    this.#check(options.signal);
    this.#waitingBytes += bytes;
    const waiting = this.#wait(
      this.#putWaiters,
      { item, bytes },
      false,
      options,
      () => this.#waitingBytes -= bytes,
    );
    // The first try raised the flag: a pop from now on publishes, but one
    // may have made room between that try and this wait.
    if (this.#putWaiters.size === 1) this.#admitPuts();
    return await waiting;
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
    if (waitMs <= 0 || this.#popWaiters.size === 0) {
      const item = await this.#popFrom(this.#keys.items);
      if (item !== undefined || waitMs <= 0) return item;
    }
    this.#check(options.signal);
    const waiting = this.#wait(this.#popWaiters, {}, undefined, options);
    this.#popping ??= this.#servePops().finally(() => {
      this.#popping = undefined;
    });
    return await waiting;
  }

  /** The head item, read from Redis. */
  async peek(): Promise<string | undefined> {
    this.#check();
    const item = await this.#command(() =>
      this.#client.lIndex(this.#keys.items, 0)
    );
    return item ?? undefined;
  }

  /** The number of items in Redis (not counting those being delivered). */
  async size(): Promise<number> {
    this.#check();
    this.#size = await this.#command(() => this.#client.lLen(this.#keys.items));
    return this.#size;
  }

  /** What the store last saw in Redis and how many callers wait here. */
  status(): StoreStatus {
    return {
      size: this.#size,
      bytes: this.#bytes,
      capacity: this.#capacity,
      maxBytes: this.#maxBytes,
      waitingPuts: this.#putWaiters.size,
      waitingPops: this.#popWaiters.size,
    };
  }

  /**
   * Ends every waiting call, returns this server's in-flight item (if any)
   * to the head of the queue, drops its lease and closes the connections.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#leaseTimer);
    this.#failWaiters(new StoreClosedError("The queue is shutting down"));
    this.#deadlines.clear();
    this.#blocker.destroy();
    await this.#popping;
    if (this.#client.isReady) {
      await this.#scripts.leave.run(
        this.#client,
        [this.#keys.servers, this.#keys.items, this.#inflight],
        [this.#id],
      ).catch(() => {});
    }
    this.#listener.destroy();
    this.#client.destroy();
  }

  /** Closes the store. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Throws when the store is closed, unreachable, or the caller gave up. */
  #check(signal?: AbortSignal): void {
    if (this.#closed) throw new StoreClosedError("The queue is shutting down");
    if (this.#unreachable !== undefined) {
      throw new StoreUnavailableError(this.#unreachable);
    }
    if (signal?.aborted) throw signal.reason;
  }

  /** Runs a Redis command; a failure means Redis is unreachable. */
  async #command<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error: unknown) {
      if (this.#closed) {
        throw new StoreClosedError("The queue is shutting down");
      }
      const reason = error instanceof Error ? error.message : String(error);
      // A script's own error (a bug, or a key of the wrong type) is not an
      // outage: it reaches the caller as an internal error.
      if (/^(ERR|WRONGTYPE)/.test(reason)) throw error;
      throw new StoreUnavailableError(
        this.#unreachable ?? this.#unreachableLine(reason),
      );
    }
  }

  #unreachableLine(reason: string): string {
    return `Redis at "${describeUrl(this.#url)}" is unreachable: ${reason}`;
  }

  /** Runs the put script; `wait` raises the flag when there is no room. */
  async #tryPut(item: string, wait: boolean): Promise<boolean> {
    const keys = this.#keys;
    const added = await this.#command(() =>
      this.#scripts.put.run(
        this.#client,
        [keys.items, keys.meta, keys.putWait],
        [item, this.#capacity, this.#maxBytes, wait ? this.#leaseMs : 0],
      )
    );
    return added === 1;
  }

  /** Runs the pop script on `list`: the items, or the in-flight list. */
  async #popFrom(list: string): Promise<string | undefined> {
    const keys = this.#keys;
    const item = await this.#command(() =>
      this.#scripts.pop.run(
        this.#client,
        [list, keys.meta, keys.putWait],
        [keys.room],
      )
    );
    return item === null ? undefined : String(item);
  }

  /**
   * Serves this server's waiting pops, first come first served, with one
   * blocking pop at a time on the blocking connection: `BLMOVE` moves the
   * head item into this server's in-flight list, then the pop script
   * delivers it to the first waiter (if the lease ran out meanwhile and
   * another server returned it to the queue, it is not delivered here). An
   * item that arrives when no waiter is left goes back to the head.
   */
  async #servePops(): Promise<void> {
    const keys = this.#keys;
    while (this.#popWaiters.size > 0 && !this.#closed) {
      let moved: string | null;
      try {
        moved = await this.#blocker.blMove(
          keys.items,
          this.#inflight,
          "LEFT",
          "RIGHT",
          BLOCK_SECONDS,
        );
      } catch (error: unknown) {
        if (this.#closed) return;
        const reason = error instanceof Error ? error.message : String(error);
        this.#failWaiters(
          new StoreUnavailableError(this.#unreachableLine(reason)),
        );
        return;
      }
      if (moved === null) continue;
      const [waiter] = this.#popWaiters;
      if (waiter === undefined) {
        await this.#command(() =>
          this.#client.lMove(this.#inflight, keys.items, "RIGHT", "LEFT")
        ).catch(() => {});
        return;
      }
      waiter.busy = true;
      let item: string | undefined;
      try {
        item = await this.#popFrom(this.#inflight);
      } catch (error: unknown) {
        // The item stays in flight; the lease returns it if this server
        // cannot, and a recovered connection returns it at once.
        waiter.busy = false;
        waiter.fail(error);
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
   * Retries this server's waiting puts in order while they fit, one at a
   * time; called when a pop anywhere made room and when Redis is back.
   */
  #admitPuts(): void {
    if (this.#admitting) {
      this.#admitAgain = true;
      return;
    }
    this.#admitting = (async () => {
      do {
        this.#admitAgain = false;
        for (const waiter of this.#putWaiters) {
          if (this.#closed || this.#unreachable !== undefined) return;
          waiter.busy = true;
          let added: boolean;
          try {
            added = await this.#tryPut(waiter.item, true);
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
      } while (this.#admitAgain && this.#putWaiters.size > 0);
    })().finally(() => {
      this.#admitting = undefined;
    });
  }

  /**
   * Queues a waiter in `waiters` until it is settled, its time is up (it
   * then resolves to `timedOut`), or its signal or the store ends it. A
   * waiter whose Redis step is running leaves only once the step answers,
   * so that an item is never stored or taken for a caller who left.
   * `release` runs once, when it leaves the queue for any reason.
   */
  #wait<T, W extends Waiter<T>>(
    waiters: Set<W>,
    kind: Omit<W, keyof Waiter<T>>,
    timedOut: T,
    { waitMs = 0, signal }: WaitOptions,
    release = () => {},
  ): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const detach = () => {
      if (!waiters.delete(waiter)) return;
      release();
      this.#deadlines.remove(deadline);
      signal?.removeEventListener("abort", onAbort);
    };
    const leave = (end: () => void) => {
      if (waiter.busy) {
        waiter.leaving ??= () => {
          detach();
          end();
        };
        return;
      }
      detach();
      end();
    };
    const waiter = {
      ...kind,
      busy: false,
      leaving: undefined,
      settle: (value: T) => {
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
      () => leave(() => resolve(timedOut)),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
    waiters.add(waiter);
    return promise;
  }

  #failWaiters(reason: unknown): void {
    for (const waiter of [...this.#putWaiters, ...this.#popWaiters]) {
      if (!waiter.busy) waiter.fail(reason);
    }
  }

  /** Redis is unreachable: every call fails at once until it is back. */
  #lost(reason: string): void {
    if (this.#closed || this.#unreachable !== undefined) return;
    this.#unreachable = this.#unreachableLine(reason);
    this.#failWaiters(new StoreUnavailableError(this.#unreachable));
    for (const listener of this.#availability) listener(false);
  }

  /**
   * Redis is back: stores the queue's settings again if Redis lost them,
   * returns this server's in-flight item, then serves again.
   */
  async #found(): Promise<void> {
    if (this.#recovering) return;
    this.#recovering = true;
    try {
      // A Redis still loading its data answers LOADING for a while: retry
      // while the connection stays up (a new one brings a new "ready").
      while (
        !this.#closed && this.#unreachable !== undefined &&
        this.#client.isReady
      ) {
        try {
          await this.#init();
          await this.#client.lMove(
            this.#inflight,
            this.#keys.items,
            "RIGHT",
            "LEFT",
          );
          this.#unreachable = undefined;
          for (const listener of this.#availability) listener(true);
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    } finally {
      this.#recovering = false;
    }
  }

  /** Stores or reads the capacity and byte bound kept with the queue. */
  async #init(): Promise<void> {
    const [capacity, maxBytes] = await this.#scripts.init.run(
      this.#client,
      [this.#keys.meta],
      [this.#capacity, this.#maxBytes],
    ) as [string, string];
    this.#capacity = Number(capacity);
    this.#maxBytes = Number(maxBytes);
  }

  /**
   * Renews the lease, returns dead servers' items, refreshes the status;
   * nothing while Redis is unreachable (the commands would wait for it).
   */
  async #renewLease(): Promise<void> {
    if (this.#unreachable !== undefined) return;
    const keys = this.#keys;
    await this.#scripts.lease.run(
      this.#client,
      [keys.servers, keys.items, keys.putWait],
      [
        this.#id,
        this.#leaseMs,
        keys.inflightPrefix,
        this.#putWaiters.size > 0 ? 1 : 0,
      ],
    );
    const [size, bytes] = await this.#client.hmGet(keys.meta, [
      "count",
      "bytes",
    ]);
    this.#size = Number(size ?? 0);
    this.#bytes = Number(bytes ?? 0);
  }

  /**
   * One line if Redis's settings do not make each acknowledged write
   * durable before the answer (`appendonly yes` with `appendfsync always`),
   * or if they cannot be read (managed Redis often refuses `CONFIG`).
   */
  async #checkDurability(): Promise<string | undefined> {
    let config: Record<string, string>;
    try {
      config = await this.#client.configGet(["appendonly", "appendfsync"]);
    } catch (error: unknown) {
      const reason = error instanceof Error ? error.message : String(error);
      return `queue-server: cannot read Redis's persistence settings ` +
        `(${reason}); acknowledged items survive a Redis crash only with ` +
        `appendonly yes and appendfsync always`;
    }
    if (config.appendonly === "yes" && config.appendfsync === "always") {
      return undefined;
    }
    return `queue-server: Redis has appendonly ${config.appendonly} and ` +
      `appendfsync ${config.appendfsync}: a Redis crash may lose ` +
      `acknowledged items (set appendonly yes and appendfsync always)`;
  }
}
