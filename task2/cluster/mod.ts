/**
 * The roster cluster: several roster servers (nodes) sharing one roster
 * through Redis, with one order of changes for every node.
 *
 * Redis holds who owns each name, each node's lease and a log (a stream) of
 * every join and leave, numbered by one counter. Each change is one script
 * that checks, writes and appends its log entry in one step (the scripts are
 * the `redis/*.lua` files), so Redis's work per change does not depend on the
 * number of clients. Each node keeps the roster in memory and applies the log
 * in order; it reads a whole copy (a snapshot) only when it starts, when it
 * misses entries, after Redis lost its data, and periodically as a repair.
 *
 * Each log entry has the fields `s` (its number), `i` (the incarnation of
 * Redis's data it was written in), `k` (`join` or `leave`), `n` (the name)
 * and `o` (the id of the node that holds or held the name).
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
  RedisScript,
} from "../../lib/redis.ts";
import type { Membership, MembershipListener } from "../membership.ts";
import { Refusal } from "../protocol.ts";
import { Roster } from "../roster.ts";
import HEARTBEAT from "./heartbeat.lua" with { type: "text" };
import JOIN from "./join.lua" with { type: "text" };
import LEAVE from "./leave.lua" with { type: "text" };
import REGISTER from "./register.lua" with { type: "text" };
import REMOVE_NODE from "./remove_node.lua" with { type: "text" };
import SNAPSHOT from "./snapshot.lua" with { type: "text" };

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

/** The approximate number of entries the log keeps for nodes that lag. */
const LOG_LENGTH = 10_000;

/** The most log entries read at once. */
const READ_BATCH = 1000;

/**
 * How long a node that shuts down waits for Redis to remove its names, in
 * milliseconds: well within the programs' shutdown grace period.
 */
const CLOSE_WAIT_MS = 1000;

/** How long to wait before retrying Redis after a failure, in milliseconds. */
const RETRY_MS = 100;

/** One log entry as the reader receives it. */
interface LogEntry {
  id: string;
  message: Record<string, string>;
}

/** The Redis keys of one cluster. */
class ClusterKeys {
  readonly incarnation: string;
  readonly nodes: string;
  readonly beat: string;
  readonly names: string;
  readonly seq: string;
  readonly log: string;
  readonly #prefix: string;

  constructor(cluster: string) {
    this.#prefix = `roster:${cluster}:`;
    this.incarnation = this.#prefix + "incarnation";
    this.nodes = this.#prefix + "nodes";
    this.beat = this.#prefix + "beat";
    this.names = this.#prefix + "names";
    this.seq = this.#prefix + "seq";
    this.log = this.#prefix + "log";
  }

  /** The set of the names node `id` holds. */
  node(id: string): string {
    return `${this.#prefix}node:${id}`;
  }
}

/** The membership of one node of a roster cluster on Redis. */
export class RedisMembership implements Membership {
  readonly #client: RedisClient;
  readonly #reader: RedisClient;
  readonly #keys: ClusterKeys;
  readonly #ttlMs: number;
  readonly #repairMs: number;
  readonly #onStatus: (message: string) => void;
  readonly #scripts = {
    heartbeat: new RedisScript(HEARTBEAT),
    join: new RedisScript(JOIN),
    leave: new RedisScript(LEAVE),
    register: new RedisScript(REGISTER),
    removeNode: new RedisScript(REMOVE_NODE),
    snapshot: new RedisScript(SNAPSHOT),
  };
  #listener: MembershipListener | undefined;
  #roster = new Roster();
  /** Names joined through this node that it holds in Redis. */
  readonly #mine = new Set<string>();
  /** Names claimed through this node whose join is not applied yet. */
  readonly #waiting = new Map<string, (refusal?: string) => void>();
  #nodeId = "";
  #incarnation = "";
  #seq = 0;
  #lastId = "0-0";
  /** When the last lease renewal that succeeded was sent (monotonic ms). */
  #renewedAt = 0;
  #state: "serving" | "fenced" | "closed" = "serving";
  /** The tail of the chain that runs every change of local state in turn. */
  #serial: Promise<void> = Promise.resolve();
  #reading: Promise<void> = Promise.resolve();
  #heartbeatTimer: ReturnType<typeof setTimeout> | undefined;
  #repairTimer: ReturnType<typeof setInterval> | undefined;

  private constructor(
    url: string,
    ttlMs: number,
    options: RedisMembershipOptions,
  ) {
    this.#keys = new ClusterKeys(options.cluster ?? "roster");
    this.#ttlMs = ttlMs;
    this.#repairMs = options.repairIntervalMs ?? 10 * ttlMs;
    this.#onStatus = options.onStatus ?? (() => {});
    const { ca } = options;
    this.#client = newRedisClient(url, {
      deadlineMs: ttlMs,
      pingMs: this.#heartbeatMs,
      ca,
    });
    this.#reader = newRedisClient(url, {
      deadlineMs: ttlMs + this.#blockMs,
      ca,
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
      await membership.#register();
      await membership.#resync();
    } catch (error: unknown) {
      membership.#client.destroy();
      membership.#reader.destroy();
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`Cannot use Redis at "${describeUrl(url)}": ${reason}`);
    }
    membership.#reading = membership.#read();
    membership.#scheduleHeartbeat();
    membership.#repairTimer = setInterval(
      () => membership.#repair(),
      membership.#repairMs,
    );
    return membership;
  }

  /** Lease renewals come five times per TTL. */
  get #heartbeatMs(): number {
    return Math.max(50, Math.floor(this.#ttlMs / 5));
  }

  /** How long one blocking read of the log waits for entries. */
  get #blockMs(): number {
    return Math.min(1000, this.#heartbeatMs);
  }

  /** Sets the listener. */
  listen(listener: MembershipListener): void {
    this.#listener = listener;
  }

  /** Refuses `name` if it joined or is joining through this node. */
  check(name: string): string | undefined {
    return this.#mine.has(name) || this.#waiting.has(name)
      ? Refusal.nameTaken(name)
      : undefined;
  }

  /**
   * Claims `name` in Redis and resolves once its join is applied here, in
   * the cluster's order; refuses it if another client holds it anywhere.
   */
  join(name: string): Promise<string | undefined> {
    if (this.#state !== "serving") {
      return Promise.resolve(
        this.#state === "closed" ? Refusal.shuttingDown : Refusal.cutOff,
      );
    }
    const taken = this.check(name);
    if (taken !== undefined) return Promise.resolve(taken);
    return new Promise((resolve) => {
      this.#waiting.set(name, resolve);
      this.#claim(name).then((refusal) => {
        if (refusal === undefined || this.#waiting.get(name) !== resolve) {
          return;
        }
        this.#waiting.delete(name);
        resolve(refusal);
      });
    });
  }

  /** Releases `name` in Redis; its leave reaches every node through the log. */
  leave(name: string): void {
    if (!this.#mine.delete(name)) return;
    this.#release(name);
  }

  /**
   * Stops renewing, removes this node and all its names from Redis at once
   * (waiting at most {@linkcode CLOSE_WAIT_MS}; if Redis does not answer,
   * the others remove them when the lease runs out), and closes both
   * connections.
   */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    this.#state = "closed";
    clearTimeout(this.#heartbeatTimer);
    clearInterval(this.#repairTimer);
    for (const resolve of this.#waiting.values()) {
      resolve(Refusal.shuttingDown);
    }
    this.#waiting.clear();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#removeNode(this.#nodeId, "any").catch(() => {}),
      new Promise((resolve) => timer = setTimeout(resolve, CLOSE_WAIT_MS)),
    ]);
    clearTimeout(timer);
    this.#reader.destroy();
    this.#client.destroy();
    await this.#reading;
    await this.#serial;
  }

  /** Runs `step` after every state change queued before it. */
  #enqueue(step: () => void | Promise<void>): Promise<void> {
    const next = this.#serial.then(step).catch(() => {});
    this.#serial = next;
    return next;
  }

  /**
   * Registers under a new node id, then drops the previous id's names. The
   * id changes only once Redis confirms, so a failed attempt (which may
   * still have run, leaving an id without names for the others to expire)
   * never loses track of the id that holds the names.
   */
  async #register(): Promise<void> {
    const id = randomId();
    const sentAt = performance.now();
    const keys = this.#keys;
    const incarnation = await this.#scripts.register.run(
      this.#client,
      [keys.incarnation, keys.nodes, keys.beat],
      [id, this.#ttlMs, randomId()],
    );
    const previous = this.#nodeId;
    this.#nodeId = id;
    this.#incarnation = String(incarnation);
    this.#renewedAt = sentAt;
    if (previous) await this.#removeNode(previous, "any");
  }

  /**
   * Runs the join script for `name`, once more after re-registering if Redis
   * lost its data; resolves to a refusal, or to `undefined` once the claim
   * is in the log.
   */
  async #claim(name: string): Promise<string | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      let reply: unknown[];
      try {
        reply = await this.#runJoin(name);
      } catch {
        return Refusal.clusterUnreachable;
      }
      if (reply[0] === "ok") return undefined;
      if (reply[0] === "taken") return Refusal.nameTaken(name);
      if (reply[0] === "fenced") {
        await this.#enqueue(() => this.#fence());
        return Refusal.cutOff;
      }
      await this.#enqueue(() => this.#reset());
    }
    return Refusal.clusterRestarting;
  }

  #runJoin(name: string): Promise<unknown[]> {
    const keys = this.#keys;
    return this.#scripts.join.run(
      this.#client,
      [
        keys.incarnation,
        keys.nodes,
        keys.names,
        keys.seq,
        keys.log,
        keys.node(this.#nodeId),
      ],
      [this.#incarnation, this.#nodeId, name, LOG_LENGTH],
    ) as Promise<unknown[]>;
  }

  /** Releases `name` if it is still this node's; a failure is left to repair. */
  #release(name: string): void {
    const keys = this.#keys;
    this.#scripts.leave.run(
      this.#client,
      [
        keys.incarnation,
        keys.names,
        keys.seq,
        keys.log,
        keys.node(this.#nodeId),
      ],
      [this.#incarnation, this.#nodeId, name, LOG_LENGTH],
    ).catch(() => {});
  }

  #removeNode(id: string, mode: "expired" | "any"): Promise<unknown> {
    const keys = this.#keys;
    return this.#scripts.removeNode.run(
      this.#client,
      [keys.nodes, keys.names, keys.seq, keys.log, keys.node(id)],
      [id, mode, LOG_LENGTH, this.#incarnation],
    );
  }

  /** Reads the log on the reader's own connection until closed. */
  async #read(): Promise<void> {
    while (this.#state !== "closed") {
      let entries: LogEntry[];
      try {
        const reply = await this.#reader.xRead(
          { key: this.#keys.log, id: this.#lastId },
          { BLOCK: this.#blockMs, COUNT: READ_BATCH },
        ) as { messages: LogEntry[] }[] | null;
        entries = reply?.[0]?.messages ?? [];
      } catch {
        await delay(RETRY_MS);
        continue;
      }
      await this.#enqueue(() => this.#apply(entries));
    }
  }

  /**
   * Applies log entries in order. A gap in the numbering (entries trimmed
   * away, or a restarted Redis) makes the node read a snapshot instead.
   */
  async #apply(entries: LogEntry[]): Promise<void> {
    if (!this.#holdsLease()) return;
    for (const { id, message } of entries) {
      const seq = Number(message.s);
      if (message.i !== this.#incarnation) {
        // Written since Redis lost its data (or before): the numbering
        // restarted, so only a snapshot tells where this node stands.
        await this.#resync();
        return;
      }
      if (seq <= this.#seq) continue;
      if (seq !== this.#seq + 1) {
        await this.#resync();
        return;
      }
      this.#seq = seq;
      this.#lastId = id;
      const name = message.n ?? "";
      const mine = message.o === this.#nodeId;
      if (message.k === "join") {
        this.#roster.add(name);
        const resolve = mine ? this.#waiting.get(name) : undefined;
        if (resolve) {
          this.#waiting.delete(name);
          this.#mine.add(name);
          this.#listener?.admit(name);
        } else if (mine && !this.#mine.has(name)) {
          // A claim whose client gave up waiting: let it go.
          this.#release(name);
        }
        this.#emit("join", name);
        resolve?.();
      } else {
        this.#roster.remove(name);
        if (mine && this.#mine.delete(name)) {
          this.#listener?.evict(name, Refusal.nameRemoved);
        }
        this.#emit("leave", name);
      }
    }
  }

  /**
   * Replaces the roster with a snapshot, then makes Redis and this node
   * agree on this node's names: claims applied meanwhile are admitted, names
   * it lost are evicted, names it holds without a client are released.
   */
  async #resync(): Promise<void> {
    const keys = this.#keys;
    const [incarnation, seq, lastId, flat] = await this.#scripts.snapshot.run(
      this.#client,
      [keys.incarnation, keys.names, keys.seq, keys.log],
      [],
    ) as [string, number, string, string[]];
    if (incarnation !== this.#incarnation) {
      await this.#reset();
      return;
    }
    const owners = new Map<string, string>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      owners.set(flat[i]!, flat[i + 1]!);
    }
    const before = this.#roster.names.join(" ");
    this.#roster = new Roster();
    for (const name of owners.keys()) this.#roster.add(name);
    this.#seq = seq;
    this.#lastId = lastId;
    for (const name of [...this.#mine]) {
      if (owners.get(name) === this.#nodeId) continue;
      this.#mine.delete(name);
      this.#listener?.evict(name, Refusal.nameLost);
    }
    const admitted: (() => void)[] = [];
    for (const [name, resolve] of this.#waiting) {
      if (owners.get(name) !== this.#nodeId) continue;
      this.#waiting.delete(name);
      this.#mine.add(name);
      this.#listener?.admit(name);
      admitted.push(resolve);
    }
    for (const [name, owner] of owners) {
      if (
        owner === this.#nodeId && !this.#mine.has(name) &&
        !this.#waiting.has(name)
      ) {
        this.#release(name);
      }
    }
    if (admitted.length > 0 || this.#roster.names.join(" ") !== before) {
      this.#emit("sync", "");
    }
    for (const resolve of admitted) resolve();
  }

  /**
   * Redis lost its data: registers in its new incarnation, claims this
   * node's names again (evicting those another node took first), then
   * reads the new roster.
   */
  async #reset(): Promise<void> {
    if (this.#state !== "serving") return;
    await this.#register();
    this.#seq = 0;
    this.#lastId = "0-0";
    let lost = 0;
    for (const name of [...this.#mine]) {
      const [status] = await this.#runJoin(name);
      if (status === "ok") continue;
      this.#mine.delete(name);
      lost++;
      this.#listener?.evict(name, Refusal.takenMeanwhile(name));
    }
    for (const [name, resolve] of [...this.#waiting]) {
      const [status] = await this.#runJoin(name);
      if (status === "ok") continue;
      this.#waiting.delete(name);
      resolve(Refusal.nameTaken(name));
    }
    this.#onStatus(
      `Redis lost the roster; registered again with ${this.#mine.size} names` +
        (lost ? ` (${lost} taken meanwhile)` : ""),
    );
    // The other nodes notice within one renewal period and claim their
    // names again; reading the roster after two spares the clients a
    // roster that lacks the names not claimed yet.
    await delay(2 * this.#heartbeatMs);
    await this.#resync();
  }

  /**
   * Tells whether this node still holds its lease by its own clock; if it
   * has not renewed it for a whole TTL, fences itself first.
   */
  #holdsLease(): boolean {
    if (
      this.#state === "serving" &&
      performance.now() - this.#renewedAt > this.#ttlMs
    ) {
      this.#fence();
    }
    return this.#state === "serving";
  }

  /**
   * The other nodes presume this one dead: closes every client with an
   * error line, forgets the roster, and registers again in the background.
   */
  #fence(): void {
    if (this.#state !== "serving") return;
    this.#state = "fenced";
    const reason = Refusal.clusterLost;
    const count = this.#mine.size;
    for (const name of this.#mine) this.#listener?.evict(name, reason);
    this.#mine.clear();
    for (const resolve of this.#waiting.values()) resolve(reason);
    this.#waiting.clear();
    this.#roster = new Roster();
    this.#onStatus(
      `cut off from the roster cluster for over ${this.#ttlMs / 1000} s; ` +
        `closed ${count} clients`,
    );
    this.#enqueue(() => this.#recover());
  }

  /** Registers again and reads the roster, retrying until it works. */
  async #recover(): Promise<void> {
    while (this.#state === "fenced") {
      try {
        await this.#register();
        this.#seq = 0;
        await this.#resync();
        if (this.#state !== "fenced") return;
        this.#state = "serving";
        this.#onStatus("rejoined the roster cluster");
        return;
      } catch {
        await delay(this.#heartbeatMs);
      }
    }
  }

  #scheduleHeartbeat(): void {
    this.#heartbeatTimer = setTimeout(async () => {
      await this.#heartbeat();
      if (this.#state !== "closed") this.#scheduleHeartbeat();
    }, this.#heartbeatMs);
  }

  /** Renews the lease and removes the nodes whose leases ran out. */
  async #heartbeat(): Promise<void> {
    if (this.#state !== "serving") return;
    const sentAt = performance.now();
    const keys = this.#keys;
    try {
      const [status, ...expired] = await this.#scripts.heartbeat.run(
        this.#client,
        [keys.incarnation, keys.nodes, keys.beat],
        [
          this.#incarnation,
          this.#nodeId,
          this.#ttlMs,
          2 * this.#heartbeatMs,
        ],
      ) as string[];
      if (status === "ok") {
        this.#renewedAt = sentAt;
        for (const id of expired) await this.#removeNode(id, "expired");
      } else if (status === "fenced") {
        await this.#enqueue(() => this.#fence());
      } else {
        await this.#enqueue(() => this.#reset());
      }
    } catch {
      // Unreachable: the lease check below fences once a TTL has passed.
    }
    await this.#enqueue(() => void this.#holdsLease());
  }

  #repair(): void {
    if (this.#state !== "serving") return;
    this.#enqueue(() => this.#resync());
  }

  #emit(kind: "join" | "leave" | "sync", name: string): void {
    this.#listener?.change({
      kind,
      name,
      online: this.#roster.size,
      line: this.#roster.line(),
    });
  }
}

/** A random id of 16 hex digits, for nodes and incarnations. */
function randomId(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 16);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
