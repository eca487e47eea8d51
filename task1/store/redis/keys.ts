/**
 * The Redis keys of one queue. They share the hash tag `{KEY}`, so they live
 * on one node of a cluster and one script may touch them all.
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
 * @module
 */

/** The Redis keys of the queue named `name`, and of one server's part of it. */
export class QueueKeys {
  /** The items, a list, head on the left. */
  readonly items: string;
  /** The stored settings and the counters, a hash. */
  readonly meta: string;
  /** The servers' leases, a sorted set. */
  readonly servers: string;
  /** The flag that says some server has puts waiting for room. */
  readonly putWait: string;
  /** The channel on which pops say they made room. */
  readonly room: string;
  /** The prefix of the servers' in-flight lists. */
  readonly inflightPrefix: string;
  /** This server's in-flight list. */
  readonly inflight: string;

  /** The keys of queue `name` for the server whose id is `server`. */
  constructor(name: string, server: string) {
    const prefix = `queue:{${name}}:`;
    this.items = prefix + "items";
    this.meta = prefix + "meta";
    this.servers = prefix + "servers";
    this.putWait = prefix + "putwait";
    this.room = prefix + "room";
    this.inflightPrefix = prefix + "inflight:";
    this.inflight = this.inflightPrefix + server;
  }
}
