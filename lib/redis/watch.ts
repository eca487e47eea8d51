/**
 * The watchdog of a watched Redis client: its own ping, whose missing answer
 * closes and reopens the connection, so that commands waiting on a
 * connection to a paused Redis fail in time.
 *
 * @module
 */

/** What {@linkcode watchAnswers} uses of a `@redis/client` client. */
export interface WatchedClient {
  /** Whether the client is connected or reconnecting (not closed). */
  readonly isOpen: boolean;
  /** Whether the connection is ready for commands. */
  readonly isReady: boolean;
  /** Sends a `PING`. */
  ping(): Promise<unknown>;
  /** Closes the connection at once, failing every command waiting on it. */
  destroy(): void;
  /** Opens the connection again. */
  connect(): Promise<unknown>;
  /** Reports `error` to the client's `error` listeners. */
  emit(event: "error", error: Error): boolean;
  /** Listens for the client's `ready` and `end` events. */
  on(event: "ready" | "end", listener: () => void): unknown;
}

/**
 * Pings `client` every `pingMs` while it is ready; a ping not answered within
 * `deadlineMs` on a connection still ready reports an error and closes and
 * reopens the connection, which fails every command waiting on it. While
 * the client reconnects by itself, it is left to do so (reopening then
 * would start a second reconnection beside it). Stops when the client is
 * closed.
 */
export function watchAnswers(
  client: WatchedClient,
  deadlineMs: number,
  pingMs: number,
): void {
  let next: ReturnType<typeof setTimeout> | undefined;
  let probing = false;
  const schedule = () => {
    clearTimeout(next);
    next = client.isOpen ? setTimeout(probe, pingMs) : undefined;
  };
  const reopen = () => {
    if (!client.isReady) return;
    client.emit("error", new Error(`no answer within ${deadlineMs} ms`));
    client.destroy();
    client.connect().catch(() => {});
  };
  const probe = async () => {
    if (!client.isReady) return schedule();
    probing = true;
    const stuck = setTimeout(reopen, deadlineMs);
    try {
      await client.ping();
    } catch {
      // A failed ping fails the commands beside it too; they say why.
    } finally {
      clearTimeout(stuck);
      probing = false;
      schedule();
    }
  };
  client.on("ready", () => {
    if (!probing) schedule();
  });
  client.on("end", () => {
    if (!client.isOpen) clearTimeout(next);
  });
}
