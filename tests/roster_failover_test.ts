/**
 * End-to-end tests of `roster-client --reconnect`: failing over between the
 * servers of a cluster, and coming back to a restarted server.
 */
import assert from "node:assert/strict";
import {
  joinRoster,
  type RawClient,
  spawnProgram,
  startRosterNodes,
  startServer,
} from "./harness.ts";
import { REDIS_MISSING, startRedis } from "./redis.ts";

/** Reads `client`'s lines until one equals `line`. */
async function waitForLine(
  client: { lines: RawClient["lines"] },
  line: string,
) {
  for (let got = await client.lines.next(); got !== line;) {
    assert.notEqual(got, null, `ended before "${line}"`);
    got = await client.lines.next();
  }
}

Deno.test({
  name:
    "roster-client --reconnect: after kill -9 of its server, carol is back in the cluster's roster within the TTL + 2 s",
  ignore: REDIS_MISSING,
  async fn() {
    await using redis = await startRedis();
    const nodes = await startRosterNodes(redis.url, 3, ["--node-ttl", "3"]);
    try {
      const [a, b, c] = nodes.map((node) => `127.0.0.1:${node.port}`);
      await using carol = spawnProgram("roster-client", [
        `${a},${b},${c}`,
        "carol",
        "--reconnect",
      ]);
      assert.equal(await carol.stdout.next(), "carol");
      await using watch = await joinRoster(nodes[1]!.port, "watch");
      assert.equal(watch.lines.seen[0], "carol watch");

      const killed = performance.now();
      nodes[0]!.server.kill("SIGKILL");
      await waitForLine(watch, "watch");
      await waitForLine(watch, "carol watch");
      const back = performance.now() - killed;
      assert.ok(back < 3000 + 2000, `carol came back after ${back} ms`);
      // Her client prints rosters again, and said once that it reconnected.
      for (let line = await carol.stdout.next(); line !== "carol watch";) {
        assert.notEqual(line, null);
        line = await carol.stdout.next();
      }
      assert.match(
        await carol.stderr.next() ?? "",
        /^roster-client: rejoined as carol on "127\.0\.0\.1:\d+" \(lost "127\.0\.0\.1:\d+": /,
      );
      carol.kill("SIGINT");
      assert.equal((await carol.exit()).code, 0);
      assert.equal(carol.stderr.queued, 0, "one line per reconnect");
    } finally {
      for (const node of nodes) await node[Symbol.asyncDispose]();
    }
  },
});

Deno.test("roster-client --reconnect comes back to its one server after a SIGTERM and a restart on the same port", async () => {
  const first = await startServer("roster-server", [
    "0",
    "--host",
    "127.0.0.1",
  ]);
  const { port } = first;
  await using carol = spawnProgram("roster-client", [
    `127.0.0.1:${port}`,
    "carol",
    "--reconnect",
  ]);
  try {
    assert.equal(await carol.stdout.next(), "carol");
    first.server.kill("SIGTERM");
    assert.equal((await first.server.exit()).code, 0);
  } finally {
    await first[Symbol.asyncDispose]();
  }
  // Down for a moment: the client backs off and tries again.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  await using second = await startServer("roster-server", [
    String(port),
    ...["--host", "127.0.0.1"],
  ]);
  assert.equal(await carol.stdout.next(), "carol");
  assert.match(
    await carol.stderr.next() ?? "",
    /^roster-client: rejoined as carol/,
  );
  await using _bob = await joinRoster(second.port, "bob");
  assert.equal(await carol.stdout.next(), "bob carol");
  carol.kill("SIGINT");
  assert.equal((await carol.exit()).code, 0);
});

Deno.test("roster-client --reconnect still exits 1 when its first connection is refused", async () => {
  await using started = await startServer("roster-server", [
    ...["0", "--host", "127.0.0.1"],
  ]);
  await using taken = await joinRoster(started.port, "carol");
  await using carol = spawnProgram("roster-client", [
    `127.0.0.1:${started.port}`,
    "carol",
    "--reconnect",
  ]);
  assert.equal((await carol.exit()).code, 1);
  assert.deepEqual(await carol.stderr.rest(), [
    'error: name "carol" is already connected',
  ]);
  void taken;
});
