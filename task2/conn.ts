/**
 * What the roster server uses of a connection and of a listener: Deno's own
 * TCP ones fit, and so do the TLS ones of `tls_listener.ts`; and writing all
 * of a buffer to one.
 *
 * @module
 */

/** A connection as the roster server uses it; a `Deno.Conn` is one. */
export interface RosterConn {
  /** The client's address. */
  readonly remoteAddr: Deno.Addr;
  /** Reads into `buffer`; resolves to the count read, or null at the end. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of `data`; resolves to the count written. */
  write(data: Uint8Array): Promise<number>;
  /** Ends the sending side, keeping the receiving side open. */
  closeWrite(): Promise<void>;
  /** Closes the connection at once, its socket included. */
  close(): void;
}

/** A listener as the roster server uses it; a `Deno.Listener` is one. */
export interface RosterListener {
  /** Where it listens. */
  readonly addr: Deno.Addr;
  /** The next connection, as soon as it is accepted over TCP. */
  accept(): Promise<RosterConn>;
  /** Stops listening; a pending `accept` rejects with `BadResource`. */
  close(): void;
}

/** Writes all of `data` to `conn`, looping over partial writes. */
export async function writeAll(
  conn: RosterConn,
  data: Uint8Array,
): Promise<void> {
  for (let offset = 0; offset < data.length;) {
    offset += await conn.write(data.subarray(offset));
  }
}
