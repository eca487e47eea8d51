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
  owner: AbortSignal | undefined;
}

/**
 * The items under lease, by receipt. A lease ends by `end` (Ack, Release),
 * by its deadline, or when its owner's signal aborts; the last two hand the
 * item to `onLapse`. One timer serves every deadline, and one listener every
 * lease of one owner.
 */
export class LeaseTable {
  #leases = new Map<string, Lease>();
  #owners = new Map<AbortSignal, { receipts: Set<string>; end: () => void }>();
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
    this.#leases.set(receipt, { held, deadline, owner });
    this.#bytes += held.bytes;
    if (owner) this.#own(owner, receipt);
    return receipt;
  }

  /** Ends the lease under `receipt` and returns its item; undefined if none. */
  end(receipt: string): HeldItem | undefined {
    const lease = this.#leases.get(receipt);
    if (lease === undefined) return undefined;
    this.#leases.delete(receipt);
    this.#bytes -= lease.held.bytes;
    this.#deadlines.remove(lease.deadline);
    if (lease.owner) this.#disown(lease.owner, receipt);
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
    for (const [owner, { end }] of this.#owners) {
      owner.removeEventListener("abort", end);
    }
    this.#owners.clear();
    this.#leases.clear();
    this.#deadlines.clear();
    this.#bytes = 0;
  }

  #lapse(receipt: string): void {
    const held = this.end(receipt);
    if (held) this.#onLapse(held);
  }

  #own(owner: AbortSignal, receipt: string): void {
    let owned = this.#owners.get(owner);
    if (owned === undefined) {
      const receipts = new Set<string>();
      const end = () => {
        this.#owners.delete(owner);
        // In lease order, so that they go back in put order.
        for (const each of receipts) this.#lapse(each);
      };
      owned = { receipts, end };
      this.#owners.set(owner, owned);
      owner.addEventListener("abort", end, { once: true });
    }
    owned.receipts.add(receipt);
  }

  #disown(owner: AbortSignal, receipt: string): void {
    const owned = this.#owners.get(owner);
    if (owned === undefined) return;
    owned.receipts.delete(receipt);
    if (owned.receipts.size === 0 && !owner.aborted) {
      owner.removeEventListener("abort", owned.end);
      this.#owners.delete(owner);
    }
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
