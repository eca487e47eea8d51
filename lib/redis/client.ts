/**
 * A Redis client for the programs that finds dead connections by its own
 * ping and deadline rather than by TCP keep-alive, and connecting it within
 * a bound.
 *
 * @module
 */
import { createClient } from "@redis/client";
import { watchAnswers } from "./watch.ts";

/** A `@redis/client` client made by {@linkcode newRedisClient}. */
export type RedisClient = ReturnType<typeof newRedisClient>;

/** Options of {@linkcode newRedisClient}. */
export interface RedisClientOptions {
  /**
   * How long a command, a connection attempt or a silent socket may last
   * before it counts as failed, in milliseconds.
   */
  deadlineMs: number;
  /**
   * How often to ping the connection, in milliseconds; 0 for never (for a
   * connection that is always in a blocking read).
   *
   * @default {0}
   */
  pingMs?: number;
  /**
   * Whether the pings bound every command: a ping not answered within
   * `deadlineMs` closes the connection, which fails every command waiting
   * on it, and opens it again, so a command sent on a ready connection is
   * answered or fails within `pingMs` + `deadlineMs`, however busy the
   * connection. Commands then get no deadline each, and one sent while the
   * client reconnects waits for it: for a user that sends nothing while
   * Redis is unreachable. Not for a client that subscribes: closing drops
   * its subscriptions.
   *
   * @default {false}
   */
  watched?: boolean;
  /**
   * The certificates (PEM) that Redis's certificate must chain to, for a
   * `rediss://` URL; without them, the system's.
   */
  ca?: string | undefined;
}

/**
 * Makes a client for the Redis at `url` (not connected yet) whose dead
 * connections are found by its own means: a ping every `pingMs`, a socket
 * that counts as dead after `deadlineMs` without a byte from Redis, and
 * either a deadline per command or, `watched`, one on every ping. It then
 * reconnects at once and keeps retrying. Errors surface as rejected
 * commands, not as events.
 *
 * `@redis/client`'s own deadline per command stops counting once the
 * command is written, and a socket that keeps being written to never counts
 * as silent; so on a busy connection to a paused Redis only a watched
 * client's commands fail in time. A deadline per command also costs a timer
 * that outlives the command, which at thousands of commands per second
 * makes most of a server's garbage: the queue store's hot connection is
 * watched.
 */
export function newRedisClient(url: string, options: RedisClientOptions) {
  const { deadlineMs, pingMs = 0, watched = false, ca } = options;
  const client = createClient({
    url,
    ...(pingMs && !watched ? { pingInterval: pingMs } : {}),
    commandOptions: { timeout: watched ? 0 : deadlineMs },
    socket: {
      ...(ca === undefined ? {} : { ca }),
      connectTimeout: deadlineMs,
      socketTimeout: deadlineMs,
      reconnectStrategy: (retries: number) => Math.min(50 * (retries + 1), 500),
    },
  });
  client.on("error", () => {});
  if (watched) watchAnswers(client, deadlineMs, pingMs || deadlineMs);
  return client;
}

/**
 * Connects `client`, or rejects with the last connection error once `ms`
 * have passed (the client itself would retry for ever).
 */
export async function connectRedis(
  client: RedisClient,
  ms: number,
): Promise<void> {
  let lastError = "no answer";
  const onError = (error: Error) => lastError = error.message;
  client.on("error", onError);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(lastError)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    client.off("error", onError);
  }
}
