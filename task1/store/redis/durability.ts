/**
 * The Redis store's durability check: whether Redis's settings make each
 * acknowledged write durable before the answer leaves.
 *
 * @module
 */
import type { RedisClient } from "../../../lib/redis/mod.ts";

/**
 * One line if Redis's settings do not make each acknowledged write
 * durable before the answer (`appendonly yes` with `appendfsync always`),
 * or if they cannot be read (managed Redis often refuses `CONFIG`), else
 * undefined.
 */
export async function checkDurability(
  client: RedisClient,
): Promise<string | undefined> {
  let config: Record<string, string>;
  try {
    config = await client.configGet(["appendonly", "appendfsync"]);
  } catch (error: unknown) {
    const reason = error instanceof Error ? error.message : String(error);
    return `queue-server: cannot read Redis's persistence settings ` +
      `(${reason}); acknowledged items survive a Redis crash only with ` +
      `appendonly yes and appendfsync always`;
  }
  if (config.appendonly === "yes" && config.appendfsync === "always") {
    return undefined;
  }
  return `queue-server: Redis has appendonly ${config.appendonly} and ` +
    `appendfsync ${config.appendfsync}: a Redis crash may lose ` +
    `acknowledged items (set appendonly yes and appendfsync always)`;
}
