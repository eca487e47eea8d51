/**
 * The roster's WebSocket protocol, message by message: what a browser (or any
 * WebSocket client) sends on `GET /roster` and what the server answers. It
 * reuses the TCP protocol's rules and texts from `protocol.ts`.
 *
 * The client's first text message is its name; with a token required, a
 * message `TOKEN <token>` comes first and the name second. The server then
 * sends each roster as one text message (the TCP roster line without its
 * "\n"), or one `error: <reason>` message followed by a close with code
 * {@linkcode POLICY_VIOLATION}.
 *
 * @module
 */
import {
  type Handshake,
  isValidName,
  Refusal,
  TOKEN_LINE_PREFIX,
} from "./protocol.ts";

/** The WebSocket path the roster is joined on. */
export const ROSTER_PATH = "/roster";

/** The close code after an `error:` message (RFC 6455: policy violation). */
export const POLICY_VIOLATION = 1008;

/** The close code when the server shuts down (RFC 6455: going away). */
export const GOING_AWAY = 1001;

/** The longest message read during the handshake, in characters. */
export const MAX_HANDSHAKE_MESSAGE = 512;

/** What the first message holds, when a token is required. */
export type TokenMessage = { token: string } | { error: string };

/**
 * Reads a message that should be `TOKEN <token>`; a message without that
 * prefix is refused as a missing token, and no outcome quotes the token.
 */
export function parseTokenMessage(message: string): TokenMessage {
  if (
    !message.startsWith(TOKEN_LINE_PREFIX) ||
    message.length > MAX_HANDSHAKE_MESSAGE
  ) {
    return { error: Refusal.missingToken };
  }
  return { token: message.slice(TOKEN_LINE_PREFIX.length) };
}

/**
 * Reads the name message: the whole message is the name. A `TOKEN` message
 * where no token is required is refused without quoting it.
 */
export function parseNameMessage(message: string): Handshake {
  if (isValidName(message)) return { name: message };
  if (message.startsWith(TOKEN_LINE_PREFIX)) {
    return { error: Refusal.unexpectedToken };
  }
  return { error: Refusal.invalidName(message.slice(0, 64)) };
}

const decoder = new TextDecoder();

/**
 * The text message for a TCP line (a roster or `error:` line): the line
 * without its "\n". The server sends the same line object to every client,
 * so the last one decoded is kept and most calls cost a comparison.
 */
export class LineMessages {
  #line: Uint8Array | undefined;
  #text = "";

  /** The message for `line`. */
  text(line: Uint8Array): string {
    if (line !== this.#line) {
      const end = line.at(-1) === 0x0a ? line.length - 1 : line.length;
      this.#text = decoder.decode(line.subarray(0, end));
      this.#line = line;
    }
    return this.#text;
  }
}
