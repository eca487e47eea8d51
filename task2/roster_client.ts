/**
 * The roster client's connection: connect within a bound, with TLS if asked,
 * send the token line if any, then the name.
 *
 * @module
 */
import type { HostPort } from "../lib/address.ts";
import { type ClientTls, explainTlsFailure } from "../lib/tls.ts";
import { closeQuietly } from "./_close_quietly.ts";
import { encodeGreeting } from "./protocol.ts";

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
  /** Connect with TLS, verifying the server this way; plain when absent. */
  tls?: ClientTls;
  /** Send this token before the name; nothing when absent. */
  token?: string;
}

/**
 * Connects to the roster server at `address` and sends `name` once, bare, as
 * the seed's client does; with a token, sends `TOKEN <token>\n` first and the
 * name with a newline. Resolves to the connection, from which the roster
 * lines can then be read.
 *
 * @throws {Error} when the server cannot be reached within the timeout, or
 * the TLS handshake fails
 */
export async function connectRoster(
  address: HostPort,
  name: string,
  options: ConnectRosterOptions = {},
): Promise<Deno.Conn> {
  const { signal, timeoutMs = 5000, tls, token } = options;
  const timeout = AbortSignal.timeout(timeoutMs);
  const noAnswer = () => new Error(`no answer within ${timeoutMs / 1000} s`);
  let tcp: Deno.TcpConn;
  try {
    tcp = await Deno.connect({
      hostname: address.hostname,
      port: address.port,
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
  } catch (error: unknown) {
    if (timeout.aborted && !signal?.aborted) throw noAnswer();
    throw error;
  }
  tcp.setKeepAlive(true);
  let conn: Deno.Conn = tcp;
  // Closing the connection is what cancels a handshake or write in flight.
  const cancel = () => closeQuietly(conn);
  const stop = signal ? AbortSignal.any([signal, timeout]) : timeout;
  stop.addEventListener("abort", cancel, { once: true });
  try {
    if (tls !== undefined) {
      const tlsConn = await Deno.startTls(tcp, {
        hostname: tls.serverName ?? address.hostname,
        caCerts: tls.caCerts,
      });
      conn = tlsConn;
      await tlsConn.handshake();
    }
    await conn.write(encodeGreeting(name, token));
  } catch (error: unknown) {
    closeQuietly(conn);
    if (timeout.aborted && !signal?.aborted) throw noAnswer();
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(explainTlsFailure(message) ?? message);
  } finally {
    stop.removeEventListener("abort", cancel);
  }
  return conn;
}
