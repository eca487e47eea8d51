/**
 * The `queue` section of the benchmark: the queue server's throughput, CPU
 * and latency beside a no-op grpc-js server, its memory per item beside the
 * Python peer, and the client's start-up time.
 *
 * @module
 */
import { hasPeer } from "./peers.ts";
import {
  clientStartupMs,
  grpcJsRun,
  h2loadRun,
  hasH2load,
  type LoadResult,
  memoryPerItem,
  queueCoreHeapBytesPerItem,
  startNoopServer,
  startQueueServer,
  type TargetServer,
  type Workload,
} from "./queue_bench.ts";
import { ms, repeat, type Report, RUNS } from "./report.ts";
import { median, spread, unit } from "./stats.ts";

/** Measures the queue server's figures and adds them to `report`. */
export async function queueFigures(report: Report): Promise<void> {
  const useH2load = hasH2load();
  if (!useH2load) {
    console.error(
      "h2load not found (Debian: apt-get install nghttp2-client); " +
        "falling back to the grpc-js generator, which saturates first",
    );
  }
  const generator = useH2load ? "h2load" : "grpc-js";
  const drive = useH2load ? h2loadRun : grpcJsRun;
  const loads: [Workload, number, number][] = [
    ["put+pop", 1, useH2load ? 5000 : 2000],
    ["put+pop", 64, useH2load ? 40_000 : 10_000],
    ["size", 1, useH2load ? 5000 : 2000],
    ["size", 64, useH2load ? 40_000 : 10_000],
  ];
  for (const [workload, concurrency, calls] of loads) {
    console.error(`queue ${workload} c=${concurrency}`);
    const queue: LoadResult[] = [];
    const noop: LoadResult[] = [];
    for (let i = 0; i < RUNS; i++) {
      {
        await using server = await startQueueServer(1_000_000);
        queue.push(await drive(server, workload, concurrency, calls));
      }
      {
        await using server = await startNoopServer();
        noop.push(await drive(server, workload, concurrency, calls));
      }
    }
    const rate = (r: LoadResult) => r.callsPerSecond;
    const cpu = (r: LoadResult) => r.serverCpuMicros;
    report.row(
      `queue ${workload} c=${concurrency}: calls/s (${generator}, ${calls} calls)`,
      spread(queue.map(rate), unit(3, "/s")),
      `no-op grpc-js server ${spread(noop.map(rate), unit(3, "/s"))}`,
      unit(3, "%")(100 * median(queue.map(rate)) / median(noop.map(rate))),
      ">= 95%",
    );
    report.row(
      `queue ${workload} c=${concurrency}: server CPU per call (${generator})`,
      spread(queue.map(cpu), unit(3, " us")),
      `no-op ${spread(noop.map(cpu), unit(3, " us"))}`,
      unit(3, "x")(median(queue.map(cpu)) / median(noop.map(cpu))),
      concurrency === 64 ? "<= 160 us (stretch)" : "",
    );
  }

  console.error("queue latency");
  for (const workload of ["put+pop", "size"] as const) {
    const p50 = async (start: () => Promise<TargetServer>) => {
      await using server = await start();
      return (await grpcJsRun(server, workload, 1, 2000)).p50Ms ?? NaN;
    };
    const queue = await repeat("queue", () => p50(() => startQueueServer(10)));
    const noop = await repeat("no-op", () => p50(startNoopServer));
    report.row(
      `queue ${workload} c=1: p50 latency (grpc-js client, 2000 calls)`,
      spread(queue, ms),
      `no-op ${spread(noop, ms)}`,
      unit(3, "x")(median(queue) / median(noop)),
      "<= 1 ms",
    );
  }

  console.error("queue memory");
  const items = useH2load ? 1_000_000 : 100_000;
  const withPeer = await hasPeer("task1/server.py");
  const [memory] = await repeat(
    "memory",
    () => memoryPerItem(items, useH2load, withPeer),
    1,
  );
  const bytes = unit(3, " B");
  report.row(
    `queue memory: server RSS growth per Put of a 16-byte item (${items} Puts, gross; ${generator})`,
    bytes(memory!.perPut),
    memory!.peerPerPut === undefined
      ? "Python peer not run"
      : `Python peer ${bytes(memory!.peerPerPut)}, same method`,
    memory!.peerPerPut === undefined
      ? ""
      : unit(2, "x")(memory!.perPut / memory!.peerPerPut),
    "<= 1.0x peer (stretch 48 B)",
  );
  report.row(
    `queue memory: server RSS per queued 16-byte item (${items} Puts, less as many Size calls; ${generator})`,
    bytes(memory!.perPut - memory!.perSize),
    `RSS growth per Size ${
      bytes(memory!.perSize)
    }; live data in the queue core: ${
      bytes(queueCoreHeapBytesPerItem(items))
    }; Redis ~20 B`,
    "",
    "<= 48 B",
  );

  console.error("client start-up");
  await using server = await startQueueServer(10);
  const startups = await repeat("start-up", () => clientStartupMs(server));
  report.row("queue-client one-shot `size`: wall time", spread(startups, ms));
}
