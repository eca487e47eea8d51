/**
 * The roster: the names of the connected clients, kept sorted, and the line
 * the server sends each client when it changes.
 *
 * @module
 */

/** The naming rule, for messages. */
export const NAME_RULE =
  "a name is 1 to 20 ASCII letters or digits ([A-Za-z0-9]{1,20})";

const NAME_PATTERN = /^[A-Za-z0-9]{1,20}$/;

/** Tells whether `name` follows {@linkcode NAME_RULE}. */
export function isValidName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

/**
 * The names of the connected clients in code-point order (as Python's
 * `sorted()`), kept sorted as names join and leave, with the encoded roster
 * line cached until the next change.
 */
export class Roster {
  #names: string[] = [];
  #line: Uint8Array | undefined;
  #encoder = new TextEncoder();

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
   * The roster line: the names joined by single spaces, then "\n", as UTF-8.
   * Encoded once per change, however many clients it is sent to.
   */
  line(): Uint8Array {
    this.#line ??= this.#encoder.encode(this.#names.join(" ") + "\n");
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
