/**
 * End-to-end tests of `--metrics` on both servers: scrapes after the seed's
 * sessions read with Python's Prometheus text parser, `/healthz` following
 * Redis and the cluster, and during shutdown.
 */
import assert from "node:assert/strict";
import { connectRaw, joinRoster, runToEnd } from "./harness.ts";
import {
  eventually,
  get,
  PARSER_MISSING,
  scrape,
  startMetered,
} from "./metrics_peers.ts";
import { REDIS_MISSING, startRedis } from "./redis.ts";
import { QUEUE_SEED_SESSION } from "./seed_sessions.ts";

Deno.test({
  name:
    "queue-server --metrics counts the seed's session exactly: 3 added, 1 full, 3 sizes, 1 peek item, 1 peek empty, 3 pops with an item, 1 empty",
  ignore: PARSER_MISSING,
  async fn() {
    await using started = await startMetered("queue-server", [
      ...["0", "3", "--host", "127.0.0.1"],
    ]);
    const input = QUEUE_SEED_SESSION.map(([line]) => `${line}\n`).join("");
    const { stdout } = await runToEnd(
      "queue-client",
      [`127.0.0.1:${started.port}`],
      { input },
    );
    assert.deepEqual(stdout, QUEUE_SEED_SESSION.map(([, answer]) => answer));
    const samples = await scrape(started.metricsUrl);
    const ops = (op: string, result: string) =>
      samples[`queue_operations_total{op="${op}",result="${result}"}`];
    assert.deepEqual(
      [
        ops("put", "added"),
        ops("put", "full"),
        ops("put", "error"),
        ops("size", "ok"),
        ops("peek", "item"),
        ops("peek", "empty"),
        ops("pop", "item"),
        ops("pop", "empty"),
        ops("pop", "error"),
      ],
      [3, 1, 0, 3, 1, 1, 3, 1, 0],
    );
    assert.equal(samples["queue_items"], 0);
    assert.equal(samples["queue_bytes"], 0);
    assert.equal(samples["queue_leased_items"], 0);
    assert.equal(samples["queue_capacity_items"], 3);
    assert.equal(samples["queue_capacity_bytes"], 1024 ** 3);
    assert.equal(samples['queue_waiting_calls{op="put"}'], 0);
    assert.equal(samples["queue_sessions"], 0);
    assert.equal(
      samples['queue_operation_duration_seconds_count{op="put"}'],
      4,
    );
    assert.ok(samples["process_resident_memory_bytes"]! > 10_000_000);
    assert.ok(samples["process_cpu_seconds_total"]! > 0);
    assert.equal(samples["process_open_fds"], undefined);
    assert.equal(samples["queue_store_up"], undefined);
    const health = await get(started.healthUrl);
    assert.deepEqual([health.status, health.body], [200, "ok\n"]);
    assert.equal((await get(started.metricsUrl + "x")).status, 404);
  },
});

Deno.test({
  name:
    "roster-server --metrics counts the seed's example: greg, bob, vlad join, bob leaves: 2 clients, 8 lines of 85 bytes",
  ignore: PARSER_MISSING,
  async fn() {
    await using started = await startMetered("roster-server", [
      ...["0", "--host", "127.0.0.1", "--quiet"],
    ]);
    await using greg = await joinRoster(started.port, "greg");
    const bob = await joinRoster(started.port, "bob");
    await using vlad = await joinRoster(started.port, "vlad");
    await bob[Symbol.asyncDispose]();
    assert.deepEqual(
      await greg.lines.take(3),
      ["bob greg", "bob greg vlad", "greg vlad"],
    );
    assert.equal(await vlad.lines.next(), "greg vlad");
    await using refused = await connectRaw(
      started.port,
      "greg\n",
    );
    assert.match((await refused.lines.next()) ?? "", /^error: name "greg"/);
    const samples = await scrape(started.metricsUrl);
    assert.deepEqual(
      [
        samples["roster_clients"],
        samples["roster_names"],
        samples["roster_joins_total"],
        samples["roster_leaves_total"],
        samples["roster_lines_sent_total"],
        samples["roster_bytes_sent_total"],
        samples["roster_lines_dropped_total"],
        samples['roster_refusals_total{reason="duplicate"}'],
        samples['roster_refusals_total{reason="invalid"}'],
        samples["roster_change_duration_seconds_count"],
      ],
      [2, 2, 3, 1, 8, 85, 0, 1, 0, 4],
    );
    assert.equal(samples["roster_cluster_up"], undefined);
    const health = await get(started.healthUrl);
    assert.deepEqual([health.status, health.body], [200, "ok\n"]);
  },
});

Deno.test({
  name:
    "queue-server --redis /healthz answers 503 while Redis is down and 200 once it is back; queue_store_up follows",
  ignore: REDIS_MISSING || PARSER_MISSING,
  async fn() {
    await using redis = await startRedis();
    await using started = await startMetered("queue-server", [
      ...["0", "3", "--host", "127.0.0.1", "--redis", redis.url],
    ]);
    assert.equal((await get(started.healthUrl)).status, 200);
    assert.equal((await scrape(started.metricsUrl))["queue_store_up"], 1);
    await redis.kill();
    await eventually("/healthz to answer 503", async () => {
      const { status, body } = await get(started.healthUrl);
      return status === 503 && body === "the queue's Redis is unreachable\n";
    });
    assert.equal((await scrape(started.metricsUrl))["queue_store_up"], 0);
    await redis.start();
    await eventually(
      "/healthz to answer 200",
      async () => (await get(started.healthUrl)).status === 200,
    );
    assert.equal((await scrape(started.metricsUrl))["queue_store_up"], 1);
  },
});

Deno.test({
  name:
    "roster-server --redis /healthz answers 503 once the node is cut off from its cluster and 200 once it serves again",
  ignore: REDIS_MISSING || PARSER_MISSING,
  async fn() {
    await using redis = await startRedis();
    await using started = await startMetered("roster-server", [
      ...["0", "--host", "127.0.0.1", "--quiet", "--redis", redis.url],
      ...["--node-ttl", "1"],
    ]);
    assert.equal((await get(started.healthUrl)).status, 200);
    assert.equal((await scrape(started.metricsUrl))["roster_cluster_up"], 1);
    await redis.kill();
    await eventually("/healthz to answer 503", async () => {
      const { status, body } = await get(started.healthUrl);
      return status === 503 && body === "cut off from the roster cluster\n";
    });
    assert.equal((await scrape(started.metricsUrl))["roster_cluster_up"], 0);
    await redis.start();
    await eventually(
      "/healthz to answer 200",
      async () => (await get(started.healthUrl)).status === 200,
    );
  },
});
