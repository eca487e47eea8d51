/**
 * What the parts of one cluster node share: its Redis keys, its connection
 * for commands, its view of the roster and of its own names, and the one
 * chain on which every change of that state runs in turn.
 *
 * @module
 */
import type { RedisClient } from "../../lib/redis/mod.ts";
import type { MembershipChange, MembershipListener } from "../membership.ts";
import { Roster } from "../roster.ts";

/** The approximate number of entries the log keeps for nodes that lag. */
export const LOG_LENGTH = 10_000;

/** The Redis keys of one cluster. */
export class ClusterKeys {
  /** The incarnation of Redis's data (string). */
  readonly incarnation: string;
  /** Every node's lease end (zset: node id -> Redis time, ms). */
  readonly nodes: string;
  /** When any node last renewed its lease (string, Redis time, ms). */
  readonly beat: string;
  /** Who holds each name (hash: name -> node id). */
  readonly names: string;
  /** The number of the last log entry (counter). */
  readonly seq: string;
  /** The log of joins and leaves (stream). */
  readonly log: string;
  readonly #prefix: string;

  /** The keys of the cluster named `cluster`. */
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

/**
 * Whether the node serves joins, is fenced off the cluster while it
 * registers again, or is closed.
 */
export type NodeState = "serving" | "fenced" | "closed";

/** The state one node's parts share, and the chain that orders its changes. */
export class ClusterNode {
  /** The connection for scripts (the log is read on another). */
  readonly client: RedisClient;
  /** The cluster's keys. */
  readonly keys: ClusterKeys;
  /** How long the node's lease lasts, in milliseconds. */
  readonly ttlMs: number;
  /** Reports a change of the node's standing in one line. */
  readonly onStatus: (message: string) => void;
  /** The server told of every change. */
  listener: MembershipListener | undefined;
  /** The roster as this node has applied it. */
  roster = new Roster();
  /** Names joined through this node that it holds in Redis. */
  readonly mine = new Set<string>();
  /** Names claimed through this node whose join is not applied yet. */
  readonly waiting = new Map<string, (refusal?: string) => void>();
  /** The id the node is registered under. */
  nodeId = "";
  /** The incarnation of Redis's data the node registered in. */
  incarnation = "";
  /** The number of the last log entry applied. */
  seq = 0;
  /** The stream id of the last log entry applied. */
  lastId = "0-0";
  /** Whether the node serves, is fenced or is closed. */
  state: NodeState = "serving";
  /** The tail of the chain that runs every change of local state in turn. */
  #serial: Promise<void> = Promise.resolve();

  /** A node of the cluster with `keys`, using `client`. */
  constructor(
    client: RedisClient,
    keys: ClusterKeys,
    options: { ttlMs: number; onStatus: (message: string) => void },
  ) {
    this.client = client;
    this.keys = keys;
    this.ttlMs = options.ttlMs;
    this.onStatus = options.onStatus;
  }

  /** How often the lease is renewed, in milliseconds. */
  get heartbeatMs(): number {
    return heartbeatMs(this.ttlMs);
  }

  /** Runs `step` after every state change queued before it. */
  enqueue(step: () => void | Promise<void>): Promise<void> {
    const next = this.#serial.then(step).catch(() => {});
    this.#serial = next;
    return next;
  }

  /** Settles once every state change queued so far has run. */
  settled(): Promise<void> {
    return this.#serial;
  }

  /** Tells the listener the roster changed. */
  emit(kind: MembershipChange["kind"], name: string): void {
    this.listener?.change({
      kind,
      name,
      online: this.roster.size,
      line: this.roster.line(),
    });
  }
}

/** Lease renewals come five times per TTL of `ttlMs`. */
export function heartbeatMs(ttlMs: number): number {
  return Math.max(50, Math.floor(ttlMs / 5));
}

/** A random id of 16 hex digits, for nodes and incarnations. */
export function randomId(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 16);
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
