/**
 * The `store` section of the benchmark: the durable store against the
 * in-memory one and the disk's fsync, restart time, memory bounds, waiters
 * and the kill -9 soak.
 *
 * @module
 */
import {
  grpcJsRun,
  h2loadRun,
  type LoadResult,
  startQueueServer,
} from "./queue_bench.ts";
import { ms, repeat, type Report, RUNS } from "./report.ts";
import { median, spread, unit } from "./stats.ts";
import {
  fsyncP50Ms,
  idleWaiterBytes,
  killSoak,
  maxBytesRss,
  restartMs,
  startDurableServer,
  storeWaiterBytes,
  wakeUpMs,
} from "./store_bench.ts";

/** Measures the stores' and the waiters' figures and adds them to `report`. */
export async function storeFigures(report: Report): Promise<void> {
  const MiB = 1024 * 1024;
  console.error("fsync");
  const fsync = await repeat("fsync", () => fsyncP50Ms());
  report.row(
    "disk: fsync'd SQLite commit of one row (WAL, synchronous=FULL), p50",
    spread(fsync, ms),
  );

  console.error("durable put+pop c=64");
  const calls = 40_000;
  const durable: LoadResult[] = [];
  const memory: LoadResult[] = [];
  const batches: { perSecond: number; size: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    {
      await using server = await startQueueServer(1_000_000);
      memory.push(await h2loadRun(server, "put+pop", 64, calls));
    }
    await using server = await startDurableServer(1_000_000);
    const result = await h2loadRun(server, "put+pop", 64, calls);
    durable.push(result);
    const { commits, operations } = await server.commits();
    batches.push({
      perSecond: commits / (calls / result.callsPerSecond),
      size: operations / commits,
    });
  }
  const rate = (r: LoadResult) => r.callsPerSecond;
  report.row(
    `store: durable put+pop c=64, calls/s (h2load, ${calls} calls)`,
    spread(durable.map(rate), unit(3, "/s")),
    `in-memory ${spread(memory.map(rate), unit(3, "/s"))}`,
    unit(3, "%")(100 * median(durable.map(rate)) / median(memory.map(rate))),
    ">= 80%",
  );
  report.row(
    "store: durable put+pop c=64, commits/s and mean batch (changes per commit)",
    `${spread(batches.map((b) => b.perSecond), unit(3, "/s"))}; ${
      spread(batches.map((b) => b.size), unit(3, ""))
    }`,
    `fsync p50 ${spread(fsync, ms)}`,
  );

  console.error("durable put+pop c=1");
  const p50 = async (durableServer: boolean) => {
    await using server = durableServer
      ? await startDurableServer(1000)
      : await startQueueServer(1000);
    return (await grpcJsRun(server, "put+pop", 1, 2000)).p50Ms ?? NaN;
  };
  const durableP50 = await repeat("durable", () => p50(true));
  const memoryP50 = await repeat("in-memory", () => p50(false));
  const bound = 2 * median(fsync) + median(memoryP50);
  report.row(
    "store: durable put+pop c=1, p50 latency (grpc-js client, 2000 calls)",
    spread(durableP50, ms),
    `in-memory ${
      spread(memoryP50, ms)
    }; bound 2 x fsync p50 + in-memory p50 = ${ms(bound)}`,
    unit(3, "x")(median(durableP50) / bound),
    "<= 1x bound",
  );

  console.error("restart with 1,000,000 items");
  const restarts = await repeat("restart", () => restartMs(1_000_000));
  report.row(
    "store: start to listening with 1,000,000 queued 16-byte items",
    spread(restarts.map((r) => r.durable), ms),
    `empty in-memory server ${spread(restarts.map((r) => r.memory), ms)}`,
    "",
    "<= 3000 ms",
  );

  console.error("--max-bytes 256MiB");
  const [rss] = await repeat("max-bytes", () => maxBytesRss(256 * MiB), 1);
  report.row(
    "store: peak RSS, --max-bytes 256MiB, 8 clients putting 1 MiB items until 64 refusals each",
    unit(4, " MiB")(rss!.peakRss / MiB),
    `idle ${unit(3, " MiB")(rss!.idleRss / MiB)}; ${rss!.accepted} accepted`,
    `overhead over 256 MiB: ${unit(3, " MiB")(rss!.peakRss / MiB - 256)}`,
    "<= 256 MiB + 256 MiB (README)",
  );

  console.error("waiters");
  const [perWaiter] = await repeat(
    "10000 waiters",
    () => idleWaiterBytes(10_000),
    1,
  );
  const storeShare = await storeWaiterBytes(10_000);
  report.row(
    "waiting: server RSS per idle waiting unary Pop, 10,000 waiting over 313 connections (all then served)",
    unit(3, " KiB")(perWaiter! / 1024),
    `the store's share: ${
      unit(3, " B")(storeShare)
    } of heap per waiter; the rest is grpc-js's call and connection`,
    "",
    "<= 2 KiB",
  );
  const wakes = await repeat("wake-up", () => wakeUpMs(300));
  report.row(
    "waiting: wake-up p50, Put sent to waiting Pop answered",
    spread(wakes.map((w) => w.wakeUp), ms),
    `unary Size round trip ${spread(wakes.map((w) => w.roundTrip), ms)}`,
    unit(3, "x")(
      median(wakes.map((w) => w.wakeUp)) /
        median(wakes.map((w) => w.roundTrip)),
    ),
    "<= 1.5x",
  );

  console.error("kill -9 soak");
  const soak = await killSoak(50);
  report.row(
    `store: kill -9 soak, ${soak.kills} kills under 8 clients`,
    `${soak.problems.length} problems: lost, resurrected, duplicated or reordered`,
    `${soak.acknowledged} puts acknowledged, ${soak.popped} popped, ${soak.survivors} found after restarts; ${soak.takenByUnansweredPops} taken by Pops the kill left unanswered`,
    "",
    "0 problems",
  );
  for (const problem of soak.problems) console.error(`  ${problem}`);
}
