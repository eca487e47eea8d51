import assert from "node:assert/strict";
import { deadPort } from "../../tests/harness.ts";
import { REDIS_MISSING } from "../../tests/redis.ts";
import { connectRedis, newRedisClient } from "./client.ts";
import { withRedisClient } from "./_test_utils.ts";

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
