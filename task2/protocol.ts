/**
 * The roster's wire protocol, byte for byte, for the server and the client:
 * the name rule, the optional `TOKEN` line, the handshake, the roster line
 * and every `error:` line the server sends.
 *
 * A client sends, within the handshake timeout, either its bare name (as the
 * seed's Python client does) or, when the server requires a token,
 * `TOKEN <token>\n<name>\n`. The server then sends a roster line each time
 * the roster changes, or one `error: <reason>\n` line before closing.
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

/** The most bytes the server reads for a client's first line. */
export const HANDSHAKE_READ_BYTES = 64;

/** The outcome of a handshake: a valid name, or why there is none. */
export type Handshake = { name: string } | { error: string };

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const latin1 = new TextDecoder("latin1");
const encoder = new TextEncoder();

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
  return { error: Refusal.invalidName(name) };
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

const TOKEN_PREFIX_BYTES = encoder.encode(TOKEN_LINE_PREFIX);

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
 * What a client sends to join as `name`: the bare name, as the seed's client
 * does; with a token, `TOKEN <token>\n` first and the name with a newline.
 */
export function encodeGreeting(name: string, token?: string): Uint8Array {
  return encoder.encode(
    token === undefined ? name : `${TOKEN_LINE_PREFIX}${token}\n${name}\n`,
  );
}

/** The roster line: `names` joined by single spaces, then "\n", as UTF-8. */
export function encodeRosterLine(names: readonly string[]): Uint8Array {
  return encoder.encode(names.join(" ") + "\n");
}

/** What starts every line the server sends to refuse or drop a client. */
export const ERROR_LINE_PREFIX = "error: ";

/** The line that tells a client why it is refused or dropped. */
export function encodeErrorLine(reason: string): Uint8Array {
  return encoder.encode(`${ERROR_LINE_PREFIX}${reason}\n`);
}

/**
 * Every reason the server gives on an `error:` line, but for a token's
 * refusal (from `lib/token.ts`).
 */
export const Refusal = {
  /** The first line is not a valid name; a long one is shortened. */
  invalidName(name: string): string {
    const shown = JSON.stringify(
      name.length > 24 ? name.slice(0, 24) + "..." : name,
    );
    return `invalid name ${shown}: ${NAME_RULE}`;
  },
  /** A token line came to a server that requires none. */
  unexpectedToken: "this server takes no token: connect without one",
  /** No token line came to a server that requires one. */
  missingToken:
    'missing token: send "TOKEN <token>" and a newline before the name',
  /** Another client holds the name. */
  nameTaken(name: string): string {
    return `name "${name}" is already connected`;
  },
  /** The server holds its most clients. */
  serverFull(maxClients: number): string {
    return `server is full (${maxClients} clients)`;
  },
  /** The server is closing. */
  shuttingDown: "server is shutting down",
  /** The node is fenced off its cluster while it registers again. */
  cutOff:
    "server is cut off from the roster cluster; connect to another server",
  /** The node's lease ran out: every client of the node is dropped. */
  clusterLost: "server lost the roster cluster; connect to another server",
  /** Redis did not answer a claim. */
  clusterUnreachable: "the roster cluster is unreachable; try again",
  /** Redis lost its data twice during one claim. */
  clusterRestarting: "the roster cluster is restarting; try again",
  /** The log says another node removed this node's name. */
  nameRemoved: "the roster cluster removed this name",
  /** A snapshot shows the name no longer this node's. */
  nameLost: "the roster cluster lost this name",
  /** Redis lost its data and another node claimed the name first. */
  takenMeanwhile(name: string): string {
    return `name "${name}" was taken meanwhile`;
  },
} as const;
