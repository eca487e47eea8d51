/**
 * Leases end to end, with the real queue-server as a process (in memory,
 * with `--data` and with `--redis`) and raw grpc-js calls: Ack, Release, a
 * lease that runs out, Extend, the room a lease keeps, a Session's leases
 * given back when it ends, `--data` killed with -9 while items are leased
 * and acked, and two servers on one Redis, one of them killed with -9.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import {
  type Command,
  type ItemResponse,
  queueServiceDefinition,
  type Reply,
} from "../task1/proto.ts";
import {
  eventually,
  type StartedServer,
  startQueueServer,
  tempDir,
  within,
} from "./harness.ts";
import { REDIS_MISSING, startRedis } from "./redis.ts";

const ServiceClient = grpc.makeGenericClientConstructor(
  queueServiceDefinition() as unknown as grpc.ServiceDefinition,
  "QueueService",
);

/** A raw grpc-js client: `call("Pop", {...})` resolves to the response. */
class Raw implements Disposable {
  readonly client: grpc.Client & Record<string, unknown>;
  constructor(port: number) {
    this.client = new ServiceClient(
      `127.0.0.1:${port}`,
      grpc.credentials.createInsecure(),
    ) as grpc.Client & Record<string, unknown>;
  }
  call<T = Record<string, unknown>>(
    method: string,
    request: object,
  ): Promise<T> {
    const fn = this.client[method] as (
      request: object,
      callback: (error: grpc.ServiceError | null, response: T) => void,
    ) => void;
    return new Promise((resolve, reject) =>
      fn.call(
        this.client,
        request,
        (error, response) => error ? reject(error) : resolve(response),
      )
    );
  }
  pop(request: object = {}): Promise<ItemResponse> {
    return this.call<ItemResponse>("Pop", request);
  }
  session(): grpc.ClientDuplexStream<Command, Reply> {
    const fn = this.client["Session"] as () => grpc.ClientDuplexStream<
      Command,
      Reply
    >;
    return fn.call(this.client);
  }
  [Symbol.dispose]() {
    this.client.close();
  }
}

/** A server started with `resource` (its folder, its Redis), both disposed. */
async function startWith(
  resource: AsyncDisposable,
  start: () => Promise<StartedServer>,
): Promise<StartedServer> {
  let started: StartedServer;
  try {
    started = await start();
  } catch (error: unknown) {
    await resource[Symbol.asyncDispose]();
    throw error;
  }
  return {
    ...started,
    [Symbol.asyncDispose]: async () => {
      await started[Symbol.asyncDispose]();
      await resource[Symbol.asyncDispose]();
    },
  };
}

const STORES = [
  {
    name: "memory",
    ignore: false,
    start: (size: number) => startQueueServer(size),
  },
  {
    name: "--data",
    ignore: false,
    start: async (size: number) => {
      const dir = await tempDir("queue-lease-");
      return await startWith(
        dir,
        () => startQueueServer(size, "--data", `${dir.path}/q.db`),
      );
    },
  },
  {
    name: "--redis",
    ignore: REDIS_MISSING,
    start: async (size: number) => {
      const redis = await startRedis();
      return await startWith(
        redis,
        () => startQueueServer(size, "--redis", redis.url),
      );
    },
  },
];

/** Resolves once Size reports no lease, or rejects after `ms`. */
function noLeasesWithin(raw: Raw, what: string, ms: number): Promise<void> {
  return eventually(
    async () => (await raw.call("Size", {})).leased === 0,
    what,
    ms,
    20,
  );
}

async function putAll(raw: Raw, items: string[]) {
  for (const item of items) {
    assert.deepEqual(await raw.call("Put", { item }), { added: true });
  }
}

for (const { name, ignore, start } of STORES) {
  const test = (title: string, fn: () => Promise<void>) =>
    Deno.test({ name: title, ignore, fn });

  test(`queue-server (${name}): a leased item is gone after Ack, a second Ack and a forged receipt answer false`, async () => {
    await using started = await start(10);
    using raw = new Raw(started.port);
    await putAll(raw, ["a", "b"]);
    const leased = await raw.pop({ lease_ms: 60_000 });
    assert.equal(leased.item, "a");
    assert.equal(leased.delivery_count, 1);
    assert.match(leased.receipt ?? "", /^[A-Za-z0-9_-]{22,}$/);
    assert.deepEqual(await raw.call("Size", {}), { size: 1, leased: 1 });
    assert.equal((await raw.call("Peek", {})).item, "b");
    for (const receipt of ["", "forged", `${leased.receipt}x`]) {
      assert.deepEqual(await raw.call("Ack", { receipt }), { acked: false });
    }
    assert.deepEqual(await raw.call("Ack", leased), { acked: true });
    assert.deepEqual(await raw.call("Ack", leased), { acked: false });
    assert.deepEqual(await raw.call("Size", {}), { size: 1, leased: 0 });
    assert.equal((await raw.pop()).item, "b");
    assert.equal((await raw.pop()).item, undefined);
  });

  test(`queue-server (${name}): a released item is next, with delivery_count 2`, async () => {
    await using started = await start(10);
    using raw = new Raw(started.port);
    await putAll(raw, ["a", "b"]);
    const leased = await raw.pop({ lease_ms: 60_000 });
    assert.deepEqual(await raw.call("Release", leased), { released: true });
    assert.deepEqual(await raw.call("Release", leased), { released: false });
    const again = await raw.pop({ lease_ms: 60_000 });
    assert.deepEqual([again.item, again.delivery_count], ["a", 2]);
  });

  test(`queue-server (${name}): a lease that runs out puts the item back at the head, and a waiting Pop gets it`, async () => {
    await using started = await start(10);
    using raw = new Raw(started.port);
    await putAll(raw, ["a", "b"]);
    const began = performance.now();
    await raw.pop({ lease_ms: 300 });
    await raw.pop({ lease_ms: 60_000 });
    const waiting = await within(raw.pop({ wait_ms: 10_000 }), "the item back");
    const took = performance.now() - began;
    assert.equal(waiting.item, "a");
    assert.ok(took >= 250 && took < 5000, `back after ${took} ms`);
  });

  test(`queue-server (${name}): Extend keeps an item out past the end of its first lease`, async () => {
    await using started = await start(10);
    using raw = new Raw(started.port);
    await putAll(raw, ["a"]);
    const leased = await raw.pop({ lease_ms: 300 });
    assert.deepEqual(
      await raw.call("Extend", { receipt: leased.receipt, lease_ms: 1500 }),
      { extended: true },
    );
    await new Promise((resolve) => setTimeout(resolve, 700));
    assert.deepEqual(await raw.call("Size", {}), { size: 0, leased: 1 });
    assert.equal((await raw.pop({ wait_ms: 10_000 })).item, "a");
  });

  test(`queue-server (${name}): leased items keep their room, and lease_ms past an hour or an Extend of 0 is INVALID_ARGUMENT`, async () => {
    await using started = await start(2);
    using raw = new Raw(started.port);
    await putAll(raw, ["a", "b"]);
    const leased = await raw.pop({ lease_ms: 60_000 });
    assert.deepEqual(await raw.call("Put", { item: "c" }), { added: false });
    assert.deepEqual(await raw.call("Ack", leased), { acked: true });
    assert.deepEqual(await raw.call("Put", { item: "c" }), { added: true });
    for (
      const [method, request] of [
        ["Pop", { lease_ms: 3_600_001 }],
        ["Extend", { receipt: "x", lease_ms: 0 }],
        ["Extend", { receipt: "x", lease_ms: 3_600_001 }],
      ] as const
    ) {
      await assert.rejects(
        raw.call(method, request),
        (error: grpc.ServiceError) =>
          error.code === grpc.status.INVALID_ARGUMENT,
      );
    }
  });

  test(`queue-server (${name}): a Session's leases go back at once, at the head, when it is cancelled or its client is killed`, async () => {
    await using started = await start(10);
    using raw = new Raw(started.port);
    await putAll(raw, ["a", "b", "c", "d"]);
    const session = raw.session();
    session.on("error", () => {});
    const replies: Reply[] = [];
    session.on("data", (reply: Reply) => replies.push(reply));
    session.write({ pop: { lease_ms: 3_600_000 } });
    session.write({ pop: { lease_ms: 3_600_000 } });
    await within(
      (async () => {
        while (replies.length < 2) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })(),
      "two leases",
    );
    assert.deepEqual(await raw.call("Size", {}), { size: 2, leased: 2 });
    session.cancel();
    await noLeasesWithin(raw, "the leases back", 1000);
    const holder = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "tests/lease_holder.ts", String(started.port), "1"],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = holder.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    const first = await within(reader.read(), "the holder's lease");
    assert.equal(first.value?.trim(), "a");
    holder.kill("SIGKILL");
    await holder.status;
    reader.releaseLock();
    await holder.stdout.cancel().catch(() => {});
    await noLeasesWithin(raw, "the killed client's lease back", 2000);
    const order = [];
    for (let i = 0; i < 4; i++) {
      const leased = await raw.pop({ lease_ms: 60_000 });
      order.push(`${leased.item}x${leased.delivery_count}`);
    }
    assert.deepEqual(order, ["ax3", "bx2", "cx1", "dx1"]);
  });
}

Deno.test("queue-server --data killed with -9 while items are leased, acked and in flight: after the restart every unacked item is back, in order, with its delivery count, and no acked one", async () => {
  await using dir = await tempDir("queue-lease-");
  const file = `${dir.path}/q.db`;
  const items = Array.from({ length: 20 }, (_, i) => `i${i}`);
  const acked = new Set<string>();
  const inFlight = new Set<string>();
  const leasedItems: string[] = [];
  {
    await using started = await startQueueServer(100, "--data", file);
    using raw = new Raw(started.port);
    await putAll(raw, items);
    const leases: ItemResponse[] = [];
    for (let i = 0; i < 8; i++) {
      const leased = await raw.pop({ lease_ms: 3_600_000 });
      leases.push(leased);
      leasedItems.push(leased.item!);
    }
    for (const leased of leases.slice(0, 3)) {
      assert.deepEqual(await raw.call("Ack", leased), { acked: true });
      acked.add(leased.item!);
    }
    for (const leased of leases.slice(3, 6)) {
      inFlight.add(leased.item!);
      raw.call("Ack", leased).then(
        () => {
          acked.add(leased.item!);
          inFlight.delete(leased.item!);
        },
        () => {},
      );
    }
    started.server.kill("SIGKILL");
    await started.server.exit();
  }
  await using started = await startQueueServer(100, "--data", file);
  using raw = new Raw(started.port);
  const after: string[] = [];
  for (;;) {
    const leased = await raw.pop({ lease_ms: 60_000 });
    if (leased.item === undefined) break;
    const wasLeased = leasedItems.includes(leased.item);
    assert.equal(leased.delivery_count, wasLeased ? 2 : 1, leased.item);
    after.push(leased.item);
  }
  const expected = items.filter((item) =>
    !acked.has(item) && !inFlight.has(item)
  );
  const mayBe = [...inFlight];
  assert.deepEqual(
    after.filter((item) => !mayBe.includes(item)),
    expected,
    "every unacked item, in put order, and no acked one",
  );
  assert.ok(after.every((item) => !acked.has(item)), "no acked item is back");
});

Deno.test({
  name:
    "queue-server --redis: a lease taken on one server is extended and acked on another; the lease of a server killed with -9 runs out and its item goes back through the other, to a Pop waiting there",
  ignore: REDIS_MISSING,
  async fn() {
    await using redis = await startRedis();
    await using a = await startQueueServer(10, "--redis", redis.url);
    await using b = await startQueueServer(10, "--redis", redis.url);
    using rawA = new Raw(a.port);
    using rawB = new Raw(b.port);
    await putAll(rawA, ["a", "b", "c"]);
    const first = await rawA.pop({ lease_ms: 60_000 });
    assert.deepEqual(await rawB.call("Size", {}), { size: 2, leased: 1 });
    assert.deepEqual(
      await rawB.call("Extend", { receipt: first.receipt, lease_ms: 60_000 }),
      { extended: true },
    );
    assert.deepEqual(await rawB.call("Ack", first), { acked: true });
    assert.deepEqual(await rawA.call("Ack", first), { acked: false });
    const leaseMs = 1500;
    const leasedAt = performance.now();
    const second = await rawA.pop({ lease_ms: leaseMs });
    await rawA.pop({ lease_ms: 3_600_000 });
    assert.equal(second.item, "b");
    a.server.kill("SIGKILL");
    await a.server.exit();
    const waiting = await within(
      rawB.pop({ wait_ms: 10_000, lease_ms: 60_000 }),
      "the dead server's item back",
    );
    const back = performance.now() - leasedAt;
    assert.deepEqual([waiting.item, waiting.delivery_count], ["b", 2]);
    assert.ok(
      back >= leaseMs - 50 && back < leaseMs + 1500,
      `back ${back - leaseMs} ms after the lease's end`,
    );
    assert.deepEqual(await rawB.call("Size", {}), { size: 0, leased: 2 });
    assert.deepEqual(await rawB.call("Ack", waiting), { acked: true });
  },
});
