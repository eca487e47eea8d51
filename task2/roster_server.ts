/**
 * The roster server: accepts TCP clients, reads each one's name, and on every
 * join and leave sends every joined client the new roster line.
 *
 * One broadcaster owns the set of joined clients, which changes only through
 * the membership's admit, change and evict calls; the membership (this
 * server alone, or a cluster sharing the roster through Redis) owns the
 * roster and its order. Each client has its own bounded outgoing buffer and
 * writer, so a slow reader never delays the others.
 *
 * @module
 */
import {
  type Handshake,
  HANDSHAKE_READ_BYTES,
  HandshakeDeadlines,
  parseHandshake,
} from "./handshake.ts";
import type { TokenGate } from "../lib/token.ts";
import {
  LocalMembership,
  type Membership,
  type MembershipChange,
  type MembershipListener,
} from "./membership.ts";
import { OutboundLines, SharedChunk } from "./outbound_lines.ts";
import { readTokenStage } from "./token_handshake.ts";

/** A change of the roster, reported to {@linkcode RosterServerOptions.onChange}. */
export type RosterChange = Omit<MembershipChange, "line">;

/** Options of {@linkcode serveRoster}. */
export interface RosterServerOptions {
  /** Aborting it stops the server: the listener and every connection close. */
  signal?: AbortSignal;
  /**
   * Who is in the roster: this server alone, or a cluster.
   *
   * @default {new LocalMembership()}
   */
  membership?: Membership;
  /**
   * The most clients joined to this server at once; one more is refused
   * with an error line.
   *
   * @default {10000}
   */
  maxClients?: number;
  /**
   * How long a client may take to send its name, in milliseconds.
   *
   * @default {10000}
   */
  handshakeTimeoutMs?: number;
  /**
   * The most unsent bytes kept for one client; past it, only its newest
   * roster line is kept.
   *
   * @default {65536}
   */
  maxPendingBytes?: number;
  /** Called after every join and leave, for logging. */
  onChange?: (change: RosterChange) => void;
  /**
   * Require a token line before the name; the seed's handshake when absent.
   */
  token?: TokenGate;
}

const encoder = new TextEncoder();

/**
 * Serves the roster on `listener` until `options.signal` aborts, then closes
 * the listener and every client connection (clients see EOF). Resolves once
 * every connection is closed.
 */
export async function serveRoster(
  listener: Deno.Listener,
  options: RosterServerOptions = {},
): Promise<void> {
  const server = new RosterServer(options);
  const stop = () => {
    listener.close();
    server.closeAll();
  };
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener("abort", stop, { once: true });
  const handlers = new Set<Promise<void>>();
  try {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error: unknown) {
        if (server.closing || error instanceof Deno.errors.BadResource) break;
        // Out of file descriptors or a connection reset while queued:
        // keep serving the clients already here and try again shortly.
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      const handler = server.handle(conn);
      handlers.add(handler);
      handler.finally(() => handlers.delete(handler));
    }
  } finally {
    options.signal?.removeEventListener("abort", stop);
  }
  await Promise.all(handlers);
}

/** One client's connection once it has joined. */
class Session {
  readonly name: string;
  readonly #conn: Deno.Conn;
  readonly #outbound: OutboundLines;
  /** The chunk being written, if a write is under way. */
  #writing: Uint8Array | undefined;
  /** Whether the connection closes once what is queued is written. */
  #ending = false;

  constructor(
    name: string,
    conn: Deno.Conn,
    maxPendingBytes: number,
    shared: SharedChunk,
  ) {
    this.name = name;
    this.#conn = conn;
    this.#outbound = new OutboundLines(maxPendingBytes, shared);
  }

  /** Queues `line`; the bounded queue keeps a stalled client from growing memory. */
  queue(line: Uint8Array): void {
    this.#outbound.push(line);
  }

  /** Queues `line` as the last one; the connection closes once it is written. */
  end(line: Uint8Array): void {
    this.#ending = true;
    this.queue(line);
    this.flush();
  }

  /** Starts writing what is queued, unless a write is already under way. */
  flush(): void {
    if (this.#writing) return;
    const chunk = this.#outbound.take();
    if (chunk) this.#write(chunk);
  }

  /**
   * Writes `data`, then whatever queued meanwhile, chaining promises rather
   * than awaiting in a loop: this runs for every client on every flush, so
   * the callbacks are made once per session, not once per write.
   */
  #write(data: Uint8Array): void {
    this.#writing = data;
    this.#conn.write(data).then(this.#onWritten, this.#onFailed);
  }

  /**
   * Writes the rest of a partial write, else what queued meanwhile, else
   * closes an ending connection.
   */
  readonly #onWritten = (written: number): void => {
    const data = this.#writing!;
    const next = written < data.length
      ? data.subarray(written)
      : this.#outbound.take();
    if (next) this.#write(next);
    else {
      this.#writing = undefined;
      if (this.#ending) closeQuietly(this.#conn);
    }
  };

  /** Gives up on a connection whose write failed. */
  readonly #onFailed = (): void => {
    // The peer is gone; its reader sees the error and makes it leave.
    this.#writing = undefined;
    closeQuietly(this.#conn);
  };
}

/** The joined sessions by name, those waiting to join, and every open connection. */
class RosterServer implements MembershipListener {
  readonly #membership: Membership;
  readonly #sessions = new Map<string, Session>();
  readonly #joining = new Map<string, Session>();
  readonly #connections = new Set<Deno.Conn>();
  readonly #maxClients: number;
  readonly #handshakeTimeoutMs: number;
  /** Closes a connection that has not sent its first bytes in time. */
  readonly #handshakes: HandshakeDeadlines<Deno.Conn>;
  readonly #maxPendingBytes: number;
  readonly #onChange: ((change: RosterChange) => void) | undefined;
  readonly #token: TokenGate | undefined;
  /** Shared by every connection for bytes that are read only to be dropped. */
  readonly #discard = new Uint8Array(16 * 1024);
  /** Shared by every session, so clients waiting for the same lines share one copy. */
  readonly #sharedChunk = new SharedChunk();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  closing = false;

  constructor(options: RosterServerOptions) {
    this.#membership = options.membership ?? new LocalMembership();
    this.#membership.listen(this);
    this.#maxClients = options.maxClients ?? 10_000;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    this.#handshakes = new HandshakeDeadlines<Deno.Conn>(
      this.#handshakeTimeoutMs,
      closeQuietly,
    );
    this.#maxPendingBytes = options.maxPendingBytes ?? 64 * 1024;
    this.#onChange = options.onChange;
    this.#token = options.token;
  }

  /** Closes every connection, without telling anyone about the leaves. */
  closeAll(): void {
    this.closing = true;
    for (const conn of this.#connections) closeQuietly(conn);
  }

  /** Runs one connection from handshake to close. */
  async handle(conn: Deno.Conn): Promise<void> {
    this.#connections.add(conn);
    try {
      // A TLS connection has no such settings; its socket keeps Deno's.
      if (isTcp(conn)) {
        conn.setNoDelay(true);
        conn.setKeepAlive(true);
      }
      const first = await this.#readFirst(conn);
      if (first === null) return;
      const stage = await readTokenStage(
        conn,
        first,
        this.#token,
        this.#handshakeTimeoutMs,
      );
      if (stage === null) return;
      const session = this.#admit(
        "error" in stage ? stage : parseHandshake(stage.name),
        conn,
      );
      if (typeof session === "string") {
        await this.#refuse(conn, session);
        return;
      }
      this.#joining.set(session.name, session);
      const refusal = await this.#membership.join(session.name);
      this.#joining.delete(session.name);
      if (refusal !== undefined) {
        await this.#refuse(conn, refusal);
        return;
      }
      try {
        while (await conn.read(this.#discard) !== null);
      } catch {
        // A reset or any socket error counts as leaving.
      }
      this.#leave(session);
    } catch {
      // The connection failed during the handshake: nothing to undo.
    } finally {
      this.#connections.delete(conn);
      closeQuietly(conn);
    }
  }

  /** Reads the client's first bytes, or null if it closes or stays silent. */
  async #readFirst(conn: Deno.Conn): Promise<Uint8Array | null> {
    const buffer = new Uint8Array(HANDSHAKE_READ_BYTES);
    this.#handshakes.add(conn);
    try {
      const count = await conn.read(buffer);
      return count === null ? null : buffer.subarray(0, count);
    } catch {
      return null;
    } finally {
      this.#handshakes.delete(conn);
    }
  }

  /** Makes a session for the handshake's name, or says why it cannot join. */
  #admit(handshake: Handshake, conn: Deno.Conn): Session | string {
    if ("error" in handshake) return handshake.error;
    const { name } = handshake;
    if (this.closing) return "server is shutting down";
    if (this.#sessions.has(name) || this.#joining.has(name)) {
      return `name "${name}" is already connected`;
    }
    if (this.#sessions.size + this.#joining.size >= this.#maxClients) {
      return `server is full (${this.#maxClients} clients)`;
    }
    return new Session(name, conn, this.#maxPendingBytes, this.#sharedChunk);
  }

  /**
   * Sends one `error: ` line, then closes gracefully: the write side first,
   * then, once the client closes or a second passes, the socket, so unread
   * input does not turn the close into a reset that loses the line.
   */
  async #refuse(conn: Deno.Conn, reason: string): Promise<void> {
    await writeAll(conn, encoder.encode(`error: ${reason}\n`));
    await conn.closeWrite();
    const timer = setTimeout(() => closeQuietly(conn), 1000);
    try {
      while (await conn.read(this.#discard) !== null);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The session waiting for `name` joins the broadcast. */
  admit(name: string): void {
    const session = this.#joining.get(name);
    if (!session) return;
    this.#joining.delete(name);
    this.#sessions.set(name, session);
  }

  /**
   * Queues the roster line, encoded once, for every joined client, and
   * flushes the queues once the I/O of this turn of the event loop is
   * handled, so changes that arrive together go out in one write per client.
   */
  change({ line, ...change }: MembershipChange): void {
    if (this.closing) return;
    for (const session of this.#sessions.values()) session.queue(line);
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = undefined;
      for (const session of this.#sessions.values()) session.flush();
    }, 0);
    this.#onChange?.(change);
  }

  /** Sends `name`'s client one error line and closes it. */
  evict(name: string, reason: string): void {
    const session = this.#sessions.get(name);
    if (!session) return;
    this.#sessions.delete(name);
    session.end(encoder.encode(`error: ${reason}\n`));
  }

  #leave(session: Session): void {
    if (this.#sessions.get(session.name) !== session) return;
    this.#sessions.delete(session.name);
    if (!this.closing) this.#membership.leave(session.name);
  }
}

/** Writes all of `data`, looping over partial writes. */
async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let offset = 0; offset < data.length;) {
    offset += await conn.write(data.subarray(offset));
  }
}

/** Whether `conn` is a plain TCP connection rather than a TLS one. */
function isTcp(conn: Deno.Conn): conn is Deno.TcpConn {
  return "setNoDelay" in conn;
}

/** Closes `conn`, ignoring that it may be closed already. */
function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
