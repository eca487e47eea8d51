/**
 * The roster cluster: several roster servers (nodes) sharing one roster
 * through Redis, with one order of changes for every node.
 *
 * Redis holds who owns each name, each node's lease and a log (a stream) of
 * every join and leave, numbered by one counter. Each change is one script
 * that checks, writes and appends its log entry in one step (the `*.lua`
 * files beside the modules that run them), so Redis's work per change does
 * not depend on the number of clients. Each node keeps the roster in memory and applies the log
 * in order; it reads a whole copy (a snapshot) only when it starts, when it
 * misses entries, after Redis lost its data, and periodically as a repair.
 *
 * The parts, each in its own module with the scripts it runs: `claims.ts`
 * (join and leave), `log.ts` (the log reader), `resync.ts` (snapshots and
 * recovery from lost data) and `lease.ts` (lease, fencing and re-joining);
 * `_node.ts` holds the state they share. This module wires them together.
 *
 * Leases run on Redis's clock: a node renews its own every fifth of the TTL;
 * any node removes the names of a node whose lease ran out. A node that could
 * not renew its lease for a whole TTL presumes the others removed it: it
 * closes its clients with an error line, then registers again.
 *
 * @module
 */
import {
  connectRedis,
  describeUrl,
  newRedisClient,
  type RedisClient,
  type RedisClientOptions,
} from "../../lib/redis/mod.ts";
import type { Membership, MembershipListener } from "../membership.ts";
import { Refusal } from "../protocol.ts";
import { ClusterKeys, ClusterNode, heartbeatMs } from "./_node.ts";
import { Claims } from "./claims.ts";
import { Lease } from "./lease.ts";
import { blockMs, LogReader } from "./log.ts";
import { Resync } from "./resync.ts";

/**
 * Options of {@linkcode RedisMembership.connect}; `ca` as for
 * {@linkcode newRedisClient}.
 */
export interface RedisMembershipOptions extends Pick<RedisClientOptions, "ca"> {
  /**
   * The cluster's name: nodes with the same Redis and name share a roster.
   *
   * @default {"roster"}
   */
  cluster?: string;
  /**
   * How long a node may go without renewing its lease before it is presumed
   * dead, in milliseconds.
   *
   * @default {3000}
   */
  nodeTtlMs?: number;
  /**
   * How often the node compares its roster and its names with Redis's, in
   * milliseconds.
   *
   * @default {10 times nodeTtlMs}
   */
  repairIntervalMs?: number;
  /** Called with one line when the node is cut off, rejoins or repairs. */
  onStatus?: (message: string) => void;
}

/**
 * How long a node that shuts down waits for Redis to remove its names, in
 * milliseconds: well within the programs' shutdown grace period.
 */
const CLOSE_WAIT_MS = 1000;

/** The membership of one node of a roster cluster on Redis. */
export class RedisMembership implements Membership {
  readonly #client: RedisClient;
  readonly #reader: RedisClient;
  readonly #node: ClusterNode;
  readonly #claims: Claims;
  readonly #lease: Lease;
  readonly #resync: Resync;
  readonly #log: LogReader;
  readonly #repairMs: number;
  #repairTimer: ReturnType<typeof setInterval> | undefined;

  private constructor(
    url: string,
    ttlMs: number,
    options: RedisMembershipOptions,
  ) {
    this.#repairMs = options.repairIntervalMs ?? 10 * ttlMs;
    const { ca } = options;
    this.#client = newRedisClient(url, {
      deadlineMs: ttlMs,
      pingMs: heartbeatMs(ttlMs),
      ca,
    });
    this.#reader = newRedisClient(url, {
      deadlineMs: ttlMs + blockMs(ttlMs),
      ca,
    });
    const node = new ClusterNode(
      this.#client,
      new ClusterKeys(options.cluster ?? "roster"),
      { ttlMs, onStatus: options.onStatus ?? (() => {}) },
    );
    this.#node = node;
    this.#claims = new Claims(node);
    this.#lease = new Lease(node, {
      resync: () => this.#resync.resync(),
      reset: () => this.#resync.reset(),
    });
    this.#resync = new Resync(node, this.#claims, this.#lease);
    this.#log = new LogReader(node, this.#reader, {
      claims: this.#claims,
      lease: this.#lease,
      resync: this.#resync,
    });
  }

  /**
   * Connects to the Redis at `url`, registers this node and reads the
   * cluster's roster.
   *
   * @throws {Error} when Redis cannot be reached within the TTL
   */
  static async connect(
    url: string,
    options: RedisMembershipOptions = {},
  ): Promise<RedisMembership> {
    const ttlMs = options.nodeTtlMs ?? 3000;
    const membership = new RedisMembership(url, ttlMs, options);
    try {
      await connectRedis(membership.#client, ttlMs);
      await connectRedis(membership.#reader, ttlMs);
      await membership.#lease.register();
      await membership.#resync.resync();
    } catch (error: unknown) {
      membership.#client.destroy();
      membership.#reader.destroy();
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`Cannot use Redis at "${describeUrl(url)}": ${reason}`);
    }
    membership.#log.start();
    membership.#lease.start();
    membership.#repairTimer = setInterval(
      () => membership.#repair(),
      membership.#repairMs,
    );
    return membership;
  }

  /** Sets the listener. */
  listen(listener: MembershipListener): void {
    this.#node.listener = listener;
  }

  /** Whether the node serves joins: false while cut off, and once closed. */
  get serving(): boolean {
    return this.#node.state === "serving";
  }

  /** Refuses `name` if it joined or is joining through this node. */
  check(name: string): string | undefined {
    const { mine, waiting } = this.#node;
    return mine.has(name) || waiting.has(name)
      ? Refusal.nameTaken(name)
      : undefined;
  }

  /**
   * Claims `name` in Redis and resolves once its join is applied here, in
   * the cluster's order; refuses it if another client holds it anywhere.
   */
  join(name: string): Promise<string | undefined> {
    const node = this.#node;
    if (node.state !== "serving") {
      return Promise.resolve(
        node.state === "closed" ? Refusal.shuttingDown : Refusal.cutOff,
      );
    }
    const taken = this.check(name);
    if (taken !== undefined) return Promise.resolve(taken);
    return new Promise((resolve) => {
      node.waiting.set(name, resolve);
      this.#claim(name).then((refusal) => {
        if (refusal === undefined || node.waiting.get(name) !== resolve) {
          return;
        }
        node.waiting.delete(name);
        resolve(refusal);
      });
    });
  }

  /** Releases `name` in Redis; its leave reaches every node through the log. */
  leave(name: string): void {
    if (!this.#node.mine.delete(name)) return;
    this.#claims.release(name);
  }

  /**
   * Stops renewing, removes this node and all its names from Redis at once
   * (waiting at most {@linkcode CLOSE_WAIT_MS}; if Redis does not answer,
   * the others remove them when the lease runs out), and closes both
   * connections.
   */
  async close(): Promise<void> {
    const node = this.#node;
    if (node.state === "closed") return;
    node.state = "closed";
    this.#lease.stop();
    clearInterval(this.#repairTimer);
    for (const resolve of node.waiting.values()) {
      resolve(Refusal.shuttingDown);
    }
    node.waiting.clear();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#lease.removeNode(node.nodeId, "any").catch(() => {}),
      new Promise((resolve) => timer = setTimeout(resolve, CLOSE_WAIT_MS)),
    ]);
    clearTimeout(timer);
    this.#reader.destroy();
    this.#client.destroy();
    await this.#log.stopped();
    await node.settled();
  }

  /**
   * Claims `name`, once more after registering again if Redis lost its
   * data; resolves to a refusal, or to `undefined` once the claim is in the
   * log.
   */
  async #claim(name: string): Promise<string | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      let status;
      try {
        status = await this.#claims.claim(name);
      } catch {
        return Refusal.clusterUnreachable;
      }
      if (status === "ok") return undefined;
      if (status === "taken") return Refusal.nameTaken(name);
      if (status === "fenced") {
        await this.#node.enqueue(() => this.#lease.fence());
        return Refusal.cutOff;
      }
      await this.#node.enqueue(() => this.#resync.reset());
    }
    return Refusal.clusterRestarting;
  }

  /** Reads a snapshot now and then, to repair what the log missed. */
  #repair(): void {
    if (this.#node.state !== "serving") return;
    this.#node.enqueue(() => this.#resync.resync());
  }
}
