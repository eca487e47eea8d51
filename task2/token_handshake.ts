/**
 * The roster server's token stage, between the first read and the name:
 * with a token required, the client first sends `TOKEN <token>\n`; without
 * one, the seed's handshake is unchanged.
 *
 * @module
 */
import type { TokenGate } from "../lib/token.ts";
import {
  HANDSHAKE_READ_BYTES,
  MAX_TOKEN_LINE_BYTES,
  parseTokenLine,
  TOKEN_LINE_PREFIX,
} from "./handshake.ts";

/** What the name is read from, or why the client is refused. */
export type TokenStage = { name: Uint8Array } | { error: string };

/** The refusal of a client that sent no token to a server that needs one. */
export const MISSING_TOKEN_ERROR =
  'missing token: send "TOKEN <token>" and a newline before the name';

/**
 * Runs the token stage on `conn`, whose first read was `first`. Without a
 * `gate`, the first read is the name, except that a token line is refused
 * rather than read as a name (so no error line ever quotes a token). With a
 * `gate`, reads the rest of the token line if needed, checks the token
 * against the gate, and then reads the name if it did not come yet. Every
 * read together takes at most `timeoutMs`, after which the connection is
 * closed. Resolves to null when the client closes or stays silent.
 */
export async function readTokenStage(
  conn: Deno.Conn,
  first: Uint8Array,
  gate: TokenGate | undefined,
  timeoutMs: number,
): Promise<TokenStage | null> {
  if (gate === undefined) {
    const tokenLine = first.length >= TOKEN_LINE_PREFIX.length &&
      parseTokenLine(first).kind !== "absent";
    return tokenLine
      ? { error: "this server takes no token: connect without one" }
      : { name: first };
  }
  const timer = setTimeout(() => closeQuietly(conn), timeoutMs);
  try {
    let received = first;
    let line = parseTokenLine(received);
    while (line.kind === "incomplete") {
      const more = await readOnce(conn, MAX_TOKEN_LINE_BYTES);
      if (more === null) return null;
      received = concat(received, more);
      line = parseTokenLine(received);
    }
    if (line.kind === "absent") return { error: MISSING_TOKEN_ERROR };
    const { hostname } = conn.remoteAddr as Deno.NetAddr;
    const verdict = gate.check(hostname, line.token);
    if (!verdict.ok) return { error: verdict.reason };
    if (line.rest.length > 0) return { name: line.rest };
    const name = await readOnce(conn, HANDSHAKE_READ_BYTES);
    return name === null ? null : { name };
  } finally {
    clearTimeout(timer);
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

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
