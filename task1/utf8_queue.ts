/**
 * The queue server's item core: a bounded first-in, first-out queue of
 * strings kept as UTF-8 bytes in large `ArrayBuffer` slabs, off the V8 heap's
 * object graph, so that a million queued items are a few slabs to the
 * garbage collector rather than a million strings.
 *
 * @module
 */

import { isAscii, isUtf8 } from "node:buffer";

/** The size of an ordinary slab; a larger item gets a slab of its own. */
export const SLAB_BYTES = 256 * 1024;

const MIN_LENGTH_SLOTS = 16;

/**
 * Throws unless `item` is well-formed UTF-16, so that its UTF-8 form is
 * exactly the string: a lone surrogate would come back as U+FFFD.
 *
 * @throws {RangeError} when `item` holds a lone surrogate
 */
export function checkWellFormed(item: string): void {
  if (!item.isWellFormed()) {
    throw new RangeError(
      "Invalid item: it holds a lone surrogate, which has no UTF-8 form",
    );
  }
}

/**
 * The index of the first item of `bytes` (items of `lengths[i]` bytes, back
 * to back) that is not valid UTF-8, or -1 when all are. Valid UTF-8 as a
 * whole is valid item by item exactly when no item starts with a
 * continuation byte (then every cut falls between characters), so a batch
 * is checked at once, plus one byte per item, and item by item only to name
 * the culprit.
 *
 * @throws {RangeError} when the lengths do not add up to `bytes.length`
 */
export function invalidUtf8Item(
  bytes: Uint8Array,
  lengths: ArrayLike<number>,
): number {
  let total = 0;
  for (let i = 0; i < lengths.length; i++) total += lengths[i]!;
  if (total !== bytes.length) {
    throw new RangeError(
      `Invalid items: ${lengths.length} lengths add up to ${total} bytes, not ${bytes.length}`,
    );
  }
  if (isAscii(bytes)) return -1;
  if (isUtf8(bytes) && !startsMidCharacter(bytes, lengths)) return -1;
  for (let i = 0, at = 0; i < lengths.length; i++) {
    if (!isUtf8(bytes.subarray(at, at += lengths[i]!))) return i;
  }
  return -1;
}

/** Whether an item of `bytes` starts with a UTF-8 continuation byte. */
function startsMidCharacter(
  bytes: Uint8Array,
  lengths: ArrayLike<number>,
): boolean {
  for (let i = 0, at = 0; i < lengths.length; at += lengths[i++]!) {
    if (lengths[i]! > 0 && (bytes[at]! & 0xc0) === 0x80) return true;
  }
  return false;
}

/**
 * A first-in, first-out queue of at most `capacity` strings, held as UTF-8.
 *
 * Items are written one after another into slabs of {@linkcode SLAB_BYTES}
 * (an item that does not fit in the rest of the tail slab starts a new one;
 * an item larger than a slab gets a slab of exactly its size). Their lengths
 * are kept in a ring of `Uint32` that doubles when full and halves when at
 * most a quarter full, so an item costs its UTF-8 bytes plus 4 to 8 bytes.
 * A slab is released as soon as the head leaves it (one emptied slab is kept
 * for the next tail), so a queue filled and drained for hours does not grow.
 *
 * Only well-formed strings are taken: a lone surrogate has no UTF-8 form, and
 * storing its replacement character would hand back another string.
 */
export class Utf8Queue {
  readonly #capacity: number;
  readonly #encoder = new TextEncoder();
  readonly #decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  /** The slabs in order: the head item is in the first, the tail in the last. */
  #slabs: Uint8Array[] = [];
  /** Where the head item starts in the first slab. */
  #headOffset = 0;
  /** Where the next item goes in the last slab. */
  #tailOffset = 0;
  /** An emptied ordinary slab kept for the next tail, if any. */
  #spare: Uint8Array | undefined;
  #lengths = new Uint32Array(MIN_LENGTH_SLOTS);
  #lengthHead = 0;
  #size = 0;
  #bytes = 0;

  /**
   * Creates an empty queue that holds at most `capacity` items.
   *
   * @throws {RangeError} when `capacity` is not a safe integer of at least 1
   */
  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(
        `Invalid capacity "${capacity}": expected an integer of at least 1`,
      );
    }
    this.#capacity = capacity;
  }

  /**
   * A queue holding `items`, in order, with room for at least `capacity`.
   *
   * @throws {RangeError} as {@linkcode Utf8Queue.put} does
   */
  static from(items: Iterable<string>, capacity: number): Utf8Queue {
    const initial = [...items];
    const queue = new Utf8Queue(Math.max(capacity, initial.length));
    for (const item of initial) queue.put(item);
    return queue;
  }

  /** The most items the queue holds. */
  get capacity(): number {
    return this.#capacity;
  }

  /** The number of items queued. */
  get size(): number {
    return this.#size;
  }

  /** The UTF-8 bytes of the items queued. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The bytes of slabs held, spare included: what the items cost in memory. */
  get slabBytes(): number {
    let total = this.#spare?.length ?? 0;
    for (const slab of this.#slabs) total += slab.length;
    return total;
  }

  /**
   * Appends `item` at the tail; returns false, storing nothing, when full.
   *
   * @throws {RangeError} when `item` is not well-formed UTF-16 (a lone
   * surrogate), which has no UTF-8 form
   */
  put(item: string): boolean {
    if (this.#size >= this.#capacity) return false;
    checkWellFormed(item);
    this.#record(this.#writeTail(item) ?? this.#writeSlab(item));
    return true;
  }

  /** Counts an item of `length` bytes just written at the tail. */
  #record(length: number): void {
    if (this.#size === this.#lengths.length) {
      this.#resizeLengths(this.#lengths.length * 2);
    }
    this.#lengths[(this.#lengthHead + this.#size) % this.#lengths.length] =
      length;
    this.#size++;
    this.#bytes += length;
  }

  /**
   * Appends items given as UTF-8, head first: item `i` is the next
   * `lengths[i]` bytes of `bytes`. Copies them straight into the slabs, one
   * copy per run of items that fits in the tail slab, and returns how many
   * it took: all of them unless the queue became full.
   *
   * @throws {RangeError} when the lengths do not add up to `bytes.length` or
   * an item is not valid UTF-8; nothing is stored then
   */
  putUtf8(bytes: Uint8Array, lengths: ArrayLike<number>): number {
    const invalid = invalidUtf8Item(bytes, lengths);
    if (invalid >= 0) {
      throw new RangeError(`Invalid item ${invalid}: it is not valid UTF-8`);
    }
    const count = Math.min(lengths.length, this.#capacity - this.#size);
    let at = 0;
    for (let i = 0; i < count;) {
      const slab = this.#slabs.at(-1);
      const room = slab === undefined ? -1 : slab.length - this.#tailOffset;
      // The run of items from `i` on that fits in the rest of the tail slab.
      let end = i;
      let runBytes = 0;
      while (end < count && runBytes + lengths[end]! <= room) {
        runBytes += lengths[end++]!;
      }
      if (end > i) {
        slab!.set(bytes.subarray(at, at + runBytes), this.#tailOffset);
        this.#tailOffset += runBytes;
        for (; i < end; i++) this.#record(lengths[i]!);
        at += runBytes;
      } else if (lengths[i]! <= SLAB_BYTES) {
        // The next run starts in a new ordinary slab.
        this.#slabs.push(this.#takeSpare());
        this.#tailOffset = 0;
      } else {
        const length = lengths[i++]!;
        this.#slabs.push(bytes.slice(at, at += length));
        this.#tailOffset = length;
        this.#record(length);
      }
    }
    return count;
  }

  /** Returns the head item without removing it, or undefined when empty. */
  peek(): string | undefined {
    if (this.#size === 0) return undefined;
    const length = this.#lengths[this.#lengthHead]!;
    this.#settleHead(length);
    const slab = this.#slabs[0]!;
    return this.#decoder.decode(
      slab.subarray(this.#headOffset, this.#headOffset + length),
    );
  }

  /** Removes and returns the head item, or returns undefined when empty. */
  pop(): string | undefined {
    const item = this.peek();
    if (item === undefined) return undefined;
    const length = this.#lengths[this.#lengthHead]!;
    this.#headOffset += length;
    this.#lengthHead = (this.#lengthHead + 1) % this.#lengths.length;
    this.#size--;
    this.#bytes -= length;
    if (this.#size === 0) this.#reset();
    const slots = this.#lengths.length;
    if (slots > MIN_LENGTH_SLOTS && this.#size <= slots / 4) {
      this.#resizeLengths(slots / 2);
    }
    return item;
  }

  /**
   * Encodes `item` at the tail of the last slab and returns its length, or
   * undefined, writing nothing that counts, when it does not fit there.
   */
  #writeTail(item: string): number | undefined {
    const slab = this.#slabs.at(-1);
    if (slab === undefined) return undefined;
    const room = slab.subarray(this.#tailOffset);
    const { read, written } = this.#encoder.encodeInto(item, room);
    if (read < item.length) return undefined;
    this.#tailOffset += written;
    return written;
  }

  /**
   * Writes `item` at the start of a new tail slab and returns its length: an
   * ordinary slab, or one of exactly its size when it is larger than that.
   */
  #writeSlab(item: string): number {
    if (item.length * 3 <= SLAB_BYTES) {
      this.#slabs.push(this.#takeSpare());
      this.#tailOffset = 0;
      return this.#writeTail(item)!;
    }
    const bytes = this.#encoder.encode(item);
    let slab: Uint8Array = bytes;
    if (bytes.length <= SLAB_BYTES) {
      slab = this.#takeSpare();
      slab.set(bytes);
    }
    this.#slabs.push(slab);
    this.#tailOffset = bytes.length;
    return bytes.length;
  }

  /** The spare slab, or a new ordinary one. */
  #takeSpare(): Uint8Array {
    const slab = this.#spare ?? new Uint8Array(SLAB_BYTES);
    this.#spare = undefined;
    return slab;
  }

  /**
   * Moves the head to the next slab when the head item of `length` bytes is
   * not in the rest of the first one. A put starts a new slab exactly when
   * its item does not fit in the rest of the last, and items lie back to
   * back, so the item is in the first slab exactly when it fits there.
   */
  #settleHead(length: number): void {
    if (this.#headOffset + length <= this.#slabs[0]!.length) return;
    this.#release(this.#slabs.shift()!);
    this.#headOffset = 0;
  }

  /** Keeps an emptied ordinary slab as the spare; drops any other. */
  #release(slab: Uint8Array): void {
    if (slab.length === SLAB_BYTES) this.#spare ??= slab;
  }

  /** Empties the slabs once the last item is gone, keeping one for reuse. */
  #reset(): void {
    for (const slab of this.#slabs) this.#release(slab);
    this.#slabs = [];
    this.#headOffset = 0;
    this.#tailOffset = 0;
  }

  /** Copies the lengths, in order, into a new ring of `slots` slots. */
  #resizeLengths(slots: number): void {
    const lengths = new Uint32Array(slots);
    const old = this.#lengths;
    for (let i = 0; i < this.#size; i++) {
      lengths[i] = old[(this.#lengthHead + i) % old.length]!;
    }
    this.#lengths = lengths;
    this.#lengthHead = 0;
  }
}
