/**
 * `deno task bench [roster | queue]`: measures the roster and queue servers
 * side by side with references and the Python peers taken in the same run,
 * prints one Markdown table and, when it measured both parts, writes it to
 * `bench/RESULTS.md` with the date, Deno version and machine.
 *
 * @module
 */
import { cpus, totalmem } from "node:os";
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
import { pinLoad } from "./cpu_pin.ts";
import { hasPeer } from "./peers.ts";
import {
  churn,
  type ChurnResult,
  fanoutFloorMicros,
  latencyPercentiles,
  loopbackBytesPerSecond,
  silentConnectionBytes,
  storm,
  type StormResult,
} from "./roster_bench.ts";
import { median, spread, unit } from "./stats.ts";

/** One row of the report. */
interface Row {
  figure: string;
  value: string;
  reference: string;
  ratio: string;
  target: string;
}

const RUNS = 3;
const rows: Row[] = [];
const MB = 1e6;

async function repeat<T>(what: string, run: () => Promise<T>, runs = RUNS) {
  const results: T[] = [];
  for (let i = 0; i < runs; i++) {
    console.error(`  ${what}: run ${i + 1} of ${runs}`);
    results.push(await run());
  }
  return results;
}

function row(
  figure: string,
  value: string,
  reference = "",
  ratio = "",
  target = "",
) {
  rows.push({ figure, value, reference, ratio, target });
}

const ms = unit(3, " ms");
const seconds = unit(3, " s");

/** Formats the ratio of two medians. */
function ratio(ours: readonly number[], reference: readonly number[]): string {
  return unit(2, "x")(median(ours) / median(reference));
}

/**
 * Runs `ours` and `peer` in turn, `RUNS` times each, so both see the same
 * machine; `peer` is skipped (empty results) when the Python peer is missing.
 */
async function sideBySide<T>(
  what: string,
  withPeer: boolean,
  ours: () => Promise<T>,
  peer: () => Promise<T>,
  runs = RUNS,
): Promise<[T[], T[]]> {
  const results: [T[], T[]] = [[], []];
  for (let i = 0; i < runs; i++) {
    console.error(`  ${what}: run ${i + 1} of ${runs}`);
    results[0].push(await ours());
    if (withPeer) results[1].push(await peer());
  }
  return results;
}

async function rosterFigures(): Promise<void> {
  const withPeer = await hasPeer("task2/server.py");
  if (!withPeer) {
    console.error("the Python roster peer is missing: no peer figures");
  }
  const peerOr = (samples: number[], format: (value: number) => string) =>
    samples.length
      ? `Python peer ${spread(samples, format)}`
      : "Python peer not run";
  const peerRatio = (ours: number[], peer: number[]) =>
    peer.length ? `${ratio(ours, peer)} peer` : "";

  console.error("loopback reference");
  const loopback = await repeat("loopback", () => loopbackBytesPerSecond());
  const loopbackRate = median(loopback);
  row(
    "loopback reference (1 sender, 64 KiB writes, 2 s)",
    spread(loopback.map((r) => r / MB), unit(3, " MB/s")),
  );

  let storms1000: [StormResult[], StormResult[]] = [[], []];
  for (const count of [100, 300, 1000]) {
    console.error(`storm ${count}`);
    const results = await sideBySide(
      `storm ${count}`,
      withPeer && count >= 300,
      () => storm(count),
      () => storm(count, "python"),
    );
    if (count === 1000) storms1000 = results;
    const [ours, peer] = results;
    const time = (r: StormResult) => r.seconds;
    const bound = (r: { bytes: number }) => r.bytes / loopbackRate;
    row(
      `roster storm N=${count}: wall time to full roster everywhere`,
      spread(ours.map(time), seconds),
      [
        ...(count >= 300 ? [peerOr(peer.map(time), seconds)] : []),
        `loopback bound ${spread(ours.map(bound), seconds)}`,
      ].join("; "),
      [
        peerRatio(ours.map(time), peer.map(time)),
        `${spread(ours.map((r) => r.seconds / bound(r)), unit(2, "x"))} bound`,
      ].filter(Boolean).join("; "),
      count >= 300 ? "<= 0.5x peer" : "",
    );
    row(
      `roster storm N=${count}: bytes delivered; server CPU per MB`,
      `${spread(ours.map((r) => r.bytes / MB), unit(3, " MB"))}; ${
        spread(
          ours.map((r) => r.serverCpuSeconds * 1000 / (r.bytes / MB)),
          ms,
        )
      }/MB`,
      [
        ...(peer.length
          ? [
            `Python peer ${
              spread(peer.map((r) => r.bytes / MB), unit(3, " MB"))
            }, server CPU ${
              spread(peer.map((r) => r.serverCpuSeconds), seconds)
            } (ours ${spread(ours.map((r) => r.serverCpuSeconds), seconds)})`,
          ]
          : []),
        `generator CPU ${
          spread(ours.map((r) => r.generatorCpuSeconds), seconds)
        }`,
      ].join("; "),
    );
  }

  console.error("silent connections");
  const silent = await repeat("1000 silent", () => silentConnectionBytes(1000));
  const silentKiB = spread(silent.map((r) => r / 1024), unit(3, " KiB"));
  console.error("idle 10000");
  // One at a time, each of 10,000 joins would send the whole roster to every
  // client: 100 at a time, the server coalesces them and the run stays short.
  const storms10000 = await repeat(
    "storm 10000",
    () => storm(10_000, "roster-server", 100),
    1,
  );
  const kib = unit(3, " KiB");
  const perClient = (results: StormResult[]) =>
    results.map((r) => r.rssPerClient / 1024);
  {
    const [ours, peer] = storms1000;
    row(
      `roster idle N=1000: server RSS growth per client after a storm, all holding the final roster (ours joined in ${
        spread(ours.map((r) => r.seconds), seconds)
      })`,
      spread(perClient(ours), kib),
      `${
        peerOr(perClient(peer), kib)
      }; connections that never send a name: ${silentKiB} each`,
      peerRatio(perClient(ours), perClient(peer)),
      "<= 1.0x peer (stretch 10 KiB)",
    );
  }
  row(
    `roster idle N=10000: server RSS growth per client after a storm of joins 100 at a time, all holding the final roster (joined in ${
      spread(storms10000.map((r) => r.seconds), seconds)
    })`,
    spread(perClient(storms10000), kib),
    "Python peer not run: without coalescing its 10,000 joins would send about 3 TB",
    "",
    "<= N=1000 peer (stretch 10 KiB)",
  );

  console.error("churn 1000");
  const [churns, peerChurns] = await sideBySide(
    "churn",
    withPeer,
    () => churn(1000, { cycles: 50 }),
    () => churn(1000, { cycles: 50, peer: "python" }),
  );
  const p50 = (r: ChurnResult) => latencyPercentiles(r)[0];
  const p99 = (r: ChurnResult) => latencyPercentiles(r)[1];
  row(
    "roster churn N=1000, K=50: latency p50 / p99 until every reader has the roster",
    `${spread(churns.map(p50), ms)} / ${spread(churns.map(p99), ms)}`,
    peerChurns.length
      ? `Python peer ${spread(peerChurns.map(p50), ms)} / ${
        spread(peerChurns.map(p99), ms)
      }`
      : "Python peer not run",
    peerRatio(churns.map(p50), peerChurns.map(p50)),
    "p50 <= 1.0x peer",
  );
  // The churn lines carry 1000 names of 7-9 bytes: about 10 KB each.
  const floor = await repeat(
    "fan-out floor",
    () => fanoutFloorMicros(1000, 10_000, 50),
  );
  // Microseconds per recipient over 1000 recipients are ms per change.
  const floorPerChange = floor.map((us) => us * 1000 / 1000);
  row(
    "floor: a bare Deno process writing one 10 KB line to each of 1000 sockets, CPU per round",
    spread(floorPerChange, ms),
    `${spread(floor, unit(3, " us"))} per recipient`,
  );
  const cpu = (r: ChurnResult) => r.serverCpuMsPerEvent;
  row(
    "roster churn N=1000: server CPU per change (join or leave)",
    spread(churns.map(cpu), ms),
    `${peerOr(peerChurns.map(cpu), ms)}; floor ${spread(floorPerChange, ms)}`,
    [
      peerRatio(churns.map(cpu), peerChurns.map(cpu)),
      `${ratio(churns.map(cpu), floorPerChange)} floor`,
    ].filter(Boolean).join("; "),
    "<= 1.0x peer, or <= 1.1x floor",
  );

  console.error("stalled readers");
  const plain = await repeat(
    "200 readers",
    () => churn(200, { durationMs: 5000 }),
  );
  const stalled = await repeat(
    "200 readers + 10 stalled",
    () => churn(200, { durationMs: 5000, stalled: 10 }),
  );
  row(
    "roster stalled: readers' churn p99 with 10 stalled clients",
    spread(stalled.map(p99), ms),
    `without stalled ${spread(plain.map(p99), ms)}`,
    ratio(stalled.map(p99), plain.map(p99)),
    "<= 1.5x",
  );
  row(
    "roster stalled: server RSS growth per stalled client over 5 s of churn",
    spread(stalled.map((r) => r.rssGrowth / 10 / 1024 / 1024), unit(3, " MiB")),
    `without stalled ${
      spread(plain.map((r) => r.rssGrowth / 1024 / 1024), unit(3, " MiB"))
    } total`,
    "",
    "<= 2 MiB",
  );
}

async function queueFigures(): Promise<void> {
  const useH2load = await hasH2load();
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
    row(
      `queue ${workload} c=${concurrency}: calls/s (${generator}, ${calls} calls)`,
      spread(queue.map(rate), unit(3, "/s")),
      `no-op grpc-js server ${spread(noop.map(rate), unit(3, "/s"))}`,
      unit(3, "%")(100 * median(queue.map(rate)) / median(noop.map(rate))),
      ">= 95%",
    );
    row(
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
    row(
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
  row(
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
  row(
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
  row("queue-client one-shot `size`: wall time", spread(startups, ms));
}

function table(): string {
  const lines = [
    "| figure | value: median (min-max) | reference, same run | ratio | target |",
    "| --- | --- | --- | --- | --- |",
    ...rows.map((r) =>
      `| ${r.figure} | ${r.value} | ${r.reference} | ${r.ratio} | ${r.target} |`
    ),
  ];
  return lines.join("\n");
}

const USAGE = `Usage: deno task bench [roster | queue]

Measures the roster and queue servers side by side with references and the
Python peers, prints one Markdown table and writes it to bench/RESULTS.md.
With "roster" or "queue", measures only that part and only prints its table.
Servers run on core 0 and the load on core 1 (taskset), when there are two.`;

async function main(): Promise<number> {
  const [part, ...rest] = Deno.args;
  if (
    rest.length || (part !== undefined && !["roster", "queue"].includes(part))
  ) {
    console.error(USAGE);
    return 2;
  }
  const started = new Date();
  const pinned = await pinLoad();
  if (part !== "queue") await rosterFigures();
  if (part !== "roster") await queueFigures();
  const report = table();
  console.log(report);
  if (part) return 0;
  const header = [
    "# Benchmark results",
    "",
    `Run ${started.toISOString()} with \`deno task bench\`: Deno ${Deno.version.deno}, ` +
    `${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"}), ` +
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB. Servers ran as ` +
    (Deno.env.get("BIN_DIR")
      ? "compiled executables"
      : "`deno run` with the build's permissions and V8 options") +
    (pinned
      ? ", pinned to core 0, with the load generator on core 1"
      : ", unpinned") +
    ". Each figure is the median of 3 runs with min-max; idle N=10000 and queue memory ran once. " +
    "The Python peers are the seed's design written plainly (`../shared/reference/`).",
    "",
    "",
  ].join("\n");
  await Deno.writeTextFile(
    new URL("./RESULTS.md", import.meta.url),
    header + report + "\n",
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main());
