import assert from "node:assert/strict";
import { connectRedis, newRedisClient } from "../../../lib/redis/mod.ts";
import { eventually, within } from "../../../tests/harness.ts";
import {
  REDIS_MISSING,
  type RedisServer,
  startRedis,
} from "../../../tests/redis.ts";
import { StoreClosedError, StoreUnavailableError } from "../mod.ts";
import { openRedisStore, type RedisStoreOptions } from "./mod.ts";

/** Opens a store on `redis`, closed on dispose. */
async function open(
  redis: RedisServer,
  capacity: number,
  options: RedisStoreOptions = {},
) {
  const { store } = await openRedisStore(redis.url, capacity, options);
  return store;
}

/** A plain client of `redis`, for looking behind the store's back. */
async function rawClient(redis: RedisServer) {
  const client = newRedisClient(redis.url, { deadlineMs: 2000 });
  await connectRedis(client, 2000);
  return Object.assign(client, { [Symbol.dispose]: () => client.destroy() });
}

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: REDIS_MISSING, fn });

test("Redis store keeps FIFO order, bounds count and UTF-8 bytes exactly, and holds an empty string as an item", async () => {
  await using redis = await startRedis();
  await using store = await open(redis, 3, { maxBytes: 5 });
  assert.equal(await store.put(""), true);
  assert.equal(await store.put("é"), true); // 2 bytes
  assert.equal(await store.put("abcd"), false); // 2 + 4 > 5
  assert.equal(await store.put("abc"), true); // 5 bytes
  assert.equal(await store.put(""), false); // 3 items
  assert.equal(await store.size(), 3);
  assert.equal(await store.peek(), "");
  assert.equal(await store.pop(), "");
  assert.equal(await store.pop(), "é");
  assert.equal(await store.put("ab"), true);
  assert.deepEqual(
    [await store.pop(), await store.pop(), await store.pop()],
    ["abc", "ab", undefined],
  );
  assert.equal(await store.peek(), undefined);
  using raw = await rawClient(redis);
  assert.deepEqual(await raw.hGetAll("queue:{queue}:meta"), {
    capacity: "3",
    maxBytes: "5",
    count: "0",
    bytes: "0",
  });
});

test("Redis store opened with another capacity keeps the one stored with the queue, and --redis-key names separate queues", async () => {
  await using redis = await startRedis();
  await using first = await open(redis, 1);
  const { store: second, report } = await openRedisStore(redis.url, 9, {
    maxBytes: 100,
  });
  await using _second = second;
  assert.equal(report.capacity, 1);
  assert.equal(report.maxBytes, 1024 ** 3);
  assert.match(report.durabilityWarning ?? "", /appendonly no/);
  await using other = await open(redis, 2, { key: "other" });
  assert.equal(await first.put("a"), true);
  assert.equal(await second.put("b"), false);
  assert.equal(await other.put("c"), true);
  assert.equal(await other.pop(), "c");
  assert.equal(await second.pop(), "a");
});

test("Redis store with appendonly yes and appendfsync always gives no durability warning", async () => {
  await using redis = await startRedis({ persistent: true });
  const { store, report } = await openRedisStore(redis.url, 1);
  await using _store = store;
  assert.equal(report.durabilityWarning, undefined);
});

test("Redis store serves waiting pops in the order they came, through another store's puts, and times out to undefined", async () => {
  await using redis = await startRedis();
  await using a = await open(redis, 10);
  await using b = await open(redis, 10);
  const first = a.pop({ waitMs: 10_000 });
  const second = a.pop({ waitMs: 10_000 });
  await eventually(() => a.status().waitingPops === 2, "two waiting pops");
  assert.equal(await b.put("1"), true);
  assert.equal(await b.put("2"), true);
  assert.deepEqual(await within(Promise.all([first, second]), "pops"), [
    "1",
    "2",
  ]);
  assert.equal(await a.pop({ waitMs: 50 }), undefined);
});

test("Redis store: a waiting pop that gives up leaves no trace, and an item that came meanwhile goes back to the head", async () => {
  await using redis = await startRedis();
  await using a = await open(redis, 10);
  await using b = await open(redis, 10);
  const giveUp = new AbortController();
  const abandoned = a.pop({ waitMs: 10_000, signal: giveUp.signal });
  await eventually(() => a.status().waitingPops === 1, "a waiting pop");
  giveUp.abort();
  await assert.rejects(abandoned, { name: "AbortError" });
  assert.equal(a.status().waitingPops, 0);
  // The blocking pop may still be in Redis: what it takes goes back.
  assert.equal(await b.put("x"), true);
  assert.equal(await b.put("y"), true);
  await new Promise((resolve) => setTimeout(resolve, 1200));
  assert.deepEqual([await b.pop(), await b.pop()], ["x", "y"]);
  using raw = await rawClient(redis);
  assert.equal(await raw.hGet("queue:{queue}:meta", "count"), "0");
});

test("Redis store: a waiting put is admitted when another store pops, in order, and one that gives up stores nothing", async () => {
  await using redis = await startRedis();
  await using a = await open(redis, 1);
  await using b = await open(redis, 1);
  assert.equal(await a.put("full"), true);
  const giveUp = new AbortController();
  const first = a.put("first", { waitMs: 10_000 });
  const abandoned = a.put("never", { waitMs: 10_000, signal: giveUp.signal });
  const third = a.put("third", { waitMs: 10_000 });
  await eventually(() => a.status().waitingPuts === 3, "three waiting puts");
  giveUp.abort();
  await assert.rejects(abandoned, { name: "AbortError" });
  assert.equal(await b.pop(), "full");
  assert.equal(await within(first, "first put"), true);
  assert.equal(await b.pop(), "first");
  assert.equal(await within(third, "third put"), true);
  assert.equal(await b.pop(), "third");
  assert.equal(await b.pop(), undefined);
  assert.equal(await a.put("late", { waitMs: 50 }), true);
  assert.equal(await a.put("none", { waitMs: 50 }), false);
});

test("Redis store: 2,000 waiting pops use one blocking connection, three connections in all", async () => {
  await using redis = await startRedis();
  await using store = await open(redis, 10);
  const pops = Array.from(
    { length: 2000 },
    () => store.pop({ waitMs: 10_000 }).catch((error: unknown) => error),
  );
  await eventually(
    () => store.status().waitingPops === 2000,
    "2,000 waiting pops",
  );
  using raw = await rawClient(redis);
  const clients = (await raw.clientList()).length;
  assert.equal(clients, 4); // the store's three and this one
  await store.close();
  for (const result of await Promise.all(pops)) {
    assert.ok(result instanceof StoreClosedError);
  }
});

test("Redis store returns the items in flight of a server whose lease ran out to the head of the queue, in the order it took them", async () => {
  await using redis = await startRedis();
  using raw = await rawClient(redis);
  // A server that died after its blocking pop moved "lost" out of the queue.
  await raw.hSet("queue:{queue}:meta", {
    capacity: 10,
    maxBytes: 100,
    count: 4,
    bytes: 22,
  });
  await raw.rPush("queue:{queue}:items", "next");
  await raw.rPush("queue:{queue}:inflight:dead", "lost");
  // And two items it took, numbered 9 and 10, not answered yet.
  await raw.hSet("queue:{queue}:taken:dead", {
    "10": "taken 2",
    "9": "taken 1",
  });
  await raw.set("queue:{queue}:epoch:dead", "e");
  await raw.zAdd("queue:{queue}:servers", { score: 0, value: "dead" });
  await using store = await open(redis, 10, { leaseMs: 200 });
  assert.deepEqual(
    [await store.pop(), await store.pop(), await store.pop()],
    ["lost", "taken 1", "taken 2"],
  );
  assert.equal(await store.pop(), "next");
  assert.equal(await raw.exists("queue:{queue}:inflight:dead"), 0);
  assert.equal(await raw.exists("queue:{queue}:taken:dead"), 0);
  assert.equal(await raw.exists("queue:{queue}:epoch:dead"), 0);
  assert.equal(await raw.zScore("queue:{queue}:servers", "dead"), null);
  assert.equal(await raw.hGet("queue:{queue}:meta", "bytes"), "0");
});

test("Redis store ends the Sessions' leases of a server whose lease ran out: another server gives their items back", async () => {
  await using redis = await startRedis();
  using raw = await rawClient(redis);
  await using dying = await open(redis, 10, { leaseMs: 60_000 });
  const [id] = await raw.zRange("queue:{queue}:servers", 0, -1);
  await dying.put("a");
  await dying.put("b");
  const owner = new AbortController();
  const held = await dying.lease({ leaseMs: 3_600_000, owner: owner.signal });
  const unowned = await dying.lease({ leaseMs: 3_600_000 });
  assert.equal(await raw.sCard(`queue:{queue}:owned:${id}`), 1);
  // As if it had died: its lease ran out, and it renews it no more.
  await raw.zAdd("queue:{queue}:servers", { score: 0, value: id! });
  await using live = await open(redis, 10, { leaseMs: 200 });
  const back = await live.lease({ leaseMs: 60_000, waitMs: 2000 });
  assert.deepEqual([back?.item, back?.deliveryCount], ["a", 2]);
  assert.equal(await raw.exists(`queue:{queue}:owned:${id}`), 0);
  assert.equal(await live.ack(held!.receipt), false);
  assert.equal(await live.ack(unowned!.receipt), true, "a unary lease lasts");
});

test("Redis store on a paused Redis fails calls within its deadline with a one-line reason, then serves again when Redis resumes", async () => {
  await using redis = await startRedis();
  await using store = await open(redis, 10, { deadlineMs: 500 });
  const seen: boolean[] = [];
  store.watchAvailability((available) => seen.push(available));
  assert.equal(await store.put("a"), true);
  redis.signal("SIGSTOP");
  const error = await within(
    store.size().then(() => undefined, (error: unknown) => error),
    "a call to a paused Redis",
  );
  assert.ok(error instanceof StoreUnavailableError);
  assert.match(
    error.message,
    /^Redis at "redis:\/\/127\.0\.0\.1:\d+" is unreachable: /,
  );
  redis.signal("SIGCONT");
  await within(
    (async () => {
      while (seen.at(-1) !== true) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })(),
    "the store to serve again",
  );
  assert.deepEqual(seen, [false, true]);
  assert.equal(await store.pop(), "a");
});

test("Redis store: waiting puts hold at most 16 MiB of items in memory; past that a put answers false at once", async () => {
  await using redis = await startRedis();
  await using store = await open(redis, 1);
  assert.equal(await store.put("full"), true);
  const big = "x".repeat(9 * 1024 * 1024);
  const waiting = store.put(big, { waitMs: 10_000 });
  await eventually(() => store.status().waitingPuts === 1, "a waiting put");
  assert.equal(await store.put(big, { waitMs: 10_000 }), false);
  assert.equal(store.status().waitingPuts, 1);
  assert.equal(await store.pop(), "full");
  assert.equal(await within(waiting, "the waiting put"), true);
  assert.equal((await store.pop())?.length, big.length);
});
