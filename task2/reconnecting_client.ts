/**
 * `roster-client --reconnect`: stay in the roster across servers. When the
 * connection drops or the server closes it, connect to the next address of
 * the list (round robin; after a failed connection wait 0.1 s, doubling to at
 * most 2 s), join again with the same name, and go on. While the name is
 * still held (a dead server's lease has not run out), try again every half
 * second. The first connection keeps the plain client's rules: a refusal, or
 * no address answering, ends it.
 *
 * @module
 */
import { formatHostPort, type HostPort } from "../lib/address.ts";
import { readLines } from "../lib/lines.ts";
import { closeQuietly } from "./_close_quietly.ts";
import { ERROR_LINE_PREFIX, Refusal } from "./protocol.ts";
import { connectRoster, type ConnectRosterOptions } from "./roster_client.ts";

/** Options of {@linkcode followRoster}. */
export interface FollowRosterOptions {
  /** Aborting it ends the client at once. */
  signal: AbortSignal;
  /** How to connect (TLS, token), for every address. */
  connect?: Omit<ConnectRosterOptions, "signal">;
  /** Called with every roster line. */
  onRoster(line: string): void;
  /** Called with one line each time the client has joined again. */
  onRejoin(message: string): void;
  /**
   * The first wait after a failed connection, doubled after each, in ms.
   *
   * @default {100}
   */
  firstBackoffMs?: number;
  /**
   * The longest wait after a failed connection, in ms.
   *
   * @default {2000}
   */
  maxBackoffMs?: number;
  /**
   * The wait before asking again for a name still held, in ms.
   *
   * @default {500}
   */
  nameRetryMs?: number;
}

/** How {@linkcode followRoster} ended. */
export type FollowOutcome =
  /** The signal aborted. */
  | { kind: "stopped" }
  /** The first connection was refused with this `error:` line. */
  | { kind: "refused"; line: string }
  /** No address answered the first connection; the last one's failure. */
  | { kind: "unreachable"; where: string; reason: string };

/** How one connection ended. */
type Session =
  | { kind: "refused"; line: string }
  | { kind: "lost"; reason: string };

/**
 * Joins the roster as `name` through `addresses` and keeps it joined as the
 * module says, until the signal aborts or the first connection fails.
 */
export async function followRoster(
  addresses: readonly HostPort[],
  name: string,
  options: FollowRosterOptions,
): Promise<FollowOutcome> {
  const { signal, firstBackoffMs = 100, maxBackoffMs = 2000 } = options;
  const { nameRetryMs = 500 } = options;
  const held = [Refusal.nameTaken(name), Refusal.takenMeanwhile(name)]
    .map((reason) => ERROR_LINE_PREFIX + reason);
  let index = 0;
  let backoff = firstBackoffMs;
  let lost: string | undefined;
  while (!signal.aborted) {
    const address = addresses[index % addresses.length]!;
    const where = formatHostPort(address.hostname, address.port);
    let conn: Deno.Conn;
    try {
      conn = await connectRoster(address, name, {
        ...options.connect,
        signal,
      });
    } catch (error: unknown) {
      if (signal.aborted) break;
      index++;
      if (lost === undefined && index >= addresses.length) {
        return { kind: "unreachable", where, reason: describe(error) };
      }
      if (lost !== undefined) {
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, maxBackoffMs);
      }
      continue;
    }
    const onJoin = () => {
      backoff = firstBackoffMs;
      if (lost !== undefined) {
        options.onRejoin(`rejoined as ${name} on "${where}" (${lost})`);
      }
    };
    const session = await follow(conn, signal, onJoin, options.onRoster);
    if (signal.aborted) break;
    if (session.kind === "refused") {
      if (lost === undefined) return session;
      if (held.includes(session.line)) {
        await sleep(nameRetryMs, signal);
        continue;
      }
      index++;
      await sleep(backoff, signal);
      backoff = Math.min(backoff * 2, maxBackoffMs);
      continue;
    }
    lost = `lost "${where}": ${session.reason}`;
    index++;
  }
  return { kind: "stopped" };
}

/**
 * Reads one connection's lines: a first `error:` line is a refusal; the
 * first roster line calls `onJoin`; the connection ends with the reason.
 */
async function follow(
  conn: Deno.Conn,
  signal: AbortSignal,
  onJoin: () => void,
  onRoster: (line: string) => void,
): Promise<Session> {
  const close = () => closeQuietly(conn);
  signal.addEventListener("abort", close, { once: true });
  let joined = false;
  try {
    for await (const line of readLines(conn.readable)) {
      if (line.startsWith(ERROR_LINE_PREFIX)) {
        return joined ? { kind: "lost", reason: line } : {
          kind: "refused",
          line,
        };
      }
      if (!joined) {
        joined = true;
        onJoin();
      }
      onRoster(line);
    }
    return { kind: "lost", reason: "the server closed the connection" };
  } catch (error: unknown) {
    return { kind: "lost", reason: describe(error) };
  } finally {
    signal.removeEventListener("abort", close);
    close();
  }
}

/** Waits `ms`, or less if `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
