/**
 * The roster handshake: how a client's name is read from the first bytes it
 * sends.
 *
 * @module
 */
import { isValidName, NAME_RULE } from "./roster.ts";

/** The most bytes the server reads for a client's first line. */
export const HANDSHAKE_READ_BYTES = 64;

/** The outcome of a handshake: a valid name, or why there is none. */
export type Handshake = { name: string } | { error: string };

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const latin1 = new TextDecoder("latin1");

/**
 * Reads the client's name from its first read: the bytes up to "\n" without a
 * trailing "\r", or, when the read holds no "\n", all of it (as the seed's
 * Python client sends the bare name). Anything after the "\n" is ignored.
 */
export function parseHandshake(firstRead: Uint8Array): Handshake {
  let end = firstRead.indexOf(NEWLINE);
  if (end < 0) end = firstRead.length;
  else if (end > 0 && firstRead[end - 1] === CARRIAGE_RETURN) end--;
  // Latin-1 maps each byte to one character, so a non-ASCII byte stays
  // visible to the name check instead of merging into a UTF-8 character.
  const name = latin1.decode(firstRead.subarray(0, end));
  if (isValidName(name)) return { name };
  const shown = JSON.stringify(
    name.length > 24 ? name.slice(0, 24) + "..." : name,
  );
  return { error: `invalid name ${shown}: ${NAME_RULE}` };
}

/**
 * The handshake deadlines of every connection still to send its name, kept
 * with one timer for all of them rather than one per connection: a timer
 * costs a few KiB of memory, and every connection gets the same timeout, so
 * deadlines expire in the order connections arrive.
 */
export class HandshakeDeadlines<T> {
  readonly #timeoutMs: number;
  readonly #onExpire: (item: T) => void;
  /** Each waiting item's deadline (`performance.now()`), oldest first. */
  readonly #deadlines = new Map<T, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** Calls `onExpire` for every item still waiting `timeoutMs` after its {@linkcode add}. */
  constructor(timeoutMs: number, onExpire: (item: T) => void) {
    this.#timeoutMs = timeoutMs;
    this.#onExpire = onExpire;
  }

  /** The number of items waiting. */
  get size(): number {
    return this.#deadlines.size;
  }

  /** Starts `item`'s deadline. */
  add(item: T): void {
    this.#deadlines.set(item, performance.now() + this.#timeoutMs);
    this.#timer ??= setTimeout(this.#expire, this.#timeoutMs);
  }

  /** Ends `item`'s deadline: it made it in time, or is gone. */
  delete(item: T): void {
    this.#deadlines.delete(item);
    if (this.#deadlines.size === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Expires every item past its deadline, then waits for the next one. */
  readonly #expire = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    for (const [item, deadline] of this.#deadlines) {
      if (deadline > now) {
        this.#timer = setTimeout(this.#expire, deadline - now);
        return;
      }
      this.#deadlines.delete(item);
      this.#onExpire(item);
    }
  };
}
