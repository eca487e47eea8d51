/**
 * The Redis keys of one queue. They share the hash tag `{KEY}`, so they live
 * on one node of a cluster and one script may touch them all.
 *
 * - `queue:{KEY}:items`, a list, head on the left: items as put, and ahead
 *   of them the items that came back from a lease, with their delivery count
 *   and order (`entries.lua`);
 * - `queue:{KEY}:meta`, a hash: the capacity and byte bound stored with the
 *   queue, the count and bytes of its items (those in flight and leased
 *   included), and `leases`, the number of the last item leased first;
 * - `queue:{KEY}:leased`, a hash: the leased items by receipt, and
 *   `queue:{KEY}:deadlines`, a sorted set: each receipt's end, in ms of
 *   Redis's clock; they are the same on every server of the queue;
 *   `queue:{KEY}:owned:ID`, a set: the receipts of the leases that the
 *   Sessions of server ID hold, which go back when its lease runs out;
 * - `queue:{KEY}:taken:ID`, a hash: the items server ID took from the queue
 *   and has not answered yet, by the number it gave each take, which orders
 *   them; `queue:{KEY}:inflight:ID`, a list: the items the blocking pops of
 *   server ID moved out of the queue, before it takes them from there;
 *   `queue:{KEY}:epoch:ID`, the epoch of server ID, changed at each of its
 *   recoveries so that a take sent before it never runs after it;
 *   `queue:{KEY}:servers`, the servers' leases, so that the items in flight
 *   of a server that died go back to the head;
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
  /** The leased items, a hash by receipt. */
  readonly leased: string;
  /** The ends of the leases, a sorted set of receipts. */
  readonly deadlines: string;
  /** The prefix of the servers' sets of their Sessions' receipts. */
  readonly ownedPrefix: string;
  /** The receipts of the leases this server's Sessions hold, a set. */
  readonly owned: string;
  /** The prefix of the servers' in-flight lists. */
  readonly inflightPrefix: string;
  /** This server's in-flight list, where its blocking pops move items. */
  readonly inflight: string;
  /** The prefix of the servers' hashes of taken items. */
  readonly takenPrefix: string;
  /** This server's taken items, not answered yet, by take number. */
  readonly taken: string;
  /** The prefix of the servers' epochs. */
  readonly epochPrefix: string;
  /** This server's epoch: a take runs only while it is the one it names. */
  readonly epoch: string;

  /** The keys of queue `name` for the server whose id is `server`. */
  constructor(name: string, server: string) {
    const prefix = `queue:{${name}}:`;
    this.items = prefix + "items";
    this.meta = prefix + "meta";
    this.servers = prefix + "servers";
    this.putWait = prefix + "putwait";
    this.room = prefix + "room";
    this.leased = prefix + "leased";
    this.deadlines = prefix + "deadlines";
    this.ownedPrefix = prefix + "owned:";
    this.owned = this.ownedPrefix + server;
    this.inflightPrefix = prefix + "inflight:";
    this.inflight = this.inflightPrefix + server;
    this.takenPrefix = prefix + "taken:";
    this.taken = this.takenPrefix + server;
    this.epochPrefix = prefix + "epoch:";
    this.epoch = this.epochPrefix + server;
  }
}
