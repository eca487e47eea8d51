/**
 * Claims: a node takes a name in Redis for one of its clients and gives it
 * back, each in one script that also appends the change to the log.
 *
 * @module
 */
import { RedisScript } from "../../lib/redis/mod.ts";
import { type ClusterNode, LOG_LENGTH } from "./_node.ts";
import JOIN from "./join.lua" with { type: "text" };
import LEAVE from "./leave.lua" with { type: "text" };

/**
 * Redis's answer to a claim: the name is this node's now, another node holds
 * it, this node's lease is gone, or Redis lost its data.
 */
export type ClaimStatus = "ok" | "taken" | "fenced" | "reset";

/** Runs `join.lua` and `leave.lua` for one node. */
export class Claims {
  readonly #node: ClusterNode;
  readonly #join = new RedisScript(JOIN);
  readonly #leave = new RedisScript(LEAVE);

  /** Claims for `node`. */
  constructor(node: ClusterNode) {
    this.#node = node;
  }

  /**
   * Claims `name` for the node and appends its join to the log, in one step.
   *
   * @throws {Error} when Redis does not answer
   */
  async claim(name: string): Promise<ClaimStatus> {
    const { client, keys, incarnation, nodeId } = this.#node;
    const [status] = await this.#join.run(
      client,
      [
        keys.incarnation,
        keys.nodes,
        keys.names,
        keys.seq,
        keys.log,
        keys.node(nodeId),
      ],
      [incarnation, nodeId, name, LOG_LENGTH],
    ) as [ClaimStatus];
    return status;
  }

  /** Releases `name` if it is still the node's; a failure is left to repair. */
  release(name: string): void {
    const { client, keys, incarnation, nodeId } = this.#node;
    this.#leave.run(
      client,
      [keys.incarnation, keys.names, keys.seq, keys.log, keys.node(nodeId)],
      [incarnation, nodeId, name, LOG_LENGTH],
    ).catch(() => {});
  }
}
