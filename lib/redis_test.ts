import assert from "node:assert/strict";
import { deadPort, within } from "../tests/harness.ts";
import { REDIS_MISSING, type RedisServer, startRedis } from "../tests/redis.ts";
import {
  connectRedis,
  newRedisClient,
  type RedisClient,
  type RedisClientOptions,
  RedisScript,
} from "./redis.ts";

/**
 * Runs `test` with a connected client of a new Redis, made with `options`;
 * destroys the client and stops Redis afterwards.
 */
async function withRedisClient(
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

Deno.test({
  name: "Redis script runs by hash, and whole again after Redis forgot it",
  ignore: REDIS_MISSING,
  fn: () =>
    withRedisClient({ deadlineMs: 2000 }, async (client) => {
      const script = new RedisScript(
        "return redis.call('INCRBY', KEYS[1], ARGV[1])",
      );
      assert.equal(await script.run(client, ["n"], [2]), 2);
      assert.equal(await script.run(client, ["n"], [3]), 5);
      await client.scriptFlush();
      assert.equal(await script.run(client, ["n"], [4]), 9);
      const stats = await client.info("commandstats");
      assert.match(stats, /cmdstat_evalsha:calls=3,/);
      assert.match(stats, /cmdstat_eval:calls=2,/);
    }),
});

Deno.test({
  name:
    "Redis client gives up on a paused Redis within its deadline and works again once it resumes",
  ignore: REDIS_MISSING,
  fn: () =>
    withRedisClient({ deadlineMs: 500, pingMs: 100 }, async (client, redis) => {
      redis.signal("SIGSTOP");
      await assert.rejects(client.ping());
      redis.signal("SIGCONT");
      let reply: string | undefined;
      for (let attempt = 0; attempt < 20 && reply === undefined; attempt++) {
        reply = await client.ping().catch(() => undefined);
      }
      assert.equal(reply, "PONG");
    }),
});

Deno.test({
  name:
    "watched Redis client fails the commands on a busy connection to a paused Redis by its ping, then reconnects",
  ignore: REDIS_MISSING,
  fn: () =>
    withRedisClient(
      { deadlineMs: 500, pingMs: 100, watched: true },
      async (client, redis) => {
        assert.equal(await client.lLen("list"), 0);
        const errors: string[] = [];
        client.on("error", (error: Error) => errors.push(error.message));
        redis.signal("SIGSTOP");
        // Commands sent all the while keep the socket from ever counting as
        // silent, so only the unanswered ping can fail the first one.
        const writer = setInterval(
          () => client.lLen("list").catch(() => {}),
          20,
        );
        try {
          await within(
            assert.rejects(client.lLen("list")),
            "a command to a paused Redis to fail",
            5000,
          );
        } finally {
          clearInterval(writer);
          redis.signal("SIGCONT");
        }
        assert.ok(errors.includes("no answer within 500 ms"));
        let reply: number | undefined;
        for (let attempt = 0; attempt < 20 && reply === undefined; attempt++) {
          reply = await client.lLen("list").catch(() => undefined);
        }
        assert.equal(reply, 0);
      },
    ),
});

Deno.test({
  name: "Redis client reconnects after Redis restarts",
  ignore: REDIS_MISSING,
  fn: () =>
    withRedisClient({ deadlineMs: 1000 }, async (client, redis) => {
      await redis.restart();
      let reply: string | undefined;
      for (let attempt = 0; attempt < 20 && reply === undefined; attempt++) {
        reply = await client.ping().catch(() => undefined);
      }
      assert.equal(reply, "PONG");
    }),
});

Deno.test("connecting to a Redis that is not there fails with the reason", async () => {
  const client = newRedisClient(`redis://127.0.0.1:${deadPort()}`, {
    deadlineMs: 1000,
  });
  try {
    await assert.rejects(connectRedis(client, 1000), /ECONNREFUSED/);
  } finally {
    client.destroy();
  }
});
