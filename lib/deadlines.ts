/**
 * Many deadlines on one timer: a binary min-heap of deadlines whose entries
 * know their position, so that a waiter served or cancelled long before its
 * deadline leaves at once (in logarithmic time) rather than lingering until
 * it would have fired. One Deno timer costs about a kilobyte of heap; a
 * heap entry costs a few dozen bytes.
 *
 * @module
 */

/** A deadline in a {@linkcode Deadlines}; pass it to `remove` to cancel. */
export interface Deadline {
  /** When it fires, in `performance.now()` milliseconds. */
  readonly at: number;
  /** What it runs. */
  readonly fire: () => void;
  /** Its position in the heap; -1 once it has fired or been removed. */
  index: number;
}

/** A set of deadlines served by one timer, armed for the earliest. */
export class Deadlines {
  #heap: Deadline[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedFor = Infinity;

  /** The number of deadlines waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /** Runs `fire` once `ms` milliseconds have passed, unless removed first. */
  add(ms: number, fire: () => void): Deadline {
    const deadline = { at: performance.now() + ms, fire, index: -1 };
    deadline.index = this.#heap.push(deadline) - 1;
    this.#up(deadline.index);
    this.#arm();
    return deadline;
  }

  /** Cancels `deadline`; nothing happens if it has already fired. */
  remove(deadline: Deadline): void {
    const { index } = deadline;
    if (index < 0) return;
    deadline.index = -1;
    const last = this.#heap.pop()!;
    if (last !== deadline) {
      this.#heap[index] = last;
      last.index = index;
      this.#down(index);
      this.#up(last.index);
    }
    this.#arm();
  }

  /** Cancels every deadline and the timer. */
  clear(): void {
    for (const deadline of this.#heap) deadline.index = -1;
    this.#heap = [];
    this.#arm();
  }

  /** Sets the timer for the earliest deadline, if it changed. */
  #arm(): void {
    const next = this.#heap[0]?.at ?? Infinity;
    if (next === this.#armedFor) return;
    clearTimeout(this.#timer);
    this.#armedFor = next;
    this.#timer = next === Infinity ? undefined : setTimeout(
      () => this.#fireDue(),
      Math.min(Math.max(0, next - performance.now()), 2 ** 31 - 1),
    );
  }

  /** Fires every deadline that is due, earliest first. */
  #fireDue(): void {
    this.#armedFor = Infinity;
    const now = performance.now();
    for (let first = this.#heap[0]; first && first.at <= now;) {
      this.remove(first);
      first.fire();
      first = this.#heap[0];
    }
    this.#arm();
  }

  #up(index: number): void {
    const heap = this.#heap;
    const entry = heap[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = heap[parentIndex]!;
      if (parent.at <= entry.at) break;
      heap[index] = parent;
      parent.index = index;
      index = parentIndex;
    }
    heap[index] = entry;
    entry.index = index;
  }

  #down(index: number): void {
    const heap = this.#heap;
    const entry = heap[index]!;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= heap.length) break;
      if (child + 1 < heap.length && heap[child + 1]!.at < heap[child]!.at) {
        child++;
      }
      if (heap[child]!.at >= entry.at) break;
      heap[index] = heap[child]!;
      heap[index]!.index = index;
      index = child;
    }
    heap[index] = entry;
    entry.index = index;
  }
}
