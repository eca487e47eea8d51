/**
 * The roster server's side of the handshake: reads a new connection's first
 * bytes within the handshake timeout, then, with a token required, the
 * `TOKEN` line and the name; without one, the seed's handshake is unchanged.
 *
 * @module
 */
import { Deadlines } from "../lib/deadlines.ts";
import type { TokenGate } from "../lib/token.ts";
import { closeQuietly } from "./_close_quietly.ts";
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
 * connection still to send its first bytes share one timer rather than one
 * each: a timer costs about a kilobyte, and every connection waits.
 */
export class HandshakeReader {
  readonly #timeoutMs: number;
  readonly #gate: TokenGate | undefined;
  /** Closes a connection that has not sent its handshake in time. */
  readonly #deadlines = new Deadlines();

  /**
   * Gives each connection `timeoutMs` for its first bytes, and as long
   * again for the rest of a token stage; requires a token if `gate` is given.
   */
  constructor(timeoutMs: number, gate?: TokenGate) {
    this.#timeoutMs = timeoutMs;
    this.#gate = gate;
  }

  /**
   * Reads `conn`'s handshake: its name, or why it is refused. Resolves to
   * null when the client closes or stays silent past the timeout, which
   * closes the connection.
   */
  async read(conn: Deno.Conn): Promise<Handshake | null> {
    const first = await this.#readFirst(conn);
    if (first === null) return null;
    const stage = await this.#readTokenStage(conn, first);
    if (stage === null) return null;
    return "error" in stage ? stage : parseHandshake(stage.name);
  }

  /** Reads the client's first bytes, or null if it closes or stays silent. */
  async #readFirst(conn: Deno.Conn): Promise<Uint8Array | null> {
    const deadline = this.#deadlines.add(
      this.#timeoutMs,
      () => closeQuietly(conn),
    );
    try {
      return await readOnce(conn, HANDSHAKE_READ_BYTES);
    } finally {
      this.#deadlines.remove(deadline);
    }
  }

  /**
   * Runs the token stage on `conn`, whose first read was `first`. Without a
   * gate, the first read is the name, except that a token line is refused
   * rather than read as a name (so no error line ever quotes a token). With a
   * gate, reads the rest of the token line if needed, checks the token
   * against the gate, and then reads the name if it did not come yet. Every
   * read together takes at most the timeout, after which the connection is
   * closed. Resolves to null when the client closes or stays silent.
   */
  async #readTokenStage(
    conn: Deno.Conn,
    first: Uint8Array,
  ): Promise<TokenStage | null> {
    const gate = this.#gate;
    if (gate === undefined) {
      const tokenLine = first.length >= TOKEN_LINE_PREFIX.length &&
        parseTokenLine(first).kind !== "absent";
      return tokenLine ? { error: Refusal.unexpectedToken } : { name: first };
    }
    const deadline = this.#deadlines.add(
      this.#timeoutMs,
      () => closeQuietly(conn),
    );
    try {
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
    } finally {
      this.#deadlines.remove(deadline);
    }
  }
}

/** One read of at most `size` bytes, or null at the end or on an error. */
async function readOnce(
  conn: Deno.Conn,
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
