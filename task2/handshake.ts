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

/** What a client sends before its name when the server requires a token. */
export const TOKEN_LINE_PREFIX = "TOKEN ";

/** The longest token line read: the prefix, 256 characters and CRLF. */
export const MAX_TOKEN_LINE_BYTES = TOKEN_LINE_PREFIX.length + 256 + 2;

/** The outcome of {@linkcode parseTokenLine}. */
export type TokenLine =
  /** The bytes so far may still become a token line: read more. */
  | { kind: "incomplete" }
  /** The bytes do not start with `TOKEN `, or the line is too long. */
  | { kind: "absent" }
  /** The token, and the bytes after its line (the name, or nothing yet). */
  | { kind: "token"; token: string; rest: Uint8Array };

const TOKEN_PREFIX_BYTES = new TextEncoder().encode(TOKEN_LINE_PREFIX);

/**
 * Reads the optional first line `TOKEN <token>\n` (or `\r\n`) that comes
 * before the name when the server requires a token. A token is never
 * quoted in any outcome, so it cannot leak into a message.
 */
export function parseTokenLine(received: Uint8Array): TokenLine {
  const compared = Math.min(received.length, TOKEN_PREFIX_BYTES.length);
  for (let i = 0; i < compared; i++) {
    if (received[i] !== TOKEN_PREFIX_BYTES[i]) return { kind: "absent" };
  }
  const newline = received.indexOf(NEWLINE);
  if (newline < 0) {
    return received.length < MAX_TOKEN_LINE_BYTES
      ? { kind: "incomplete" }
      : { kind: "absent" };
  }
  let end = newline;
  if (end > 0 && received[end - 1] === CARRIAGE_RETURN) end--;
  if (end < TOKEN_PREFIX_BYTES.length) return { kind: "absent" };
  return {
    kind: "token",
    token: latin1.decode(received.subarray(TOKEN_PREFIX_BYTES.length, end)),
    rest: received.subarray(newline + 1),
  };
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
