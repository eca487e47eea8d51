/**
 * The queue server's core: a bounded first-in, first-out queue with no I/O.
 *
 * @module
 */

const MIN_SLOTS = 16;

/**
 * A first-in, first-out queue that holds at most `capacity` items.
 *
 * The items live in a ring buffer whose length is a power of two: it doubles
 * when full and halves when at most a quarter full, so {@linkcode put} and
 * {@linkcode pop} take amortized constant time and memory stays proportional
 * to the number of items queued, however large the capacity.
 */
export class BoundedQueue<T> {
  #capacity: number;
  #slots: (T | undefined)[] = new Array(MIN_SLOTS);
  #head = 0;
  #size = 0;

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

  /** The most items the queue holds. */
  get capacity(): number {
    return this.#capacity;
  }

  /** The number of items queued. */
  get size(): number {
    return this.#size;
  }

  /** Appends `item` at the tail; returns false, storing nothing, when full. */
  put(item: T): boolean {
    if (this.#size >= this.#capacity) return false;
    if (this.#size === this.#slots.length) this.#resize(this.#slots.length * 2);
    this.#slots[(this.#head + this.#size) % this.#slots.length] = item;
    this.#size++;
    return true;
  }

  /** Returns the head item without removing it, or undefined when empty. */
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#slots[this.#head];
  }

  /** Removes and returns the head item, or returns undefined when empty. */
  pop(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#slots[this.#head];
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#slots.length;
    this.#size--;
    const length = this.#slots.length;
    if (length > MIN_SLOTS && this.#size <= length / 4) {
      this.#resize(length / 2);
    }
    return item;
  }

  /** Copies the items, in order, into a new ring of `length` slots. */
  #resize(length: number): void {
    const slots: (T | undefined)[] = new Array(length);
    const old = this.#slots;
    for (let i = 0; i < this.#size; i++) {
      slots[i] = old[(this.#head + i) % old.length];
    }
    this.#slots = slots;
    this.#head = 0;
  }
}
