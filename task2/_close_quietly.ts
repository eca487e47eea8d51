/**
 * Closing a connection that may be closed already, for the roster's server
 * and client.
 *
 * @module
 */

/** Closes `conn`, ignoring that it may be closed already. */
export function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
