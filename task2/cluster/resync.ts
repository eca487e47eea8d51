/**
 * Resync: the node reads a whole copy of the roster (a snapshot) when it
 * starts, when it misses log entries, periodically as a repair, and after
 * Redis lost its data, when it first registers and claims its names again.
 *
 * @module
 */
import { RedisScript } from "../../lib/redis/mod.ts";
import { Refusal } from "../protocol.ts";
import { Roster } from "../roster.ts";
import { type ClusterNode, delay } from "./_node.ts";
import type { Claims } from "./claims.ts";
import type { Lease } from "./lease.ts";
import SNAPSHOT from "./snapshot.lua" with { type: "text" };

/** Runs `snapshot.lua` for one node, and its recovery from lost data. */
export class Resync {
  readonly #node: ClusterNode;
  readonly #claims: Claims;
  readonly #lease: Lease;
  readonly #snapshot = new RedisScript(SNAPSHOT);

  /** The resync of `node`, which claims and registers through the others. */
  constructor(node: ClusterNode, claims: Claims, lease: Lease) {
    this.#node = node;
    this.#claims = claims;
    this.#lease = lease;
  }

  /**
   * Replaces the roster with a snapshot, then makes Redis and this node
   * agree on this node's names: claims applied meanwhile are admitted, names
   * it lost are evicted, names it holds without a client are released.
   */
  async resync(): Promise<void> {
    const node = this.#node;
    const { keys } = node;
    const [incarnation, seq, lastId, flat] = await this.#snapshot.run(
      node.client,
      [keys.incarnation, keys.names, keys.seq, keys.log],
      [],
    ) as [string, number, string, string[]];
    if (incarnation !== node.incarnation) {
      await this.reset();
      return;
    }
    const owners = new Map<string, string>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      owners.set(flat[i]!, flat[i + 1]!);
    }
    const before = node.roster.names.join(" ");
    node.roster = new Roster();
    for (const name of owners.keys()) node.roster.add(name);
    node.seq = seq;
    node.lastId = lastId;
    for (const name of [...node.mine]) {
      if (owners.get(name) === node.nodeId) continue;
      node.mine.delete(name);
      node.listener?.evict(name, Refusal.nameLost);
    }
    const admitted: (() => void)[] = [];
    for (const [name, resolve] of node.waiting) {
      if (owners.get(name) !== node.nodeId) continue;
      node.waiting.delete(name);
      node.mine.add(name);
      node.listener?.admit(name);
      admitted.push(resolve);
    }
    for (const [name, owner] of owners) {
      if (
        owner === node.nodeId && !node.mine.has(name) &&
        !node.waiting.has(name)
      ) {
        this.#claims.release(name);
      }
    }
    if (admitted.length > 0 || node.roster.names.join(" ") !== before) {
      node.emit("sync", "");
    }
    for (const resolve of admitted) resolve();
  }

  /**
   * Redis lost its data: registers in its new incarnation, claims this
   * node's names again (evicting those another node took first), then
   * reads the new roster.
   */
  async reset(): Promise<void> {
    const node = this.#node;
    if (node.state !== "serving") return;
    await this.#lease.register();
    node.seq = 0;
    node.lastId = "0-0";
    let lost = 0;
    for (const name of [...node.mine]) {
      const status = await this.#claims.claim(name);
      if (status === "ok") continue;
      node.mine.delete(name);
      lost++;
      node.listener?.evict(name, Refusal.takenMeanwhile(name));
    }
    for (const [name, resolve] of [...node.waiting]) {
      const status = await this.#claims.claim(name);
      if (status === "ok") continue;
      node.waiting.delete(name);
      resolve(Refusal.nameTaken(name));
    }
    node.onStatus(
      `Redis lost the roster; registered again with ${node.mine.size} names` +
        (lost ? ` (${lost} taken meanwhile)` : ""),
    );
    // The other nodes notice within one renewal period and claim their
    // names again; reading the roster after two spares the clients a
    // roster that lacks the names not claimed yet.
    await delay(2 * node.heartbeatMs);
    await this.resync();
  }
}
