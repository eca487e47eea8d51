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
   * How often to ping an idle connection, in milliseconds; 0 for never (for
   * a connection that is always in a blocking read).
   *
   * @default {0}
   */
  pingMs?: number;
}

/**
 * Makes a client for the Redis at `url` (not connected yet) whose dead
 * connections are found by its own means: a ping every `pingMs` and a socket
 * that counts as dead after `deadlineMs` without a byte from Redis. It then
 * reconnects at once and keeps retrying, and every command gives up after
 * `deadlineMs`. Errors surface as rejected commands, not as events.
 */
export function newRedisClient(url: string, options: RedisClientOptions) {
  const { deadlineMs, pingMs = 0 } = options;
  const client = createClient({
    url,
    ...(pingMs ? { pingInterval: pingMs } : {}),
    commandOptions: { timeout: deadlineMs },
    socket: {
      connectTimeout: deadlineMs,
      socketTimeout: deadlineMs,
      reconnectStrategy: (retries: number) => Math.min(50 * (retries + 1), 500),
    },
  });
  client.on("error", () => {});
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

/** One Lua script; {@linkcode RedisScript.run} runs it on a client. */
export class RedisScript {
  readonly #source: string;
  #sha: Promise<string> | undefined;

  /** Wraps the script's Lua `source`. */
  constructor(source: string) {
    this.#source = source;
  }

  /**
   * Runs the script with `keys` and `args` by hash, falling back to sending
   * it whole when Redis answers `NOSCRIPT`, and resolves to its reply.
   */
  async run(
    client: RedisClient,
    keys: string[],
    args: (string | number)[],
  ): Promise<unknown> {
    const options = { keys, arguments: args.map(String) };
    this.#sha ??= sha1(this.#source);
    try {
      return await client.evalSha(await this.#sha, options);
    } catch (error: unknown) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) {
        throw error;
      }
      return await client.eval(this.#source, options);
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
