/**
 * The roster server: accepts TCP clients, reads each one's name, and on every
 * join and leave sends every joined client the new roster line.
 *
 * One broadcaster owns the set of joined clients, which changes only through
 * the membership's admit, change and evict calls; the membership (this
 * server alone, or a cluster sharing the roster through Redis) owns the
 * roster and its order, and alone decides whether a name is taken. The
 * handshake is read by `handshake_reader.ts`, and every byte on the wire is
 * spelled in `protocol.ts`. Each client has its own bounded outgoing buffer and
 * writer, so a slow reader never delays the others.
 *
 * @module
 */
import type { TokenGate } from "../lib/token.ts";
import { closeQuietly } from "./_close_quietly.ts";
import { type RosterConn, type RosterListener, writeAll } from "./conn.ts";
import { HandshakeReader } from "./handshake_reader.ts";
import {
  LocalMembership,
  type Membership,
  type MembershipChange,
  type MembershipListener,
} from "./membership.ts";
import { SharedChunk } from "./outbound_lines.ts";
import { encodeErrorLine, type Handshake, Refusal } from "./protocol.ts";
import type { RosterMetrics } from "./metrics.ts";
import { RosterConnection, type RosterMember } from "./roster_connection.ts";

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
   * How long a connection may take, from its TCP accept, to finish its
   * handshake (TLS, the token line and the name), in milliseconds; past it,
   * it is closed.
   *
   * @default {10000}
   */
  handshakeTimeoutMs?: number;
  /**
   * The most connections in their handshake at once; one more is closed as
   * soon as it is accepted, without a word.
   *
   * @default {1000}
   */
  maxPending?: number;
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
  /**
   * Other ways in (the WebSocket server): each is started with the roster's
   * {@linkcode RosterHub} and runs until `signal` aborts; `serveRoster`
   * resolves once they have ended too.
   */
  attach?: readonly ((hub: RosterHub) => Promise<void>)[];
  /** Count joins, leaves, refusals and lines in these metrics; none when absent. */
  metrics?: RosterMetrics;
}

/**
 * How another transport joins its clients to the same roster, counted by the
 * same `maxClients`: {@linkcode RosterHub.enter} with a handshake, then
 * {@linkcode RosterHub.leave} when the client goes.
 */
export interface RosterHub {
  /**
   * Joins the handshake's name with the member `open` makes for it, or says
   * why it cannot join (an `error:` reason).
   */
  enter(
    handshake: Handshake,
    open: (name: string) => RosterMember,
  ): Promise<RosterMember | string>;
  /** `member`, which joined through {@linkcode RosterHub.enter}, left. */
  leave(member: RosterMember): void;
}

/**
 * Serves the roster on `listener` until `options.signal` aborts, then closes
 * the listener and every client connection (clients see EOF). Resolves once
 * every connection is closed.
 */
export async function serveRoster(
  listener: RosterListener,
  options: RosterServerOptions = {},
): Promise<void> {
  const server = new RosterServer(options);
  const stop = () => {
    options.metrics?.shuttingDown();
    listener.close();
    server.closeAll();
  };
  if (options.signal?.aborted) stop();
  options.signal?.addEventListener("abort", stop, { once: true });
  const handlers = new Set<Promise<void>>(
    (options.attach ?? []).map((serve) => serve(server)),
  );
  try {
    while (true) {
      let conn: RosterConn;
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

/**
 * The joined clients by name, those waiting to join, the number still in
 * their handshake, and every open connection. Which names may join is the
 * membership's decision alone.
 */
class RosterServer implements MembershipListener, RosterHub {
  readonly #membership: Membership;
  readonly #joined = new Map<string, RosterMember>();
  readonly #joining = new Map<string, RosterMember>();
  readonly #connections = new Set<RosterConn>();
  readonly #maxClients: number;
  readonly #handshakes: HandshakeReader;
  readonly #maxPending: number;
  /** Connections in their handshake: accepted, name not read yet. */
  #pending = 0;
  readonly #maxPendingBytes: number;
  readonly #onChange: ((change: RosterChange) => void) | undefined;
  readonly #metrics: RosterMetrics | undefined;
  readonly #handshakeTimeoutMs: number;
  /** When each join or leave not yet flushed happened (`performance.now()`). */
  #changeStarts: number[] = [];
  /** Shared by every connection for bytes that are read only to be dropped. */
  readonly #discard = new Uint8Array(16 * 1024);
  /** Shared by every client, so clients waiting for the same lines share one copy. */
  readonly #sharedChunk = new SharedChunk();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  closing = false;

  constructor(options: RosterServerOptions) {
    this.#membership = options.membership ?? new LocalMembership();
    this.#membership.listen(this);
    this.#maxClients = options.maxClients ?? 10_000;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    this.#handshakes = new HandshakeReader(
      this.#handshakeTimeoutMs,
      options.token,
    );
    this.#maxPending = options.maxPending ?? 1000;
    this.#metrics = options.metrics;
    this.#maxPendingBytes = options.maxPendingBytes ?? 64 * 1024;
    this.#onChange = options.onChange;
  }

  /** Closes every connection, without telling anyone about the leaves. */
  closeAll(): void {
    this.closing = true;
    for (const conn of this.#connections) closeQuietly(conn);
  }

  /**
   * Runs one connection from handshake to close; call it as soon as the
   * connection is accepted, as its handshake deadline starts then. Past
   * `maxPending` connections in their handshake, closes it at once.
   */
  async handle(conn: RosterConn): Promise<void> {
    if (this.#pending >= this.#maxPending) {
      closeQuietly(conn);
      return;
    }
    this.#connections.add(conn);
    try {
      // A TLS connection set these on its socket when it was accepted.
      if (isTcp(conn)) {
        conn.setNoDelay(true);
        conn.setKeepAlive(true);
      }
      this.#pending++;
      const start = performance.now();
      const handshake = await this.#handshakes.read(conn)
        .finally(() => this.#pending--);
      if (handshake === null) {
        // Closed by the deadline, or by the client before it.
        if (performance.now() - start >= this.#handshakeTimeoutMs) {
          this.#metrics?.timedOut();
        }
        return;
      }
      const client = await this.enter(
        handshake,
        (name) =>
          new RosterConnection(
            name,
            conn,
            this.#maxPendingBytes,
            this.#sharedChunk,
          ),
      );
      if (typeof client === "string") {
        await this.#refuse(conn, client);
        return;
      }
      try {
        while (await conn.read(this.#discard) !== null);
      } catch {
        // A reset or any socket error counts as leaving.
      }
      this.leave(client);
    } catch {
      // The connection failed during the handshake: nothing to undo.
    } finally {
      this.#connections.delete(conn);
      closeQuietly(conn);
    }
  }

  /**
   * Joins the handshake's name with the member `open` makes, or says why it
   * cannot: the membership says whether the name is free as far as this
   * server knows, before the server says whether it has room; then the
   * membership decides.
   */
  async enter(
    handshake: Handshake,
    open: (name: string) => RosterMember,
  ): Promise<RosterMember | string> {
    if ("error" in handshake) return handshake.error;
    const { name } = handshake;
    if (this.closing) return Refusal.shuttingDown;
    const taken = this.#membership.check(name);
    if (taken !== undefined) return taken;
    if (this.#joined.size + this.#joining.size >= this.#maxClients) {
      return Refusal.serverFull(this.#maxClients);
    }
    const client = open(name);
    this.#joining.set(name, client);
    const refusal = await this.#membership.join(name);
    if (this.#joining.get(name) === client) this.#joining.delete(name);
    return refusal ?? client;
  }

  /**
   * Sends one `error: ` line, then closes gracefully: the write side first,
   * then, once the client closes or a second passes, the socket, so unread
   * input does not turn the close into a reset that loses the line.
   */
  async #refuse(conn: RosterConn, reason: string): Promise<void> {
    this.#metrics?.refused(reason);
    await writeAll(conn, encodeErrorLine(reason));
    await conn.closeWrite();
    const timer = setTimeout(() => closeQuietly(conn), 1000);
    try {
      while (await conn.read(this.#discard) !== null);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The connection waiting for `name` joins the broadcast. */
  admit(name: string): void {
    const client = this.#joining.get(name);
    if (!client) return;
    this.#joining.delete(name);
    this.#joined.set(name, client);
    this.#metrics?.joined();
  }

  /**
   * Queues the roster line, encoded once, for every joined client, and
   * flushes the queues once the I/O of this turn of the event loop is
   * handled, so changes that arrive together go out in one write per client.
   */
  change({ line, ...change }: MembershipChange): void {
    if (this.closing) return;
    let dropped = 0;
    for (const client of this.#joined.values()) dropped += client.queue(line);
    const metrics = this.#metrics;
    if (metrics) {
      metrics.changed(change, this.#joined.size, line.length, dropped);
      if (change.kind !== "sync") this.#changeStarts.push(performance.now());
    }
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = undefined;
      for (const client of this.#joined.values()) client.flush();
      if (metrics) {
        metrics.delivered(this.#changeStarts);
        this.#changeStarts = [];
      }
    }, 0);
    this.#onChange?.(change);
  }

  /** Sends `name`'s client one error line and closes it. */
  evict(name: string, reason: string): void {
    const client = this.#joined.get(name);
    if (!client) return;
    this.#joined.delete(name);
    this.#metrics?.left();
    client.end(encodeErrorLine(reason));
  }

  /** `client` left: the membership removes its name if it still holds it. */
  leave(client: RosterMember): void {
    if (this.#joined.get(client.name) !== client) return;
    this.#joined.delete(client.name);
    this.#metrics?.left();
    if (!this.closing) this.#membership.leave(client.name);
  }
}

/** Whether `conn` is a plain TCP connection rather than a TLS one. */
function isTcp(conn: RosterConn): conn is Deno.TcpConn {
  return "setNoDelay" in conn;
}
