/**
 * The roster server's side of the handshake: reads a new connection's name
 * and, with a token required, the `TOKEN` line before it, all within one
 * handshake deadline counted from the TCP accept (a TLS handshake included);
 * without a token, the seed's handshake is unchanged.
 *
 * @module
 */
import { Deadlines } from "../lib/deadlines.ts";
import type { TokenGate } from "../lib/token.ts";
import { closeQuietly } from "./_close_quietly.ts";
import type { RosterConn } from "./conn.ts";
import {
  type Handshake,
  HANDSHAKE_READ_BYTES,
  MAX_TOKEN_LINE_BYTES,
  parseHandshake,
  parseTokenLine,
  Refusal,
  TOKEN_LINE_PREFIX,
} from "./protocol.ts";

/** What the name is read from, or why the client is refused. */
type TokenStage = { name: Uint8Array } | { error: string };

/**
 * Reads the handshakes of one server's connections. The deadlines of every
 * connection in its handshake share one timer rather than one each: a timer
 * costs about a kilobyte, and every connection waits.
 */
export class HandshakeReader {
  readonly #timeoutMs: number;
  readonly #gate: TokenGate | undefined;
  /** Closes a connection that has not sent its handshake in time. */
  readonly #deadlines = new Deadlines();

  /**
   * Gives each connection `timeoutMs` for its whole handshake; requires a
   * token if `gate` is given.
   */
  constructor(timeoutMs: number, gate?: TokenGate) {
    this.#timeoutMs = timeoutMs;
    this.#gate = gate;
  }

  /**
   * Reads `conn`'s handshake: its name, or why it is refused. One deadline,
   * started now (call it as soon as the connection is accepted), covers every
   * read, a TLS handshake included; at the deadline the connection is closed.
   * Resolves to null when the client closes or the deadline passes.
   */
  async read(conn: RosterConn): Promise<Handshake | null> {
    let expired = false;
    const deadline = this.#deadlines.add(this.#timeoutMs, () => {
      expired = true;
      closeQuietly(conn);
    });
    try {
      const first = await readOnce(conn, HANDSHAKE_READ_BYTES);
      if (first === null) return null;
      const stage = await this.#readTokenStage(conn, first);
      if (stage === null || expired) return null;
      return "error" in stage ? stage : parseHandshake(stage.name);
    } finally {
      this.#deadlines.remove(deadline);
    }
  }

  /**
   * Runs the token stage on `conn`, whose first read was `first`. Without a
   * gate, the first read is the name, except that a token line is refused
   * rather than read as a name (so no error line ever quotes a token). With a
   * gate, reads the rest of the token line however its bytes are split (at
   * most {@linkcode MAX_TOKEN_LINE_BYTES}), checks the token against the
   * gate, and then reads the name in one read if it did not come yet.
   * Resolves to null when the client closes.
   */
  async #readTokenStage(
    conn: RosterConn,
    first: Uint8Array,
  ): Promise<TokenStage | null> {
    const gate = this.#gate;
    if (gate === undefined) {
      const tokenLine = first.length >= TOKEN_LINE_PREFIX.length &&
        parseTokenLine(first).kind !== "absent";
      return tokenLine ? { error: Refusal.unexpectedToken } : { name: first };
    }
    let received = first;
    let line = parseTokenLine(received);
    while (line.kind === "incomplete") {
      const more = await readOnce(conn, MAX_TOKEN_LINE_BYTES);
      if (more === null) return null;
      received = concat(received, more);
      line = parseTokenLine(received);
    }
    if (line.kind === "absent") return { error: Refusal.missingToken };
    const { hostname } = conn.remoteAddr as Deno.NetAddr;
    const verdict = await gate.check(hostname, line.token);
    if (!verdict.ok) return { error: verdict.reason };
    if (line.rest.length > 0) return { name: line.rest };
    const name = await readOnce(conn, HANDSHAKE_READ_BYTES);
    return name === null ? null : { name };
  }
}

/** One read of at most `size` bytes, or null at the end or on an error. */
async function readOnce(
  conn: RosterConn,
  size: number,
): Promise<Uint8Array | null> {
  const buffer = new Uint8Array(size);
  try {
    const count = await conn.read(buffer);
    return count === null ? null : buffer.subarray(0, count);
  } catch {
    return null;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}
