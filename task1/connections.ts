/**
 * The queue server's accept loop: it keeps accepting after a failed accept
 * (out of file descriptors, a connection reset while queued), refuses
 * connections past a limit by closing them at once, and closes a connection
 * that has not proved itself (see {@linkcode Connection.established}) within
 * the handshake timeout. It knows nothing of gRPC.
 *
 * @module
 */
import { Deadlines } from "../lib/deadlines.ts";

/** Options of {@linkcode acceptConnections}. */
export interface AcceptOptions {
  /**
   * The most connections open at once; one more is closed as it is accepted.
   *
   * @default {10000}
   */
  maxConnections?: number;
  /**
   * How long a connection may take to call {@linkcode Connection.established}
   * before it is closed, in milliseconds, counted from its accept (so a TLS
   * handshake counts).
   *
   * @default {10000}
   */
  handshakeTimeoutMs?: number;
}

/** One accepted connection, as given to the handler. */
export interface Connection {
  /** The socket. */
  readonly conn: Deno.TcpConn;
  /** Ends the handshake timeout: the client has shown it speaks the protocol. */
  established(): void;
  /** Closes the socket and frees its place; closing twice does nothing. */
  close(): void;
}

/** The running accept loop of {@linkcode acceptConnections}. */
export interface Acceptor {
  /** How many connections are open. */
  readonly size: number;
  /**
   * Closes the listener, so that no connection is accepted from now on, and
   * the connections still in their handshake.
   */
  stop(): void;
  /** Resolves once no connection is open (at once if none is). */
  drained(): Promise<void>;
  /** Closes every open connection. */
  closeAll(): void;
}

/** How long to wait before accepting again after a failed accept. */
const RETRY_DELAY_MS = 50;

/**
 * Accepts connections from `listener` until {@linkcode Acceptor.stop} and
 * hands each one within the limits to `handle`, which owns it from then on
 * and must call its `close` when done with it.
 */
export function acceptConnections(
  listener: Deno.TcpListener,
  handle: (connection: Connection) => void,
  options: AcceptOptions = {},
): Acceptor {
  const { maxConnections = 10_000, handshakeTimeoutMs = 10_000 } = options;
  const open = new Set<Connection>();
  /** The open connections still in their handshake. */
  const pending = new Set<Connection>();
  // One timer for every handshake in progress, not one per connection.
  const handshakes = new Deadlines();
  let stopped = false;
  let waiters: (() => void)[] = [];

  function track(conn: Deno.TcpConn): Connection {
    let closed = false;
    const connection: Connection = {
      conn,
      established() {
        handshakes.remove(deadline);
        pending.delete(connection);
      },
      close() {
        if (closed) return;
        closed = true;
        connection.established();
        open.delete(connection);
        closeQuietly(conn);
        if (open.size === 0) {
          for (const wake of waiters) wake();
          waiters = [];
        }
      },
    };
    const deadline = handshakes.add(handshakeTimeoutMs, connection.close);
    open.add(connection);
    pending.add(connection);
    return connection;
  }

  async function loop(): Promise<void> {
    while (!stopped) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error: unknown) {
        if (stopped || error instanceof Deno.errors.BadResource) break;
        // Out of file descriptors (EMFILE, ENFILE) or a connection reset
        // while queued: keep serving the connections already here and try
        // again shortly; closed connections free descriptors meanwhile.
        await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
        continue;
      }
      if (open.size >= maxConnections) {
        closeQuietly(conn);
        continue;
      }
      handle(track(conn));
    }
  }

  loop();
  return {
    get size() {
      return open.size;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      closeQuietly(listener);
      for (const connection of pending) connection.close();
    },
    drained() {
      if (open.size === 0) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push(resolve));
    },
    closeAll() {
      for (const connection of open) connection.close();
      handshakes.clear();
    },
  };
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // Already closed.
  }
}
