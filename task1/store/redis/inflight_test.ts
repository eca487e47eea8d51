import assert from "node:assert/strict";
import {
  connectRedis,
  newRedisClient,
  RedisScript,
} from "../../../lib/redis/mod.ts";
import { REDIS_MISSING, startRedis } from "../../../tests/redis.ts";
import { InFlight } from "./inflight.ts";
import { QueueKeys } from "./keys.ts";
import { Reachability } from "./recovery.ts";
import TAKE from "./take.lua" with { type: "text" };

/** Runs `test` with the in-flight items of server "s1" on a new Redis. */
async function withInFlight(
  test: (
    inFlight: InFlight,
    client: ReturnType<typeof newRedisClient>,
    keys: QueueKeys,
  ) => Promise<void>,
): Promise<void> {
  await using redis = await startRedis();
  const client = newRedisClient(redis.url, { deadlineMs: 2000 });
  try {
    await connectRedis(client, 2000);
    const keys = new QueueKeys("queue", "s1");
    const reachability = new Reachability(client, {
      url: redis.url,
      closing: new AbortController().signal,
      recover: () => Promise.resolve(),
      lost: () => {},
    });
    const inFlight = new InFlight(client, keys, { id: "s1", reachability });
    await client.hSet(keys.meta, { capacity: 10, maxBytes: 100 });
    await client.hSet(keys.meta, { count: 3, bytes: 3 });
    await client.rPush(keys.items, ["a", "b", "c"]);
    await inFlight.recover();
    await test(inFlight, client, keys);
  } finally {
    client.destroy();
  }
}

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: REDIS_MISSING, fn });

test("Redis pop delivers the head and counts it out; a pop whose caller left once the item was taken puts it back at the head", () =>
  withInFlight(async (inFlight, client, keys) => {
    assert.equal(await inFlight.pop(keys.items, () => false), "a");
    assert.equal(await client.hGet(keys.meta, "count"), "2");
    await assert.rejects(inFlight.pop(keys.items, () => true), {
      name: "AbortError",
    });
    assert.deepEqual(await client.lRange(keys.items, 0, -1), ["b", "c"]);
    assert.equal(await client.exists(keys.taken), 0);
    assert.equal(await client.hGet(keys.meta, "count"), "2");
  }));

test("Redis take sent before the server's last recovery takes nothing when it runs after it", () =>
  withInFlight(async (_inFlight, client, keys) => {
    const take = new RedisScript(TAKE);
    await assert.rejects(
      take.run(client, [keys.items, keys.taken, keys.epoch], ["old", "1"]),
      /STALE/,
    );
    assert.deepEqual(await client.lRange(keys.items, 0, -1), ["a", "b", "c"]);
  }));

test("Redis recovery returns every item the server took, and those its blocking pops moved, to the head in the order taken", () =>
  withInFlight(async (inFlight, client, keys) => {
    // Takes whose answers were lost: numbered 2 and 10, and one moved.
    await client.lPop(keys.items);
    await client.lPop(keys.items);
    await client.hSet(keys.taken, { "10": "b", "2": "a" });
    await client.rPush(keys.inflight, "moved");
    await inFlight.recover();
    assert.deepEqual(await client.lRange(keys.items, 0, -1), [
      "moved",
      "a",
      "b",
      "c",
    ]);
    assert.equal(await client.exists(keys.taken), 0);
    assert.equal(await inFlight.pop(keys.items, () => false), "moved");
  }));
