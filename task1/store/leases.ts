/**
 * The engine's leased and returned items: the {@linkcode LeaseTable} of the
 * items handed out under lease (each with its receipt, its deadline on one
 * shared timer and, for a Session's lease, its owner), and the
 * {@linkcode ReturnedItems} that came back without an Ack, kept in put order
 * and served before any item never leased.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { type Deadline, Deadlines } from "../../lib/deadlines.ts";

/** An item the engine holds outside its `Utf8Queue`: leased or returned. */
export interface HeldItem {
  /** Its place in put order (the durable store's row number). */
  readonly seq: number;
  /** The item. */
  readonly item: string;
  /** Its UTF-8 bytes. */
  readonly bytes: number;
  /** How many leasing pops handed it out so far. */
  readonly deliveryCount: number;
}

/** The bytes of randomness in a receipt: 128 bits, as a UUID's. */
const RECEIPT_BYTES = 16;

/** A new receipt: 16 random bytes in base64url, 22 characters. */
export function newReceipt(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(RECEIPT_BYTES));
  return Buffer.from(bytes).toString("base64url");
}

interface Lease {
  held: HeldItem;
  deadline: Deadline;
}

/**
 * The leases of each owner (a Session's signal), by receipt: one listener per
 * owner hands the receipts of its leases still held, in lease order, to
 * `onEnd` when its signal aborts. Shared by the engine's
 * {@linkcode LeaseTable} and the Redis store.
 */
export class LeaseOwners {
  #owners = new Map<AbortSignal, { receipts: Set<string>; end: () => void }>();
  #ownerOf = new Map<string, AbortSignal>();
  #onEnd: (receipts: string[]) => void;

  /** No owner yet; `onEnd` ends the leases of an owner whose signal aborted. */
  constructor(onEnd: (receipts: string[]) => void) {
    this.#onEnd = onEnd;
  }

  /**
   * Records that the lease under `receipt` ends with `owner`; if `owner` has
   * already aborted, it ends at once.
   */
  add(owner: AbortSignal, receipt: string): void {
    let owned = this.#owners.get(owner);
    if (owned === undefined) {
      const end = () => this.#end(owner);
      owned = { receipts: new Set(), end };
      this.#owners.set(owner, owned);
      owner.addEventListener("abort", end, { once: true });
    }
    owned.receipts.add(receipt);
    this.#ownerOf.set(receipt, owner);
    // It aborted before: its listener came too late.
    if (owner.aborted) this.#end(owner);
  }

  /** Forgets the owner of the lease under `receipt`: it ended otherwise. */
  remove(receipt: string): void {
    const owner = this.#ownerOf.get(receipt);
    if (owner === undefined) return;
    this.#ownerOf.delete(receipt);
    const owned = this.#owners.get(owner);
    if (owned === undefined) return;
    owned.receipts.delete(receipt);
    if (owned.receipts.size === 0 && !owner.aborted) {
      owner.removeEventListener("abort", owned.end);
      this.#owners.delete(owner);
    }
  }

  /** Forgets every owner and its listener; returns the receipts they had. */
  clear(): string[] {
    for (const [owner, { end }] of this.#owners) {
      owner.removeEventListener("abort", end);
    }
    const receipts = [...this.#ownerOf.keys()];
    this.#owners.clear();
    this.#ownerOf.clear();
    return receipts;
  }

  #end(owner: AbortSignal): void {
    const owned = this.#owners.get(owner);
    if (owned === undefined) return;
    this.#owners.delete(owner);
    const receipts = [...owned.receipts];
    for (const receipt of receipts) this.#ownerOf.delete(receipt);
    if (receipts.length > 0) this.#onEnd(receipts);
  }
}

/**
 * The items under lease, by receipt. A lease ends by `end` (Ack, Release),
 * by its deadline, or when its owner's signal aborts; the last two hand the
 * item to `onLapse`. One timer serves every deadline, and one listener every
 * lease of one owner.
 */
export class LeaseTable {
  #leases = new Map<string, Lease>();
  // In lease order, so that they go back in put order.
  #owners = new LeaseOwners((receipts) => {
    for (const receipt of receipts) this.#lapse(receipt);
  });
  #deadlines = new Deadlines();
  #bytes = 0;
  #onLapse: (held: HeldItem) => void;

  /** Creates an empty table; `onLapse` takes each item whose lease lapsed. */
  constructor(onLapse: (held: HeldItem) => void) {
    this.#onLapse = onLapse;
  }

  /** The number of items under lease. */
  get size(): number {
    return this.#leases.size;
  }

  /** The UTF-8 bytes of the items under lease. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Leases `held` for `ms` milliseconds, to `owner` if given (its lease then
   * lapses when the signal aborts), and returns the new receipt.
   */
  take(held: HeldItem, ms: number, owner?: AbortSignal): string {
    const receipt = newReceipt();
    const deadline = this.#deadlines.add(ms, () => this.#lapse(receipt));
    this.#leases.set(receipt, { held, deadline });
    this.#bytes += held.bytes;
    if (owner) this.#owners.add(owner, receipt);
    return receipt;
  }

  /** Ends the lease under `receipt` and returns its item; undefined if none. */
  end(receipt: string): HeldItem | undefined {
    const lease = this.#leases.get(receipt);
    if (lease === undefined) return undefined;
    this.#leases.delete(receipt);
    this.#bytes -= lease.held.bytes;
    this.#deadlines.remove(lease.deadline);
    this.#owners.remove(receipt);
    return lease.held;
  }

  /** Moves the end of the lease under `receipt` to `ms` from now. */
  extend(receipt: string, ms: number): boolean {
    const lease = this.#leases.get(receipt);
    if (lease === undefined) return false;
    this.#deadlines.remove(lease.deadline);
    lease.deadline = this.#deadlines.add(ms, () => this.#lapse(receipt));
    return true;
  }

  /** Forgets every lease and timer, returning nothing: the store is closing. */
  clear(): void {
    this.#owners.clear();
    this.#leases.clear();
    this.#deadlines.clear();
    this.#bytes = 0;
  }

  #lapse(receipt: string): void {
    const held = this.end(receipt);
    if (held) this.#onLapse(held);
  }
}

/**
 * The items that came back from a lease, in put order (by `seq`): they are
 * served before every item never leased, so a release or a lapse puts its
 * item back at the head, behind only earlier-put returned items.
 */
export class ReturnedItems {
  #items: HeldItem[] = [];
  #bytes = 0;

  /** The number of returned items. */
  get size(): number {
    return this.#items.length;
  }

  /** Their UTF-8 bytes. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds `held` in its place by `seq`. */
  add(held: HeldItem): void {
    const items = this.#items;
    let low = 0;
    let high = items.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (items[middle]!.seq < held.seq) low = middle + 1;
      else high = middle;
    }
    items.splice(low, 0, held);
    this.#bytes += held.bytes;
  }

  /** The first returned item, or undefined. */
  peek(): HeldItem | undefined {
    return this.#items[0];
  }

  /** Removes and returns the first returned item, or undefined. */
  shift(): HeldItem | undefined {
    const held = this.#items.shift();
    if (held) this.#bytes -= held.bytes;
    return held;
  }
}
