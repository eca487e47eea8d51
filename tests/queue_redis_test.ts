/**
 * End-to-end tests of `queue-server --redis URL`: several real queue-servers
 * sharing one queue in a real `redis-server` (started by the test), with
 * kills of either side.
 */
import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import assert from "node:assert/strict";
import { connectRedis, newRedisClient } from "../lib/redis/mod.ts";
import { QueueCallError, QueueClient } from "../task1/queue_client.ts";
import {
  deadPort,
  eventually,
  runToEnd,
  spawnProgram,
  type StartedServer,
  startQueueServer,
  within,
} from "./harness.ts";
import { REDIS_MISSING, startRedis } from "./redis.ts";
import { QUEUE_SEED_SESSION } from "./seed_sessions.ts";
import { makeTestPki } from "./tls_fixtures.ts";
import { WaitingClient } from "./waiting_client.ts";

function startOnRedis(
  size: number,
  url: string,
  ...extra: string[]
): Promise<StartedServer> {
  return startQueueServer(size, "--redis", url, ...extra);
}

function clientOf(port: number): QueueClient {
  return new QueueClient({ hostname: "127.0.0.1", port });
}

/** Pops until the queue is empty; the items, head first. */
async function drain(client: QueueClient): Promise<string[]> {
  const items: string[] = [];
  for (let item = await client.pop(); item !== undefined;) {
    items.push(item);
    item = await client.pop();
  }
  return items;
}

/** The health status of the server on `port`, for the whole server. */
function health(port: number): Promise<string> {
  const client = new grpc.Client(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  );
  const check = healthService["Check"]!;
  return new Promise<string>((resolve, reject) => {
    client.makeUnaryRequest(
      check.path,
      check.requestSerialize,
      check.responseDeserialize,
      { service: "" },
      { deadline: Date.now() + 5000 },
      (error, response) =>
        error
          ? reject(error)
          : resolve((response as { status: string }).status),
    );
  }).finally(() => client.close());
}

/** Asks `probe` again every 50 ms until it resolves to `expected`. */
function until<T>(
  probe: () => Promise<T>,
  expected: T,
  what: string,
): Promise<void> {
  return eventually(
    async () => await probe().catch(() => undefined) === expected,
    what,
  );
}

/** The gRPC status name a call failed with, or "OK". */
function outcome(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => "OK",
    (error: { code?: grpc.status }) =>
      grpc.status[error.code ?? grpc.status.UNKNOWN] ?? String(error),
  );
}

Deno.test({
  name:
    "queue-server --redis: the seed's session gives the seed's answers through each of 2 servers sharing one queue, and alternating between them",
  ignore: REDIS_MISSING,
  async fn() {
    await using redis = await startRedis();
    await using a = await startOnRedis(3, redis.url);
    await using b = await startOnRedis(3, redis.url);
    const input = QUEUE_SEED_SESSION.map(([line]) => `${line}\n`).join("");
    for (const server of [a, b]) {
      await using client = spawnProgram(
        "queue-client",
        [`127.0.0.1:${server.port}`],
        { stdin: true },
      );
      await client.write(input);
      await client.closeStdin();
      assert.deepEqual(
        await client.stdout.rest(),
        QUEUE_SEED_SESSION.map(([, answer]) => answer),
      );
      assert.equal((await client.exit()).code, 0);
    }
    using clientA = clientOf(a.port);
    using clientB = clientOf(b.port);
    for (const [index, [line, answer]] of QUEUE_SEED_SESSION.entries()) {
      const client = index % 2 === 0 ? clientA : clientB;
      const [command, item = ""] = line.split(" ");
      const got = command === "put"
        ? ((await client.put(item)) ? "True" : "False")
        : command === "size"
        ? String(await client.size())
        : String(
          await (command === "pop" ? client.pop() : client.peek()) ??
            "Queue is empty",
        );
      assert.equal(got, answer, `${line} on server ${index % 2 ? "B" : "A"}`);
    }
  },
});

Deno.test({
  name:
    "queue-server --redis: items put on one server are popped on another in order, the empty string included",
  ignore: REDIS_MISSING,
  async fn() {
    await using redis = await startRedis();
    await using a = await startOnRedis(10, redis.url);
    await using b = await startOnRedis(10, redis.url);
    using clientA = clientOf(a.port);
    using clientB = clientOf(b.port);
    for (const item of ["one", "", "three"]) {
      assert.equal(await clientA.put(item), true);
    }
    assert.equal(await clientB.size(), 3);
    assert.equal(await clientB.peek(), "one");
    assert.deepEqual(await drain(clientB), ["one", "", "three"]);
    assert.equal(await clientA.size(), 0);
  },
});

Deno.test({
  name:
    "queue-server --redis: 8 clients on 3 servers racing 800 puts into a queue of 500 get exactly 500 Trues",
  ignore: REDIS_MISSING,
  async fn() {
    await using redis = await startRedis();
    await using a = await startOnRedis(500, redis.url);
    await using b = await startOnRedis(500, redis.url);
    await using c = await startOnRedis(500, redis.url);
    const servers = [a, b, c];
    const clients = Array.from(
      { length: 8 },
      (_, index) => clientOf(servers[index % 3]!.port),
    );
    try {
      const answers = await Promise.all(
        clients.map(async (client, index) => {
          const added: boolean[] = [];
          for (let n = 0; n < 100; n++) {
            added.push(await client.put(`${index}-${n}`));
          }
          return added;
        }),
      );
      assert.equal(answers.flat().filter((added) => added).length, 500);
      assert.equal(await clients[0]!.size(), 500);
      const items = await drain(clients[1]!);
      assert.equal(new Set(items).size, 500);
    } finally {
      for (const client of clients) client.close();
    }
  },
});

Deno.test({
  name:
    "queue-server --redis killed with -9 loses nothing: another server pops every acknowledged item in order",
  ignore: REDIS_MISSING,
  async fn() {
    await using redis = await startRedis();
    await using b = await startOnRedis(100, redis.url);
    const acknowledged: string[] = [];
    {
      await using a = await startOnRedis(100, redis.url);
      using clientA = clientOf(a.port);
      for (let n = 0; n < 50; n++) {
        if (await clientA.put(`item ${n}`)) acknowledged.push(`item ${n}`);
      }
      a.server.kill("SIGKILL");
      await a.server.exit();
    }
    using clientB = clientOf(b.port);
    assert.deepEqual(await drain(clientB), acknowledged);
    assert.equal(acknowledged.length, 50);
  },
});

Deno.test({
  name:
    "queue-server --redis keeps acknowledged items across a kill -9 and restart of a Redis with appendonly yes and appendfsync always, and serves again by itself",
  ignore: REDIS_MISSING,
  async fn() {
    await using redis = await startRedis({ persistent: true });
    await using a = await startOnRedis(100, redis.url);
    using client = clientOf(a.port);
    for (let n = 0; n < 20; n++) assert.equal(await client.put(`${n}`), true);
    await redis.restart();
    await until(() => client.size(), 20, "the server to serve again");
    assert.deepEqual(
      await drain(client),
      Array.from({ length: 20 }, (_, n) => `${n}`),
    );
  },
});

Deno.test({
  name:
    "queue-server --redis with Redis stopped: calls fail with UNAVAILABLE, waiting calls end, health is NOT_SERVING; all recover by themselves when Redis is back",
  ignore: REDIS_MISSING,
  async fn() {
    await using redis = await startRedis();
    await using a = await startOnRedis(10, redis.url);
    using client = clientOf(a.port);
    using waiting = new WaitingClient(a.port);
    assert.equal(await client.put("before"), true);
    assert.equal(await health(a.port), "SERVING");
    assert.deepEqual(await client.pop(), "before");
    const waitingPop = outcome(waiting.pop({ wait_ms: 60_000 }).answer);
    // Let the waiting Pop reach the server before Redis goes.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await redis.kill();
    assert.equal(await within(waitingPop, "the waiting Pop"), "UNAVAILABLE");
    for (const call of [client.put("x"), client.pop(), client.size()]) {
      assert.equal(await within(outcome(call), "a call"), "UNAVAILABLE");
    }
    await until(() => health(a.port), "NOT_SERVING", "NOT_SERVING");
    const error = await client.size().catch((error: unknown) => error);
    assert.ok(error instanceof QueueCallError);
    assert.match(
      error.message,
      /Redis at "redis:\/\/127\.0\.0\.1:\d+" is unreachable/,
    );
    assert.doesNotMatch(error.message, /\n/);
    await redis.start();
    await until(() => health(a.port), "SERVING", "SERVING again");
    assert.equal(await client.put("after"), true);
    assert.deepEqual(await drain(client), ["after"]);
  },
});

Deno.test({
  name:
    "queue-server --redis with appendfsync always, paused while 5 Pops and 3 Puts run: every item is delivered or still queued, in order, none lost, when Redis resumes",
  ignore: REDIS_MISSING,
  async fn() {
    await using redis = await startRedis({ persistent: true });
    await using a = await startOnRedis(100, redis.url);
    using client = clientOf(a.port);
    const queued = Array.from({ length: 20 }, (_, n) => `item ${n}`);
    for (const item of ["first", ...queued]) {
      assert.equal(await client.put(item), true);
    }
    // Redis knows the Pop's script, so a Pop it runs late takes an item.
    assert.equal(await client.pop(), "first");
    redis.signal("SIGSTOP");
    const paused = Date.now();
    let resumed = false;
    try {
      // Each call fails by the server's 2 s watchdog, or at once once the
      // server knows Redis is unreachable; Redis runs what reached it later.
      const popped: string[] = [];
      const pops = Array.from({ length: 5 }, () =>
        client.pop().then((item) => {
          if (item !== undefined) popped.push(item);
          return "OK";
        }, (error: QueueCallError) => grpc.status[error.code]));
      const puts = ["new 0", "new 1", "new 2"].map((item) =>
        client.put(item).then(
          (added) => ({ item, answer: added ? "True" : "False" }),
          (error: QueueCallError) => ({
            item,
            answer: grpc.status[error.code],
          }),
        )
      );
      const popOutcomes = await within(Promise.all(pops), "5 Pops to answer");
      const putOutcomes = await within(Promise.all(puts), "3 Puts to answer");
      const rest = 3000 - (Date.now() - paused);
      if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
      redis.signal("SIGCONT");
      resumed = true;
      assert.deepEqual(popOutcomes, Array(5).fill("UNAVAILABLE"));
      await until(() => health(a.port), "SERVING", "the server to serve again");
      const left = await drain(client);
      const delivered = [...popped, ...left];
      // Every item put before the pause is delivered exactly once, and what
      // is still queued keeps the queue's order.
      for (const item of queued) {
        assert.equal(
          delivered.filter((got) => got === item).length,
          1,
          `${item} delivered once (popped ${popped}, then queued ${left})`,
        );
      }
      const leftOld = left.filter((item) => queued.includes(item));
      assert.deepEqual(
        leftOld,
        queued.filter((item) => leftOld.includes(item)),
      );
      // A Put that answered True is there once; one that answered
      // UNAVAILABLE may have been added, at most once; nothing else is.
      for (const { item, answer } of putOutcomes) {
        const count = delivered.filter((got) => got === item).length;
        if (answer === "True") assert.equal(count, 1, `${item} added`);
        else assert.ok(count <= 1, `${item} (${answer}) at most once`);
      }
      const known = new Set([...queued, "new 0", "new 1", "new 2"]);
      assert.deepEqual(delivered.filter((item) => !known.has(item)), []);
    } finally {
      if (!resumed) redis.signal("SIGCONT");
    }
  },
});

Deno.test({
  name:
    "queue-server --redis: a waiting Pop on server A is woken by a Put on server B, and a waiting Put on B by a Pop on A",
  ignore: REDIS_MISSING,
  async fn() {
    await using redis = await startRedis();
    await using a = await startOnRedis(1, redis.url);
    await using b = await startOnRedis(1, redis.url);
    using waitingA = new WaitingClient(a.port);
    using waitingB = new WaitingClient(b.port);
    using clientA = clientOf(a.port);
    using clientB = clientOf(b.port);
    const popped = waitingA.pop({ wait_ms: 30_000 }).answer;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(await clientB.put("hello"), true);
    assert.equal((await within(popped, "the waiting Pop")).item, "hello");
    assert.equal(await clientB.put("first"), true);
    const put = waitingB.put({ item: "second", wait_ms: 30_000 }).answer;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(await clientA.pop(), "first");
    assert.equal((await within(put, "the waiting Put")).added, true);
    assert.equal(await clientA.pop(), "second");
  },
});

Deno.test({
  name:
    "queue-server --redis with no Redis listening prints one error line and exits 1",
  ignore: REDIS_MISSING,
  async fn() {
    await using server = spawnProgram("queue-server", [
      "0",
      "3",
      "--redis",
      `redis://127.0.0.1:${deadPort()}`,
    ]);
    const [status, stderr] = await Promise.all([
      server.exit(),
      server.stderr.rest(),
    ]);
    assert.equal(status.code, 1);
    assert.equal(stderr.length, 1);
    assert.match(stderr[0]!, /^error: Cannot use Redis at "redis:\/\/127/);
  },
});

Deno.test("queue-server and roster-server never show a Redis password: an invalid URL is a usage error (exit 2), an unreachable one exit 1, neither naming it", async () => {
  const urls = [
    ["redis://:hunter2@127.0.0.1:99999", 2],
    ["redis://user:hunter2@127.0.0.1:1/x", 2],
    ["redis//:hunter2@127.0.0.1:1", 2],
    [`redis://:hunter2@127.0.0.1:${deadPort()}`, 1],
  ] as const;
  for (const [url, code] of urls) {
    for (
      const [program, args] of [
        ["queue-server", ["0", "3", "--redis", url]],
        ["roster-server", ["0", "--redis", url, "--node-ttl", "1"]],
      ] as const
    ) {
      const what = `${program} --redis ${url}`;
      const { stderr, code: exit } = await runToEnd(program, [...args]);
      assert.equal(exit, code, what);
      assert.match(stderr[0] ?? "", /^error: .*Redis/, what);
      assert.doesNotMatch(stderr.join("\n"), /hunter2/, what);
    }
  }
});

Deno.test({
  name:
    "queue-server --redis started with another SIZE than the stored queue keeps the stored one and says so in one line; --data with --redis, or a URL that is not redis://, is a usage error",
  ignore: REDIS_MISSING,
  async fn() {
    await using redis = await startRedis();
    await using a = await startOnRedis(2, redis.url);
    await using b = await startOnRedis(5, redis.url);
    const line = await b.server.stderr.next();
    assert.match(line ?? "", /has SIZE 2 .* which it keeps/);
    using clientB = clientOf(b.port);
    assert.equal(await clientB.put("1"), true);
    assert.equal(await clientB.put("2"), true);
    assert.equal(await clientB.put("3"), false);
    await using both = spawnProgram("queue-server", [
      "0",
      "3",
      "--redis",
      redis.url,
      "--data",
      "x.db",
    ]);
    assert.equal((await both.exit()).code, 2);
    await using notRedis = spawnProgram("queue-server", [
      "0",
      "3",
      "--redis",
      "http://127.0.0.1:1",
    ]);
    assert.equal((await notRedis.exit()).code, 2);
    using clientA = clientOf(a.port);
    assert.equal(await clientA.size(), 2);
  },
});

Deno.test({
  name:
    "queue-server --redis with a password in the URL serves; a wrong password is one error line that does not show it, exit 1",
  ignore: REDIS_MISSING,
  async fn() {
    await using redis = await startRedis();
    const admin = newRedisClient(redis.url, { deadlineMs: 2000 });
    try {
      await connectRedis(admin, 2000);
      await admin.configSet("requirepass", "s3cret");
    } finally {
      admin.destroy();
    }
    const withPassword = (password: string) =>
      redis.url.replace("redis://", `redis://:${password}@`);
    await using a = await startOnRedis(3, withPassword("s3cret"));
    using client = clientOf(a.port);
    assert.equal(await client.put("x"), true);
    assert.equal(await client.pop(), "x");
    await using wrong = spawnProgram("queue-server", [
      "0",
      "3",
      "--redis",
      withPassword("wrong-one"),
    ]);
    const [status, stderr] = await Promise.all([
      wrong.exit(),
      wrong.stderr.rest(),
    ]);
    assert.equal(status.code, 1);
    assert.equal(stderr.length, 1);
    assert.match(stderr[0]!, /^error: Cannot use Redis at "redis:\/\/127/);
    assert.doesNotMatch(stderr[0]!, /wrong-one/);
  },
});

Deno.test({
  name:
    "queue-server --redis rediss:// with --redis-ca serves over TLS; an untrusted certificate or a --redis-ca without one is one error line, exit 1; --redis-ca without rediss:// is a usage error, exit 2",
  ignore: REDIS_MISSING,
  async fn() {
    await using pki = await makeTestPki();
    await using redis = await startRedis({
      tls: { cert: pki.cert, key: pki.key, ca: pki.ca },
    });
    assert.match(redis.url, /^rediss:/);
    await using a = await startOnRedis(3, redis.url, "--redis-ca", pki.ca);
    await using b = await startOnRedis(3, redis.url, "--redis-ca", pki.ca);
    using clientA = clientOf(a.port);
    using clientB = clientOf(b.port);
    assert.equal(await clientA.put("over TLS"), true);
    assert.equal(await clientB.pop(), "over TLS");
    const refused = async (...args: string[]) => {
      await using server = spawnProgram("queue-server", ["0", "3", ...args]);
      const [status, stderr] = await Promise.all([
        server.exit(),
        server.stderr.rest(),
      ]);
      return { code: status.code, first: stderr[0] ?? "", lines: stderr };
    };
    const untrusted = await refused(
      "--redis",
      redis.url,
      "--redis-ca",
      pki.otherCa,
    );
    assert.equal(untrusted.code, 1);
    assert.equal(untrusted.lines.length, 1);
    assert.match(
      untrusted.first,
      /^error: Cannot use Redis at "rediss:\/\/127\.0\.0\.1:\d+": .*certificate/,
    );
    const notPem = await refused("--redis", redis.url, "--redis-ca", pki.key);
    assert.equal(notPem.code, 1);
    assert.match(notPem.first, /--redis-ca ".*" holds no PEM certificate/);
    const plain = redis.url.replace("rediss:", "redis:");
    const notTls = await refused("--redis", plain, "--redis-ca", pki.ca);
    assert.equal(notTls.code, 2);
    assert.match(notTls.first, /--redis-ca needs a rediss:\/\/ URL/);
    const noRedis = await refused("--redis-ca", pki.ca);
    assert.equal(noRedis.code, 2);
    assert.match(noRedis.first, /--redis-ca needs --redis/);
  },
});

Deno.test({
  name:
    "queue-server --redis stops on SIGTERM with exit 0 while Redis is down, ending its waiting Pop with UNAVAILABLE",
  ignore: REDIS_MISSING,
  async fn() {
    await using redis = await startRedis();
    await using a = await startOnRedis(3, redis.url);
    using waiting = new WaitingClient(a.port);
    const waitingPop = outcome(waiting.pop({ wait_ms: 60_000 }).answer);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await redis.kill();
    assert.equal(await within(waitingPop, "the waiting Pop"), "UNAVAILABLE");
    a.server.kill("SIGTERM");
    assert.equal((await a.server.exit()).code, 0);
  },
});
