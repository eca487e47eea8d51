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
  fillFigures,
  type FillResult,
  grpcJsRun,
  h2loadRun,
  hasH2load,
  isBuildV8Flags,
  type LoadResult,
  memoryPerItem,
  queueCoreBytesPerItem,
  startNoopServer,
  startQueueServer,
  type TargetServer,
  V8_OPTION_SETS,
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
    }; live data in the queue core (Utf8Queue, heap and slabs): ${
      bytes(queueCoreBytesPerItem(items))
    }; Redis ~20 B`,
    "",
    "<= 48 B",
  );

  console.error("client start-up");
  await using server = await startQueueServer(10);
  const startups = await repeat("start-up", () => clientStartupMs(server));
  report.row("queue-client one-shot `size`: wall time", spread(startups, ms));
}

/**
 * The `v8` section: queue-server with each of {@linkcode V8_OPTION_SETS},
 * side by side in one run (issue 19's targets): RSS growth per queued
 * 16-byte item at 1M and 3M items, the Put rate while filling against into
 * an empty queue, RSS after fill, drain and fill again, and unary put+pop
 * against the no-op grpc-js server. The fills of both sets run at the same
 * time (their Put rates are each a share of the server core; compare the
 * ratios and the CPU per Put). Needs h2load. `BENCH_V8_TO_3M=0` skips
 * the stretch from 1M to 3M items (2M Puts per option set).
 */
export async function v8OptionFigures(report: Report): Promise<void> {
  if (!hasH2load()) throw new Error("h2load not found (nghttp2-client)");
  const to3M = Deno.env.get("BENCH_V8_TO_3M") !== "0";
  const sets = Object.entries(V8_OPTION_SETS);
  const label = (name: string, flags: readonly string[]) =>
    `${name}${isBuildV8Flags(flags) ? " [the build's]" : ""}`;
  const starter = (flags: readonly string[]) => (size: number) =>
    startQueueServer(size, ["--quiet"], flags);
  const calls = 40_000;
  const unary = new Map<string, LoadResult[]>(sets.map(([n]) => [n, []]));
  const noop: LoadResult[] = [];
  for (let i = 0; i < RUNS; i++) {
    console.error(`v8 put+pop c=64: run ${i + 1} of ${RUNS}`);
    for (const [name, flags] of sets) {
      await using server = await startQueueServer(10, ["--quiet"], flags);
      unary.get(name)!.push(await h2loadRun(server, "put+pop", 64, calls));
    }
    await using server = await startNoopServer();
    noop.push(await h2loadRun(server, "put+pop", 64, calls));
  }
  // The fills (millions of calls each) run at the same time, both servers
  // on the server core, so that both see the same machine even when other
  // work shares it; their CPU per Put does not depend on the share each got.
  console.error(`v8 fill 1M, drain, fill 1M${to3M ? ", to 3M" : ""}`);
  const fills = new Map<string, FillResult>(
    await Promise.all(
      sets.map(async ([name, flags]) =>
        [name, await fillFigures(starter(flags), to3M)] as const
      ),
    ),
  );

  const bytes = unit(3, " B");
  const rate = unit(3, "/s");
  const us = unit(3, " us");
  const mib = (value: number) => unit(4, " MiB")(value / 2 ** 20);
  const calls1 = (r: LoadResult) => r.callsPerSecond;
  const cpu = (r: LoadResult) => r.serverCpuMicros;
  for (const [name, flags] of sets) {
    const fill = fills.get(name)!;
    const results = unary.get(name)!;
    const who = label(name, flags);
    report.row(
      `v8 ${who}: RSS growth per queued 16-byte item at 1M / 3M items (h2load 1 connection x 32 streams, gross; 3M after the drain and refill)`,
      `${bytes(fill.perItemAt1M)} / ${
        fill.perItemAt3M === undefined ? "not run" : bytes(fill.perItemAt3M)
      }`,
      "Redis 18.5 B (issue 9); Python peer 91 B (issue 11)",
      "",
      "<= 32 B",
    );
    report.row(
      `v8 ${who}: Puts/s while filling 0 to 1M items (100k to 1M alone: ${
        rate(fill.largePutsPerSecond)
      }; server CPU per Put ${us(fill.fillCpuMicros)})`,
      rate(fill.fillPutsPerSecond),
      `into an empty queue (first 100k): ${rate(fill.emptyPutsPerSecond)}`,
      unit(3, "x")(fill.fillPutsPerSecond / fill.emptyPutsPerSecond),
      ">= 0.95x",
    );
    report.row(
      `v8 ${who}: RSS after fill 1M, drain 1M, fill 1M again`,
      mib(fill.secondFill),
      `after the first fill ${mib(fill.firstFill)}; drained ${
        mib(fill.drained)
      }`,
      unit(3, "x")(fill.secondFill / fill.firstFill),
      "<= 1.1x",
    );
    report.row(
      `v8 ${who}: unary put+pop c=64, calls/s (h2load, ${calls} calls; server CPU per call ${
        spread(results.map(cpu), us)
      })`,
      spread(results.map(calls1), rate),
      `no-op grpc-js server ${spread(noop.map(calls1), rate)} (CPU ${
        spread(noop.map(cpu), us)
      })`,
      unit(3, "x")(median(results.map(calls1)) / median(noop.map(calls1))),
      ">= 0.95x",
    );
  }
}
