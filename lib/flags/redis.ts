/**
 * The Redis flags of the two servers: `--redis URL` and `--redis-ca FILE`,
 * checked and read, with their mistakes as usage errors.
 *
 * @module
 */
import { parseArgument, UsageError } from "../cli.ts";
import { parseRedisUrl } from "../redis/url.ts";
import { readCaCertificates } from "../tls.ts";

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
