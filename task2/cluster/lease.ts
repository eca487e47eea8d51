/**
 * The node's lease, on Redis's clock: registering under a node id, renewing
 * every fifth of the TTL, removing the nodes whose leases ran out, and, once
 * this node could not renew for a whole TTL, fencing itself off (closing its
 * clients) and registering again.
 *
 * @module
 */
import { RedisScript } from "../../lib/redis/mod.ts";
import { Refusal } from "../protocol.ts";
import { Roster } from "../roster.ts";
import { type ClusterNode, delay, LOG_LENGTH, randomId } from "./_node.ts";
import HEARTBEAT from "./heartbeat.lua" with { type: "text" };
import REGISTER from "./register.lua" with { type: "text" };
import REMOVE_NODE from "./remove_node.lua" with { type: "text" };

/** What the lease asks of the resync when Redis's answers call for it. */
export interface LeaseHooks {
  /** Reads the roster afresh (after registering again). */
  resync(): Promise<void>;
  /** Redis lost its data: registers in its new incarnation. */
  reset(): Promise<void>;
}

/** Runs `register.lua`, `heartbeat.lua` and `remove_node.lua` for one node. */
export class Lease {
  readonly #node: ClusterNode;
  readonly #hooks: LeaseHooks;
  readonly #register = new RedisScript(REGISTER);
  readonly #heartbeat = new RedisScript(HEARTBEAT);
  readonly #removeNode = new RedisScript(REMOVE_NODE);
  /** When the last lease renewal that succeeded was sent (monotonic ms). */
  #renewedAt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** The lease of `node`, calling on `hooks` when it must read the roster. */
  constructor(node: ClusterNode, hooks: LeaseHooks) {
    this.#node = node;
    this.#hooks = hooks;
  }

  /**
   * Registers under a new node id, then drops the previous id's names. The
   * id changes only once Redis confirms, so a failed attempt (which may
   * still have run, leaving an id without names for the others to expire)
   * never loses track of the id that holds the names.
   */
  async register(): Promise<void> {
    const node = this.#node;
    const id = randomId();
    const sentAt = performance.now();
    const { keys } = node;
    const incarnation = await this.#register.run(
      node.client,
      [keys.incarnation, keys.nodes, keys.beat],
      [id, node.ttlMs, randomId()],
    );
    const previous = node.nodeId;
    node.nodeId = id;
    node.incarnation = String(incarnation);
    this.#renewedAt = sentAt;
    if (previous) await this.removeNode(previous, "any");
  }

  /**
   * Removes node `id` and releases its names: any node (`any`), or only one
   * whose lease is over on Redis's clock (`expired`).
   */
  removeNode(id: string, mode: "expired" | "any"): Promise<unknown> {
    const { client, keys, incarnation } = this.#node;
    return this.#removeNode.run(
      client,
      [keys.nodes, keys.names, keys.seq, keys.log, keys.node(id)],
      [id, mode, LOG_LENGTH, incarnation],
    );
  }

  /** Renews the lease every fifth of the TTL until {@linkcode stop}. */
  start(): void {
    this.#timer = setTimeout(async () => {
      await this.#renew();
      if (this.#node.state !== "closed") this.start();
    }, this.#node.heartbeatMs);
  }

  /** Stops renewing. */
  stop(): void {
    clearTimeout(this.#timer);
  }

  /**
   * Tells whether this node still holds its lease by its own clock; if it
   * has not renewed it for a whole TTL, fences itself first.
   */
  holds(): boolean {
    const node = this.#node;
    if (
      node.state === "serving" &&
      performance.now() - this.#renewedAt > node.ttlMs
    ) {
      this.fence();
    }
    return node.state === "serving";
  }

  /**
   * The other nodes presume this one dead: closes every client with an
   * error line, forgets the roster, and registers again in the background.
   */
  fence(): void {
    const node = this.#node;
    if (node.state !== "serving") return;
    node.state = "fenced";
    const reason = Refusal.clusterLost;
    const count = node.mine.size;
    for (const name of node.mine) node.listener?.evict(name, reason);
    node.mine.clear();
    for (const resolve of node.waiting.values()) resolve(reason);
    node.waiting.clear();
    node.roster = new Roster();
    node.onStatus(
      `cut off from the roster cluster for over ${node.ttlMs / 1000} s; ` +
        `closed ${count} clients`,
    );
    node.enqueue(() => this.#recover());
  }

  /** Registers again and reads the roster, retrying until it works. */
  async #recover(): Promise<void> {
    const node = this.#node;
    while (node.state === "fenced") {
      try {
        await this.register();
        node.seq = 0;
        await this.#hooks.resync();
        if (node.state !== "fenced") return;
        node.state = "serving";
        node.onStatus("rejoined the roster cluster");
        return;
      } catch {
        await delay(node.heartbeatMs);
      }
    }
  }

  /** Renews the lease and removes the nodes whose leases ran out. */
  async #renew(): Promise<void> {
    const node = this.#node;
    if (node.state !== "serving") return;
    const sentAt = performance.now();
    const { keys } = node;
    try {
      const [status, ...expired] = await this.#heartbeat.run(
        node.client,
        [keys.incarnation, keys.nodes, keys.beat],
        [node.incarnation, node.nodeId, node.ttlMs, 2 * node.heartbeatMs],
      ) as string[];
      if (status === "ok") {
        this.#renewedAt = sentAt;
        for (const id of expired) await this.removeNode(id, "expired");
      } else if (status === "fenced") {
        await node.enqueue(() => this.fence());
      } else {
        await node.enqueue(() => this.#hooks.reset());
      }
    } catch {
      // Unreachable: the lease check below fences once a TTL has passed.
    }
    await node.enqueue(() => void this.holds());
  }
}
