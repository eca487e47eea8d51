/**
 * `deno task bench`: measures the roster and queue servers side by side with
 * references taken in the same run, prints one Markdown table and writes it
 * to `bench/RESULTS.md` with the date, Deno version and machine.
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
import {
  churn,
  fanoutFloorMicros,
  latencyPercentiles,
  loopbackBytesPerSecond,
  silentConnectionBytes,
  storm,
  type StormResult,
} from "./roster_bench.ts";
import {
  clusterChurn,
  clusterPercentiles,
  killedNodeSeconds,
} from "./roster_cluster_bench.ts";
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

async function rosterFigures(): Promise<void> {
  console.error("loopback reference");
  const loopback = await repeat("loopback", () => loopbackBytesPerSecond());
  const loopbackRate = median(loopback);
  row(
    "loopback reference (1 sender, 64 KiB writes, 2 s)",
    spread(loopback.map((r) => r / MB), unit(3, " MB/s")),
  );

  let storms1000: StormResult[] = [];
  for (const count of [100, 300, 1000]) {
    console.error(`storm ${count}`);
    const results = await repeat(`storm ${count}`, () => storm(count));
    if (count === 1000) storms1000 = results;
    const bound = (r: { bytes: number }) => r.bytes / loopbackRate;
    row(
      `roster storm N=${count}: wall time to full roster everywhere`,
      spread(results.map((r) => r.seconds), seconds),
      `loopback bound ${spread(results.map(bound), seconds)}`,
      `${spread(results.map((r) => r.seconds / bound(r)), unit(2, "x"))}`,
      count === 1000 ? "<= 2x bound" : "",
    );
    row(
      `roster storm N=${count}: bytes delivered; server CPU per MB`,
      `${spread(results.map((r) => r.bytes / MB), unit(3, " MB"))}; ${
        spread(
          results.map((r) => r.serverCpuSeconds * 1000 / (r.bytes / MB)),
          ms,
        )
      }/MB`,
      `generator CPU ${
        spread(results.map((r) => r.generatorCpuSeconds), seconds)
      }`,
      "",
      count === 1000 ? "<= 1 ms/MB" : "",
    );
  }

  console.error("silent connections");
  const silent = await repeat("1000 silent", () => silentConnectionBytes(1000));
  const silentKiB = spread(silent.map((r) => r / 1024), unit(3, " KiB"));
  console.error("idle 10000");
  const storms10000 = await repeat("storm 10000", () => storm(10_000), 1);
  for (
    const [count, results] of [[1000, storms1000], [
      10_000,
      storms10000,
    ]] as const
  ) {
    row(
      `roster idle N=${count}: server RSS per client after a storm, all holding the final roster (joined in ${
        spread(results.map((r) => r.seconds), seconds)
      })`,
      spread(results.map((r) => r.rssPerClient / 1024), unit(3, " KiB")),
      `connections that never send a name: ${silentKiB} each`,
      unit(2, "x")(
        median(results.map((r) => r.rssPerClient)) / median(silent),
      ),
      count === 10_000 ? "<= 10 KiB" : "",
    );
  }

  console.error("churn 1000");
  const churns = await repeat("churn", () => churn(1000, { cycles: 50 }));
  row(
    "roster churn N=1000, K=50: latency p50 / p99",
    `${spread(churns.map((r) => latencyPercentiles(r)[0]), ms)} / ${
      spread(churns.map((r) => latencyPercentiles(r)[1]), ms)
    }`,
    "generator floor ~20 ms (17-20 us per socket)",
  );
  // The churn lines carry 1000 names of 9-10 bytes: about 10 KB each.
  const floor = await repeat(
    "fan-out floor",
    () => fanoutFloorMicros(1000, 10_000, 50),
  );
  const perRecipient = churns.map((r) => r.serverCpuMsPerEvent);
  row(
    "roster churn N=1000: server CPU per event (= us per recipient)",
    spread(perRecipient, ms),
    `bare Deno writing one line to each of 1000 sockets: ${
      spread(floor, unit(3, " us"))
    } per recipient`,
    // ms per event over 1000 recipients is us per recipient.
    unit(2, "x")(median(perRecipient) / median(floor)),
    "<= 2 ms",
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
  const p99 = (r: Parameters<typeof latencyPercentiles>[0]) =>
    latencyPercentiles(r)[1];
  row(
    "roster stalled: readers' churn p99 with 10 stalled clients",
    spread(stalled.map(p99), ms),
    `without stalled ${spread(plain.map(p99), ms)}`,
    unit(2, "x")(median(stalled.map(p99)) / median(plain.map(p99))),
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

/**
 * The roster cluster on Redis, in its own table: churn over 3 nodes against
 * one server alone, Redis's work per change at two sizes, and a killed node.
 */
async function clusterFigures(): Promise<Row[]> {
  const cluster: Row[] = [];
  const add = (
    figure: string,
    value: string,
    reference = "",
    ratio = "",
    target = "",
  ) => cluster.push({ figure, value, reference, ratio, target });
  console.error("cluster churn");
  const single = await repeat(
    "1 server, 1000 readers",
    () => clusterChurn(1000, 1, 50, false),
  );
  const three = await repeat(
    "3 nodes, 1000 readers",
    () => clusterChurn(1000, 3, 50),
  );
  const p50 = (r: Parameters<typeof clusterPercentiles>[0]) =>
    clusterPercentiles(r)[0];
  const p99 = (r: Parameters<typeof clusterPercentiles>[0]) =>
    clusterPercentiles(r)[1];
  add(
    "roster cluster churn N=1000 over 3 nodes, K=50: latency p50 / p99 until every client has the roster",
    `${spread(three.map(p50), ms)} / ${spread(three.map(p99), ms)}`,
    `one server alone (no Redis): ${spread(single.map(p50), ms)} / ${
      spread(single.map(p99), ms)
    }`,
    `${unit(2, "x")(median(three.map(p50)) / median(single.map(p50)))} / ${
      unit(2, "x")(median(three.map(p99)) / median(single.map(p99)))
    }`,
    "p50 <= 2x",
  );
  const small = await repeat(
    "3 nodes, 100 readers",
    () => clusterChurn(100, 3, 50),
  );
  const commands = (r: { commandsPerEvent: number }) => r.commandsPerEvent;
  const bytes = (r: { bytesPerEvent: number }) => r.bytesPerEvent;
  add(
    `roster cluster N=1000: Redis commands per change (all nodes, counting those run inside scripts; less ${
      spread(three.map((r) => r.idleCommandsPerSecond), unit(3, "/s"))
    } of renewals, pings and idle log reads)`,
    spread(three.map(commands), unit(3)),
    `N=100: ${spread(small.map(commands), unit(3))}`,
    unit(2, "x")(median(three.map(commands)) / median(small.map(commands))),
    "not growing with N (~1x)",
  );
  add(
    "roster cluster N=1000: Redis network bytes per change (in + out, less the idle traffic)",
    spread(three.map(bytes), unit(3, " B")),
    `N=100: ${spread(small.map(bytes), unit(3, " B"))}`,
    unit(2, "x")(median(three.map(bytes)) / median(small.map(bytes))),
    "not growing with N (~1x)",
  );
  console.error("cluster kill -9");
  const killed = await repeat(
    "kill -9 of 300 of 1000",
    () => killedNodeSeconds(1000, 300),
  );
  add(
    "roster cluster: SIGKILL of a node holding 300 of 1000 clients: time until every survivor has the roster without them",
    spread(killed, seconds),
    "--node-ttl 3 s (default)",
    unit(2, "x")(median(killed) / 4),
    "<= TTL + 1 s (4 s)",
  );
  return cluster;
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
  const [memory] = await repeat(
    "memory",
    () => memoryPerItem(items, useH2load),
    1,
  );
  row(
    `queue memory: server RSS per queued 16-byte item (${items} Puts, less as many Size calls; ${generator})`,
    unit(3, " B")(memory!.perPut - memory!.perSize),
    `RSS growth per Put ${unit(3, " B")(memory!.perPut)}, per Size ${
      unit(3, " B")(memory!.perSize)
    }; live data in the queue core: ${
      unit(3, " B")(queueCoreHeapBytesPerItem(items))
    }; Python ~91 B, Redis ~20 B`,
    "",
    "<= 48 B",
  );

  console.error("client start-up");
  await using server = await startQueueServer(10);
  const startups = await repeat("start-up", () => clientStartupMs(server));
  row("queue-client one-shot `size`: wall time", spread(startups, ms));
}

function table(rows: Row[]): string {
  const lines = [
    "| figure | value: median (min-max) | reference, same run | ratio | target |",
    "| --- | --- | --- | --- | --- |",
    ...rows.map((r) =>
      `| ${r.figure} | ${r.value} | ${r.reference} | ${r.ratio} | ${r.target} |`
    ),
  ];
  return lines.join("\n");
}

const CLUSTER_HEADING = "## Roster cluster on Redis";
const RESULTS = new URL("./RESULTS.md", import.meta.url);

/** The cluster section of the report, headed, with when and where it ran. */
function clusterSection(rows: Row[], started: Date): string {
  return [
    CLUSTER_HEADING,
    "",
    `Run ${started.toISOString()} (\`deno task bench cluster\` runs this section alone); ` +
    "redis-server " + redisVersion() + " started by the bench on 127.0.0.1.",
    "",
    table(rows),
    "",
  ].join("\n");
}

function redisVersion(): string {
  const { stdout } = new Deno.Command("redis-server", { args: ["--version"] })
    .outputSync();
  return new TextDecoder().decode(stdout).match(/v=(\S+)/)?.[1] ?? "?";
}

/** Replaces the cluster section of RESULTS.md, or adds it at the end. */
async function writeClusterSection(section: string): Promise<void> {
  const text = await Deno.readTextFile(RESULTS).catch(() =>
    "# Benchmark results\n"
  );
  const at = text.indexOf(CLUSTER_HEADING);
  const before = at >= 0 ? text.slice(0, at) : text.trimEnd() + "\n\n";
  await Deno.writeTextFile(RESULTS, before + section);
}

async function main(): Promise<void> {
  const started = new Date();
  if (Deno.args[0] === "cluster") {
    const section = clusterSection(await clusterFigures(), started);
    console.log(section);
    await writeClusterSection(section);
    return;
  }
  await rosterFigures();
  const cluster = clusterSection(await clusterFigures(), started);
  await queueFigures();
  const report = table(rows);
  console.log(report);
  console.log(cluster);
  const header = [
    "# Benchmark results",
    "",
    `Run ${started.toISOString()} with \`deno task bench\`: Deno ${Deno.version.deno}, ` +
    `${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"}), ` +
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB. Servers ran as ` +
    (Deno.env.get("BIN_DIR")
      ? "compiled executables"
      : "`deno run` with the build's permissions") +
    ". Each figure is the median of 3 runs with min-max; idle N=10000 and queue memory ran once.",
    "",
    "",
  ].join("\n");
  await Deno.writeTextFile(RESULTS, header + report + "\n\n" + cluster);
}

if (import.meta.main) await main();
