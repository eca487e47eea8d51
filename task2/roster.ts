/**
 * The roster: the names of the connected clients, kept sorted, and the line
 * the server sends each client when it changes.
 *
 * @module
 */
import { encodeRosterLine } from "./protocol.ts";

/**
 * The names of the connected clients in code-point order (as Python's
 * `sorted()`), kept sorted as names join and leave, with the encoded roster
 * line cached until the next change.
 */
export class Roster {
  #names: string[] = [];
  #line: Uint8Array | undefined;

  /** The number of names. */
  get size(): number {
    return this.#names.length;
  }

  /** The names in order. */
  get names(): readonly string[] {
    return this.#names;
  }

  /** Tells whether `name` is in the roster. */
  has(name: string): boolean {
    return this.#names[this.#indexOf(name)] === name;
  }

  /** Adds `name` in order; returns false if it was already there. */
  add(name: string): boolean {
    const index = this.#indexOf(name);
    if (this.#names[index] === name) return false;
    this.#names.splice(index, 0, name);
    this.#line = undefined;
    return true;
  }

  /** Removes `name`; returns false if it was not there. */
  remove(name: string): boolean {
    const index = this.#indexOf(name);
    if (this.#names[index] !== name) return false;
    this.#names.splice(index, 1);
    this.#line = undefined;
    return true;
  }

  /**
   * The roster line ({@linkcode encodeRosterLine}), encoded once per change,
   * however many clients it is sent to.
   */
  line(): Uint8Array {
    this.#line ??= encodeRosterLine(this.#names);
    return this.#line;
  }

  /** The index of `name`, or where it would be inserted (binary search). */
  #indexOf(name: string): number {
    let low = 0;
    let high = this.#names.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      // Names are ASCII, so UTF-16 order is code-point order.
      if (this.#names[middle]! < name) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
