import assert from "node:assert/strict";
import { REDIS_MISSING, startRedis } from "../../../tests/redis.ts";
import { openRedisStore } from "./mod.ts";

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: REDIS_MISSING, fn });

test("Redis store leases the head item out of view but keeps its room, and Ack removes it once", async () => {
  await using redis = await startRedis();
  await using store = (await openRedisStore(redis.url, 2, { maxBytes: 10 }))
    .store;
  assert.equal(await store.put("abcd"), true);
  assert.equal(await store.put("efgh"), true);
  const leased = await store.lease({ leaseMs: 60_000 });
  assert.equal(leased?.item, "abcd");
  assert.equal(leased?.deliveryCount, 1);
  assert.match(leased?.receipt ?? "", /^[A-Za-z0-9_-]{22}$/);
  assert.equal(await store.size(), 1);
  assert.equal(store.status().leased, 1);
  assert.equal(await store.peek(), "efgh");
  assert.equal(await store.put("x"), false, "the leased item keeps its room");
  for (const forged of ["", "forged", `${leased!.receipt}x`]) {
    assert.equal(await store.ack(forged), false);
    assert.equal(await store.release(forged), false);
    assert.equal(await store.extend(forged, 1000), false);
  }
  assert.equal(await store.ack(leased!.receipt), true);
  assert.equal(await store.ack(leased!.receipt), false);
  assert.equal(await store.release(leased!.receipt), false);
  assert.equal(await store.size(), 1);
  assert.equal(store.status().leased, 0);
  assert.equal(await store.put("123456"), true, "its bytes are free again");
  assert.equal(await store.put("x"), false);
});

test("Redis store gives released items back at the head, in the order first leased, with their delivery counts", async () => {
  await using redis = await startRedis();
  await using store = (await openRedisStore(redis.url, 10)).store;
  for (const item of ["a", "b", "c", "d"]) await store.put(item);
  const a = await store.lease({ leaseMs: 60_000 });
  const b = await store.lease({ leaseMs: 60_000 });
  const c = await store.lease({ leaseMs: 60_000 });
  assert.equal(await store.release(c!.receipt), true);
  assert.equal(await store.release(a!.receipt), true);
  assert.equal(await store.release(b!.receipt), true);
  assert.equal(await store.release(b!.receipt), false);
  assert.equal(await store.peek(), "a");
  const again = [];
  for (let i = 0; i < 4; i++) {
    const leased = await store.lease({ leaseMs: 60_000 });
    again.push(`${leased?.item}x${leased?.deliveryCount}`);
  }
  assert.deepEqual(again, ["ax2", "bx2", "cx2", "dx1"]);
});

test("Redis store puts an item whose lease ran out back by a timer, to a waiting leasing pop on another server, and Extend holds it out", async () => {
  await using redis = await startRedis();
  await using first = (await openRedisStore(redis.url, 10)).store;
  await using second = (await openRedisStore(redis.url, 10)).store;
  await first.put("a");
  const leased = await first.lease({ leaseMs: 200 });
  assert.equal(await second.extend(leased!.receipt, 600), true);
  const began = performance.now();
  const waiting = await second.lease({ leaseMs: 60_000, waitMs: 5000 });
  const took = performance.now() - began;
  assert.deepEqual([waiting?.item, waiting?.deliveryCount], ["a", 2]);
  assert.ok(took > 500 && took < 800, `back after ${took} ms`);
  assert.equal(await first.ack(leased!.receipt), false, "the old receipt");
  assert.equal(await first.ack(waiting!.receipt), true, "on the other server");
});

test("Redis store gives a Session's leases back at once when its owner signal aborts, in lease order", async () => {
  await using redis = await startRedis();
  await using store = (await openRedisStore(redis.url, 10)).store;
  for (const item of ["a", "b", "c"]) await store.put(item);
  const owner = new AbortController();
  await store.lease({ leaseMs: 3_600_000, owner: owner.signal });
  const b = await store.lease({ leaseMs: 3_600_000, owner: owner.signal });
  await store.lease({ leaseMs: 3_600_000, owner: owner.signal });
  assert.equal(await store.ack(b!.receipt), true);
  owner.abort();
  const back = await store.lease({ leaseMs: 60_000, waitMs: 1000 });
  assert.deepEqual([back?.item, back?.deliveryCount], ["a", 2]);
  assert.equal(await store.pop(), "c");
  await assert.rejects(
    store.lease({ leaseMs: 1000, owner: owner.signal }),
    { name: "AbortError" },
  );
});

test("Redis store gives a plain pop an item back from a lease as it was put", async () => {
  await using redis = await startRedis();
  await using store = (await openRedisStore(redis.url, 10)).store;
  await store.put("é ü");
  const leased = await store.lease({ leaseMs: 60_000 });
  await store.release(leased!.receipt);
  assert.equal(await store.peek(), "é ü");
  assert.equal(await store.pop({ waitMs: 1000 }), "é ü");
  assert.equal(store.status().bytes, 0);
  await store.put("x");
  const again = await store.lease({ leaseMs: 60_000 });
  await store.release(again!.receipt);
  assert.equal(await store.pop({ waitMs: 1000 }), "x");
});

test("Redis store that closes gives back its Sessions' leases, and keeps its unary ones", async () => {
  await using redis = await startRedis();
  await using live = (await openRedisStore(redis.url, 10)).store;
  const closing = (await openRedisStore(redis.url, 10)).store;
  for (const item of ["a", "b"]) await live.put(item);
  const owner = new AbortController();
  await closing.lease({ leaseMs: 3_600_000, owner: owner.signal });
  const unary = await closing.lease({ leaseMs: 3_600_000 });
  await closing.close();
  assert.equal(await live.size(), 1);
  assert.equal(live.status().leased, 1);
  const back = await live.lease({ leaseMs: 60_000 });
  assert.deepEqual([back?.item, back?.deliveryCount], ["a", 2]);
  assert.equal(await live.ack(unary!.receipt), true);
});
