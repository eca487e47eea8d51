/**
 * The roster client's connection: connect within a bound, send the name.
 *
 * @module
 */
import type { HostPort } from "../lib/address.ts";

/** Options of {@linkcode connectRoster}. */
export interface ConnectRosterOptions {
  /** Aborting it cancels the connection attempt. */
  signal?: AbortSignal;
  /**
   * How long to try to connect, in milliseconds.
   *
   * @default {5000}
   */
  timeoutMs?: number;
}

/**
 * Connects to the roster server at `address` and sends `name` once, bare, as
 * the seed's client does. Resolves to the connection, from which the roster
 * lines can then be read.
 *
 * @throws {Error} when the server cannot be reached within the timeout
 */
export async function connectRoster(
  address: HostPort,
  name: string,
  options: ConnectRosterOptions = {},
): Promise<Deno.TcpConn> {
  const { signal, timeoutMs = 5000 } = options;
  const timeout = AbortSignal.timeout(timeoutMs);
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({
      hostname: address.hostname,
      port: address.port,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (error: unknown) {
    if (timeout.aborted && !signal?.aborted) {
      throw new Error(`no answer within ${timeoutMs / 1000} s`);
    }
    throw error;
  }
  conn.setKeepAlive(true);
  try {
    await conn.write(new TextEncoder().encode(name));
  } catch (error: unknown) {
    conn.close();
    throw error;
  }
  return conn;
}
