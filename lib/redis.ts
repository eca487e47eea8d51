/**
 * Redis for the programs: a client that finds dead connections by its own
 * ping and deadline rather than by TCP keep-alive, and server-side scripts
 * run by their SHA-1 (`EVALSHA`), sent whole (`EVAL`, which also caches
 * them) only when Redis does not know them yet, after a start or a restart.
 * Each script lives in its own `.lua` file, imported as text so the programs
 * carry it in their module graph.
 *
 * @module
 */
import { createClient } from "@redis/client";
import { parseArgument, UsageError } from "./cli.ts";
import { readCaCertificates } from "./tls.ts";

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
 * Pings `client` every `pingMs` while it is ready; a ping not answered within
 * `deadlineMs` on a connection still ready reports an error and closes and
 * reopens the connection, which fails every command waiting on it. While
 * the client reconnects by itself, it is left to do so (reopening then
 * would start a second reconnection beside it). Stops when the client is
 * closed.
 */
function watchAnswers(
  client: RedisClient,
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

/** One Lua script; {@linkcode RedisScript.run} runs it on a client. */
export class RedisScript {
  readonly #source: string;
  #sha: string | undefined;

  /** Wraps the script's Lua `source`. */
  constructor(source: string) {
    this.#source = source;
  }

  /**
   * Runs the script with `keys` and `args` by hash, falling back to sending
   * it whole when Redis answers `NOSCRIPT`, and resolves to its reply as
   * Redis sent it (a number, a string, null or an array of them).
   */
  async run(
    client: RedisClient,
    keys: string[],
    args: (string | number)[],
  ): Promise<unknown> {
    // The command as Redis reads it, without the client's command parsers:
    // those cost about as much again per call as the command itself.
    const command = ["EVALSHA", "", String(keys.length)];
    for (const key of keys) command.push(key);
    for (const arg of args) command.push(String(arg));
    command[1] = this.#sha ??= await sha1(this.#source);
    try {
      return await client.sendCommand(command);
    } catch (error: unknown) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) {
        throw error;
      }
      command[0] = "EVAL";
      command[1] = this.#source;
      return await client.sendCommand(command);
    }
  }
}

/** The hexadecimal SHA-1 of `text`, as Redis names scripts. */
async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(text),
  );
  return Array.from(
    new Uint8Array(digest),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}

/**
 * Checks a Redis URL: `redis://` or `rediss://`, a host, and at most a
 * database number as its path; returns it unchanged.
 *
 * @throws {RangeError} when it is not such a URL (the message never shows a
 * password)
 */
export function parseRedisUrl(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (
    !url || !["redis:", "rediss:"].includes(url.protocol) || !url.hostname ||
    !/^(\/\d*)?$/.test(url.pathname)
  ) {
    throw new RangeError(
      `Invalid Redis URL "${url ? describeUrl(text) : text}": expected ` +
        `redis://[:PASSWORD@]HOST:PORT[/DB] or rediss://...`,
    );
  }
  return text;
}

/** Where a program's Redis is, from its command line. */
export interface RedisTarget {
  /** The checked `redis://` or `rediss://` URL. */
  url: string;
  /** The certificates of `--redis-ca`, if given. */
  ca?: string;
}

/**
 * Reads `--redis URL` and `--redis-ca FILE` from a parsed command line:
 * undefined without `--redis`.
 *
 * @throws {UsageError} for an invalid URL, or `--redis-ca` without a
 * `rediss://` URL
 * @throws {Error} when the `--redis-ca` file cannot be read or holds no
 * certificate
 */
export async function readRedisTarget(
  values: { redis?: string | undefined; "redis-ca"?: string | undefined },
): Promise<RedisTarget | undefined> {
  const { redis, "redis-ca": caFile } = values;
  if (redis === undefined) {
    if (caFile !== undefined) throw new UsageError("--redis-ca needs --redis");
    return undefined;
  }
  const url = parseArgument(redis, parseRedisUrl);
  if (caFile === undefined) return { url };
  if (!url.startsWith("rediss:")) {
    throw new UsageError("--redis-ca needs a rediss:// URL");
  }
  return { url, ca: await readCaCertificates(caFile, "--redis-ca") };
}

/** The URL without its password, for messages: `redis://host:port/db`. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${
      parsed.pathname === "/" ? "" : parsed.pathname
    }`;
  } catch {
    return "(an invalid URL)";
  }
}
