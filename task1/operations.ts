/**
 * The queue's operations as the RPCs see them, over one
 * {@linkcode QueueStore}: each validates its request and resolves to its
 * response. The unary handlers and `Session` both run them.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { itemNotUtf8 } from "./item_utf8.ts";
import {
  type Leased,
  MAX_LEASE_MS,
  MAX_WAIT_MS,
  type QueueStore,
} from "./store/mod.ts";
import type {
  AckResponse,
  EmptyRequest,
  ExtendRequest,
  ExtendResponse,
  ItemResponse,
  PopRequest,
  PutRequest,
  PutResponse,
  ReceiptRequest,
  ReleaseResponse,
  SizeResponse,
} from "./proto.ts";

/** The default limit on the size of one item: 1 MiB of UTF-8. */
export const DEFAULT_MAX_ITEM_BYTES = 1024 * 1024;

/**
 * The queue's operations as the RPCs see them: one function per command,
 * shared by the unary handlers and by `Session`. Each validates its request
 * (throwing `RangeError` for a caller's mistake) and resolves to its
 * response; `signal` aborts when the caller gives up.
 */
export interface QueueOperations {
  /** Appends the item unless the queue is full. */
  put(request: PutRequest, signal: AbortSignal): Promise<PutResponse>;
  /** Returns the head item without removing it. */
  peek(request: EmptyRequest, signal: AbortSignal): Promise<ItemResponse>;
  /**
   * Removes and returns the head item, or with `lease_ms` leases it; a lease
   * taken with an `owner` (a Session's) ends when that signal aborts.
   */
  pop(
    request: PopRequest,
    signal: AbortSignal,
    owner?: AbortSignal,
  ): Promise<ItemResponse>;
  /** Returns the number of items queued and of items leased. */
  size(request: EmptyRequest, signal: AbortSignal): Promise<SizeResponse>;
  /** Removes a leased item for good. */
  ack(request: ReceiptRequest, signal: AbortSignal): Promise<AckResponse>;
  /** Gives a leased item back at the head of the queue. */
  release(
    request: ReceiptRequest,
    signal: AbortSignal,
  ): Promise<ReleaseResponse>;
  /** Moves the end of a lease to `lease_ms` from now. */
  extend(request: ExtendRequest, signal: AbortSignal): Promise<ExtendResponse>;
}

/** Options of {@linkcode queueOperations}. */
export interface QueueOperationsOptions {
  /**
   * The largest item accepted, in bytes of UTF-8.
   *
   * @default {1048576}
   */
  maxItemBytes?: number;
  /**
   * A full garbage collection, run after every 32 MiB of large items
   * accepted; none when undefined.
   *
   * @default {globalThis.gc} (queue-server runs with `--expose-gc`)
   */
  collectGarbage?: (() => void) | undefined;
}

/**
 * The operations of `queue.v1.QueueService` over `store`. A Put or Pop with
 * `wait_ms` waits in the store until it can answer, its time is up, or
 * `signal` aborts (the call was cancelled or its deadline passed): it then
 * rejects with the signal's reason, leaving the queue untouched. A Put is
 * refused (`RangeError`) when its item is too large or was not valid UTF-8
 * on the wire, or its `wait_ms` too long; only a Put that passes these
 * checks counts toward the collection of large items.
 */
export function queueOperations(
  store: QueueStore,
  options: QueueOperationsOptions = {},
): QueueOperations {
  const {
    maxItemBytes = DEFAULT_MAX_ITEM_BYTES,
    collectGarbage = (globalThis as { gc?: () => void }).gc,
  } = options;
  const accepted = largeItemCollector(collectGarbage);
  return {
    async put(request, signal) {
      const { item, wait_ms = 0 } = request;
      if (itemNotUtf8(request)) {
        throw new RangeError(
          "Invalid item: not valid UTF-8 (a protobuf string holds UTF-8 text only)",
        );
      }
      const bytes = Buffer.byteLength(item, "utf8");
      if (bytes > maxItemBytes) {
        throw new RangeError(
          `Item too large: ${bytes} bytes, more than the limit of ${maxItemBytes} bytes`,
        );
      }
      const waitMs = checkWait(wait_ms);
      accepted(bytes);
      return { added: await store.put(item, { waitMs, signal }) };
    },
    async peek() {
      return itemResponse(await store.peek());
    },
    async pop({ wait_ms = 0, lease_ms = 0 }, signal, owner) {
      const waitMs = checkWait(wait_ms);
      if (lease_ms === 0) {
        return itemResponse(await store.pop({ waitMs, signal }));
      }
      const leaseMs = checkLease(lease_ms);
      return leasedResponse(
        await store.lease({
          waitMs,
          signal,
          leaseMs,
          ...(owner === undefined ? {} : { owner }),
        }),
      );
    },
    async size() {
      const size = await store.size();
      // Unset when 0, so a reply without leases is byte for byte the
      // version-2 reply (protobufjs writes a scalar that is set, even 0).
      const { leased } = store.status();
      return leased === 0 ? { size } : { size, leased };
    },
    async ack({ receipt = "" }) {
      return { acked: await store.ack(receipt) };
    },
    async release({ receipt = "" }) {
      return { released: await store.release(receipt) };
    },
    async extend({ receipt = "", lease_ms = 0 }) {
      const leaseMs = checkLease(lease_ms);
      return { extended: await store.extend(receipt, leaseMs) };
    },
  };
}

/** Items at least this large are counted by {@linkcode largeItemCollector}. */
const LARGE_ITEM_BYTES = 64 * 1024;

/** How many bytes of large items may arrive between two full collections. */
const COLLECT_EVERY_BYTES = 32 * 1024 * 1024;

/**
 * Keeps the garbage of large items bounded: V8 lets its heap grow well past
 * what is live before a full collection, and large strings (and the buffers
 * they were decoded from) count in full, so a server answering False to 1
 * MiB Puts at its `--max-bytes` would hold hundreds of MiB of dead items.
 * This runs `collectGarbage` after every {@linkcode COLLECT_EVERY_BYTES} of
 * accepted items (valid Puts, whether or not the queue had room) of at least
 * {@linkcode LARGE_ITEM_BYTES}; small items die young and V8's own scavenger
 * keeps up with them. Refused Puts (too large, not UTF-8) do not count, so
 * they cannot force collections. Returns the function each accepted Put
 * calls with its item's size.
 */
function largeItemCollector(
  collectGarbage: (() => void) | undefined,
): (bytes: number) => void {
  let received = 0;
  return (bytes) => {
    if (collectGarbage === undefined || bytes < LARGE_ITEM_BYTES) return;
    received += bytes;
    if (received >= COLLECT_EVERY_BYTES) {
      received = 0;
      collectGarbage();
    }
  };
}

/**
 * Checks a request's `wait_ms`: at most {@linkcode MAX_WAIT_MS}.
 *
 * @throws {RangeError} when it is longer
 */
function checkWait(waitMs: number): number {
  if (waitMs > MAX_WAIT_MS) {
    throw new RangeError(
      `Invalid wait_ms ${waitMs}: more than the limit of ${MAX_WAIT_MS} ms (1 hour)`,
    );
  }
  return waitMs;
}

/**
 * Checks a request's `lease_ms`: above 0 and at most
 * {@linkcode MAX_LEASE_MS}.
 *
 * @throws {RangeError} when it is 0 or longer
 */
function checkLease(leaseMs: number): number {
  if (leaseMs <= 0) {
    throw new RangeError("Invalid lease_ms 0: a lease lasts at least 1 ms");
  }
  if (leaseMs > MAX_LEASE_MS) {
    throw new RangeError(
      `Invalid lease_ms ${leaseMs}: more than the limit of ${MAX_LEASE_MS} ms (1 hour)`,
    );
  }
  return leaseMs;
}

function leasedResponse(leased: Leased | undefined): ItemResponse {
  if (leased === undefined) return {};
  const { item, receipt, deliveryCount } = leased;
  return { item, receipt, delivery_count: deliveryCount };
}

function itemResponse(item: string | undefined): ItemResponse {
  return item === undefined ? {} : { item };
}
