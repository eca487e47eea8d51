import assert from "node:assert/strict";
import { REDIS_MISSING } from "../../tests/redis.ts";
import { RedisScript } from "./script.ts";
import { withRedisClient } from "./_test_utils.ts";

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
