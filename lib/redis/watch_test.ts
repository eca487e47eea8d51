import assert from "node:assert/strict";
import { within } from "../../tests/harness.ts";
import { REDIS_MISSING } from "../../tests/redis.ts";
import { withRedisClient } from "./_test_utils.ts";

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
