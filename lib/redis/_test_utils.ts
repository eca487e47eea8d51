/**
 * Test helpers of the Redis client's tests.
 *
 * @module
 */
import { type RedisServer, startRedis } from "../../tests/redis.ts";
import {
  connectRedis,
  newRedisClient,
  type RedisClient,
  type RedisClientOptions,
} from "./client.ts";

/**
 * Runs `test` with a connected client of a new Redis, made with `options`;
 * destroys the client and stops Redis afterwards.
 */
export async function withRedisClient(
  options: RedisClientOptions,
  test: (client: RedisClient, redis: RedisServer) => Promise<void>,
): Promise<void> {
  await using redis = await startRedis();
  const client = newRedisClient(redis.url, options);
  try {
    await connectRedis(client, 2000);
    await test(client, redis);
  } finally {
    client.destroy();
  }
}
