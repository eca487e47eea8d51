/**
 * The `redis` section of the benchmark: queue-servers sharing one Redis
 * against the in-memory server, and Redis's memory per item.
 *
 * @module
 */
import {
  h2loadRun,
  hasH2load,
  queueCoreBytesPerItem,
  startQueueServer,
} from "./queue_bench.ts";
import { redisBytesPerItem, sharedThroughput } from "./redis_bench.ts";
import { repeat, type Report } from "./report.ts";
import { median, spread, unit } from "./stats.ts";

/** Measures the Redis store's figures and adds them to `report`. */
export async function redisFigures(report: Report): Promise<void> {
  if (!hasH2load()) {
    throw new Error(
      "the redis section needs h2load (apt-get install nghttp2-client)",
    );
  }
  const calls = 40_000;
  const rate = (r: { callsPerSecond: number }) => r.callsPerSecond;
  console.error("in-memory put+pop c=64");
  const memory = await repeat("in-memory", async () => {
    await using server = await startQueueServer(1_000_000);
    return await h2loadRun(server, "put+pop", 64, calls);
  });
  const shared = [];
  for (const servers of [1, 2, 3]) {
    console.error(`${servers} queue-servers on one Redis, put+pop`);
    shared.push(
      await repeat(
        `${servers} servers`,
        () => sharedThroughput(servers, calls),
      ),
    );
  }
  const [one, two, three] = shared as [
    typeof shared[0],
    typeof shared[0],
    typeof shared[0],
  ];
  const cpu = (results: typeof one) =>
    `queue-servers ${
      spread(results.map((r) => r.serverCpuMicros), unit(3, " µs"))
    }, redis-server ${
      spread(results.map((r) => r.redisCpuMicros), unit(3, " µs"))
    } per call`;
  report.row(
    `redis: 1 queue-server on Redis, put+pop c=64, calls/s (h2load, ${calls} calls)`,
    spread(one.map(rate), unit(3, "/s")),
    `in-memory ${spread(memory.map(rate), unit(3, "/s"))}`,
    unit(3, "%")(100 * median(one.map(rate)) / median(memory.map(rate))),
    ">= 70%",
  );
  for (const [servers, results] of [[1, one], [2, two], [3, three]] as const) {
    report.row(
      `redis: ${servers} queue-server${
        servers > 1 ? "s" : ""
      } sharing one Redis, put+pop, calls/s; CPU per call`,
      spread(results.map(rate), unit(3, "/s")),
      cpu(results),
      servers === 1 ? "" : unit(3, "x")(
        median(results.map(rate)) / median(one.map(rate)),
      ) + " of 1 server",
    );
  }
  report.row(
    "redis: in-memory server's CPU per put+pop call, same run",
    spread(memory.map((r) => r.serverCpuMicros), unit(3, " µs")),
  );

  console.error("Redis memory per item");
  const items = 100_000;
  const [redisBytes] = await repeat(
    "redis memory",
    () => redisBytesPerItem(items),
    1,
  );
  report.row(
    `redis: Redis used_memory per queued 16-byte item (${items} items)`,
    unit(3, " B")(redisBytes!),
    `in-memory queue core ${
      unit(3, " B")(queueCoreBytesPerItem(items))
    } per item (heap and slabs)`,
  );
}
