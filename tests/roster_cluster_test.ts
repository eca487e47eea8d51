/**
 * End-to-end tests of several `roster-server`s sharing one roster through a
 * real `redis-server` (`--redis`), run as subprocesses.
 */
import assert from "node:assert/strict";
import {
  connectRaw,
  deadPort,
  isSubsequence,
  joinRoster,
  type RawClient,
  spawnProgram,
  type StartedServer,
  startRosterNodes,
  within,
} from "./harness.ts";
import { REDIS_MISSING, type RedisServer, startRedis } from "./redis.ts";
import { makeTestPki } from "./tls_fixtures.ts";

/**
 * Starts `count` roster servers sharing `redis` with lease TTL `ttl` (s):
 * the default of 3 s, so a busy test machine never fences a node, or 1 s
 * where a test waits for a lease to run out.
 */
function startNodes(
  redis: RedisServer,
  count: number,
  ttl = 3,
): Promise<StartedServer[]> {
  return startRosterNodes(redis.url, count, ["--node-ttl", String(ttl)]);
}

/** Disposes every one of `resources`, last first. */
async function disposeAll(resources: AsyncDisposable[]): Promise<void> {
  for (const resource of resources.reverse()) {
    await resource[Symbol.asyncDispose]();
  }
}

/** The roster line of `names`, sorted by code point. */
function rosterLine(names: Iterable<string>): string {
  return [...names].sort((a, b) => (a < b ? -1 : 1)).join(" ");
}

/**
 * Takes lines from `client` until the last one taken equals `line` (at once
 * if it already does and no other line waits); rejects after `ms`.
 */
async function waitForLine(
  client: RawClient,
  line: string,
  ms?: number,
): Promise<void> {
  const { lines } = client;
  if (lines.seen.at(-1) === line && lines.queued === 0) return;
  while (true) {
    const next = await lines.next(ms);
    if (next === line) return;
    if (next === null) throw new Error(`Stream ended before "${line}"`);
  }
}

const test = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: REDIS_MISSING, fn });

test("roster cluster: clients of 3 nodes see each other join and leave", async () => {
  await using redis = await startRedis();
  const nodes = await startNodes(redis, 3);
  try {
    const [one, two, three] = nodes.map((node) => node.port) as [
      number,
      number,
      number,
    ];
    await using greg = await joinRoster(one, "greg");
    await using bob = await joinRoster(two, "bob");
    assert.equal(await greg.lines.next(), "bob greg");
    const vlad = await joinRoster(three, "vlad");
    assert.deepEqual(await greg.lines.take(1), ["bob greg vlad"]);
    assert.deepEqual(await bob.lines.take(1), ["bob greg vlad"]);
    await vlad[Symbol.asyncDispose]();
    assert.deepEqual(await greg.lines.take(1), ["bob greg"]);
    assert.deepEqual(await bob.lines.take(1), ["bob greg"]);
  } finally {
    await disposeAll(nodes);
  }
});

test("roster cluster over rediss:// with --redis-ca: clients of 2 nodes see each other", async () => {
  await using pki = await makeTestPki();
  await using redis = await startRedis({
    tls: { cert: pki.cert, key: pki.key, ca: pki.ca },
  });
  const nodes = await startRosterNodes(redis.url, 2, ["--redis-ca", pki.ca]);
  try {
    const [one, two] = nodes.map((node) => node.port) as [number, number];
    await using greg = await joinRoster(one, "greg");
    await using bob = await joinRoster(two, "bob");
    await waitForLine(greg, "bob greg");
    await waitForLine(bob, "bob greg");
  } finally {
    await disposeAll(nodes);
  }
});

test("roster cluster reproduces the seed's example with greg, bob and vlad on 3 nodes", async () => {
  await using redis = await startRedis();
  const nodes = await startNodes(redis, 3);
  try {
    const [one, two, three] = nodes.map((node) => `127.0.0.1:${node.port}`);
    await using greg = spawnProgram("roster-client", [one!, "greg"]);
    assert.deepEqual(await greg.stdout.take(1), ["greg"]);
    await using bob = spawnProgram("roster-client", [two!, "bob"]);
    assert.deepEqual(await bob.stdout.take(1), ["bob greg"]);
    await using vlad = spawnProgram("roster-client", [three!, "vlad"]);
    assert.deepEqual(await vlad.stdout.take(1), ["bob greg vlad"]);
    assert.deepEqual(await greg.stdout.take(2), ["bob greg", "bob greg vlad"]);
    assert.deepEqual(await bob.stdout.take(1), ["bob greg vlad"]);
    bob.kill("SIGINT");
    assert.equal((await bob.exit()).code, 0);
    assert.deepEqual(await greg.stdout.take(1), ["greg vlad"]);
    assert.deepEqual(await vlad.stdout.take(1), ["greg vlad"]);
  } finally {
    await disposeAll(nodes);
  }
});

test("roster cluster: of 3 clients racing for one name on 3 nodes, exactly one wins, 50 times", async () => {
  await using redis = await startRedis();
  const nodes = await startNodes(redis, 3);
  const clients: RawClient[] = [];
  try {
    for (let round = 0; round < 50; round++) {
      const name = `race${round}`;
      const racers = await Promise.all(
        nodes.map((node) => connectRaw(node.port, name + "\n")),
      );
      clients.push(...racers);
      const firsts = await Promise.all(racers.map((r) => r.lines.next()));
      const winners = firsts.filter((line) => !line?.startsWith("error:"));
      assert.equal(winners.length, 1, `round ${round}: ${firsts.join(" | ")}`);
      assert.ok(winners[0]!.split(" ").includes(name));
      for (const line of firsts) {
        if (line?.startsWith("error:")) {
          assert.equal(line, `error: name "${name}" is already connected`);
        }
      }
    }
  } finally {
    await disposeAll(clients);
    await disposeAll(nodes);
  }
});

test("roster cluster: 200 clients joining and leaving at random on 3 nodes all see one order and end with one roster", async () => {
  await using redis = await startRedis();
  const nodes = await startNodes(redis, 3);
  const observers: RawClient[] = [];
  const clients = new Map<string, RawClient>();
  const gone: RawClient[] = [];
  try {
    for (const [index, node] of nodes.entries()) {
      observers.push(await joinRoster(node.port, `observer${index}`));
      for (const earlier of observers.slice(0, -1)) {
        await waitForLine(
          earlier,
          rosterLine(
            observers.map((_, i) => `observer${i}`),
          ),
        );
      }
    }
    // Random joins in waves of 20, each wave followed by random leaves.
    let seed = 42;
    const random = () =>
      (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let wave = 0; wave < 10; wave++) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const name = `c${wave * 20 + i}`;
          const node = nodes[Math.floor(random() * nodes.length)]!;
          clients.set(name, await joinRoster(node.port, name));
        }),
      );
      for (const [name, client] of clients) {
        if (random() < 0.3) {
          clients.delete(name);
          gone.push(client);
          client.conn.close();
        }
      }
    }
    const names = [
      ...clients.keys(),
      ...observers.map((_, i) => `observer${i}`),
    ];
    const final = rosterLine(names);
    for (const observer of observers) await waitForLine(observer, final);
    for (const client of clients.values()) await waitForLine(client, final);

    const sequence = observers[0]!.lines.seen;
    for (const observer of observers.slice(1)) {
      const seen = observer.lines.seen;
      assert.deepEqual(seen, sequence.slice(sequence.length - seen.length));
    }
    for (const client of [...clients.values(), ...gone]) {
      assert.ok(
        isSubsequence(client.lines.seen, sequence),
        `${client.lines.seen[0]} ... is not a subsequence of the order`,
      );
    }
  } finally {
    await disposeAll([...gone, ...clients.values(), ...observers]);
    await disposeAll(nodes);
  }
});

test("roster cluster: a node stopped by SIGTERM takes its names out within 1 s", async () => {
  await using redis = await startRedis();
  const nodes = await startNodes(redis, 2);
  try {
    const [staying, leaving] = nodes as [StartedServer, StartedServer];
    await using greg = await joinRoster(staying.port, "greg");
    await using bob = await joinRoster(leaving.port, "bob");
    await using vlad = await joinRoster(leaving.port, "vlad");
    await waitForLine(greg, "bob greg vlad");
    leaving.server.kill("SIGTERM");
    assert.equal((await leaving.server.exit()).code, 0);
    await bob.lines.rest();
    await vlad.lines.rest();
    // Both leaves follow within a second of the exit.
    await waitForLine(greg, "greg", 1000);
  } finally {
    await disposeAll(nodes);
  }
});

test("roster cluster: a node killed with SIGKILL loses its names within TTL + 1 s, which others may then take", async () => {
  await using redis = await startRedis();
  const nodes = await startNodes(redis, 2, 1);
  try {
    const [staying, dying] = nodes as [StartedServer, StartedServer];
    await using greg = await joinRoster(staying.port, "greg");
    await using _bob = await joinRoster(dying.port, "bob");
    await waitForLine(greg, "bob greg");
    dying.server.kill("SIGKILL");
    await dying.server.exit();
    await waitForLine(greg, "greg", 2000);
    await using _bob2 = await joinRoster(staying.port, "bob");
    assert.equal(await greg.lines.next(), "bob greg");
  } finally {
    await disposeAll(nodes);
  }
});

test("roster cluster fences a node paused past its TTL: its clients get an error and it rejoins without duplicates", async () => {
  await using redis = await startRedis();
  const nodes = await startNodes(redis, 2, 1);
  try {
    const [staying, paused] = nodes as [StartedServer, StartedServer];
    await using greg = await joinRoster(staying.port, "greg");
    await using bob = await joinRoster(paused.port, "bob");
    await waitForLine(greg, "bob greg");
    paused.server.kill("SIGSTOP");
    await waitForLine(greg, "greg", 2000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    paused.server.kill("SIGCONT");
    const rest = await bob.lines.rest();
    assert.equal(rest.length, 1, JSON.stringify(rest));
    assert.match(rest[0]!, /^error: server lost the roster cluster/);
    // Once rejoined, the node serves again, and bob is there once.
    const again = await within(
      (async () => {
        while (true) {
          const client = await connectRaw(paused.port, "bob\n");
          const first = await client.lines.next();
          if (first === "bob greg") return client;
          await client[Symbol.asyncDispose]();
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })(),
      "the paused node to rejoin",
    );
    await using _again = again;
    assert.equal(await greg.lines.next(), "bob greg");
    assert.match(
      (await paused.server.stderr.take(3)).join("\n"),
      /cluster: cut off/,
    );
  } finally {
    await disposeAll(nodes);
  }
});

for (const persistent of [false, true]) {
  test(
    `roster cluster converges after Redis is killed and restarted ${
      persistent ? "with" : "without"
    } its data`,
    async () => {
      await using redis = await startRedis({ persistent });
      const nodes = await startNodes(redis, 3);
      const clients: RawClient[] = [];
      try {
        for (const [index, node] of nodes.entries()) {
          clients.push(await joinRoster(node.port, `n${index}a`));
          clients.push(await joinRoster(node.port, `n${index}b`));
        }
        const full = rosterLine(["n0a", "n0b", "n1a", "n1b", "n2a", "n2b"]);
        for (const client of clients) await waitForLine(client, full);
        await redis.restart();
        // Every node keeps its clients and the roster is whole again; then a
        // new join reaches everyone, once.
        await using late = await joinRoster(nodes[0]!.port, "late");
        const withLate = rosterLine([
          "late",
          "n0a",
          "n0b",
          "n1a",
          "n1b",
          "n2a",
          "n2b",
        ]);
        for (const client of [...clients, late]) {
          await waitForLine(client, withLate);
        }
        await using dup = await connectRaw(nodes[1]!.port, "n0a\n");
        assert.equal(
          await dup.lines.next(),
          'error: name "n0a" is already connected',
        );
      } finally {
        await disposeAll(clients);
        await disposeAll(nodes);
      }
    },
  );
}

test("roster cluster: a Redis pause shorter than the TTL makes no client leave", async () => {
  await using redis = await startRedis();
  const nodes = await startNodes(redis, 2);
  try {
    const [one, two] = nodes as [StartedServer, StartedServer];
    await using greg = await joinRoster(one.port, "greg");
    await using bob = await joinRoster(two.port, "bob");
    await waitForLine(greg, "bob greg");
    redis.signal("SIGSTOP");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    redis.signal("SIGCONT");
    await using _vlad = await joinRoster(two.port, "vlad");
    // The next line either client gets is vlad's join: nothing in between.
    assert.equal(await greg.lines.next(), "bob greg vlad");
    assert.equal(await bob.lines.next(), "bob greg vlad");
  } finally {
    await disposeAll(nodes);
  }
});

test("roster cluster: a node stopped while Redis is down still closes its clients and exits 0", async () => {
  await using redis = await startRedis();
  const [node] = await startNodes(redis, 1);
  try {
    await using greg = await joinRoster(node!.port, "greg");
    await redis.kill();
    node!.server.kill("SIGTERM");
    assert.equal((await node!.server.exit()).code, 0);
    assert.deepEqual(await greg.lines.rest(), []);
  } finally {
    await node![Symbol.asyncDispose]();
  }
});

Deno.test("roster-server with an unreachable --redis says so in one line and exits 1", async () => {
  await using server = spawnProgram("roster-server", [
    "0",
    "--redis",
    `redis://127.0.0.1:${deadPort()}`,
    "--node-ttl",
    "1",
  ]);
  assert.equal((await server.exit()).code, 1);
  const stderr = await server.stderr.rest();
  assert.equal(stderr.length, 1, stderr.join("\n"));
  assert.match(
    stderr[0]!,
    /^error: Cannot use Redis at "redis:\/\/127\.0\.0\.1:\d+": /,
  );
});

Deno.test("roster-server refuses --cluster or --node-ttl without --redis, and a bad --redis URL", async () => {
  for (
    const args of [
      ["0", "--cluster", "x"],
      ["0", "--node-ttl", "2"],
      ["0", "--redis", "http://x"],
      ["0", "--redis", "redis://127.0.0.1:1", "--cluster", "a b"],
      ["0", "--redis", "redis://127.0.0.1:1", "--node-ttl", "0"],
    ]
  ) {
    await using server = spawnProgram("roster-server", args);
    assert.equal((await server.exit()).code, 2, args.join(" "));
    assert.match((await server.stderr.rest())[0]!, /^error: /);
  }
});
