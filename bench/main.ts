/**
 * `deno task bench [SECTION...]`: measures the roster and queue servers side
 * by side with references and the Python peers taken in the same run, prints
 * one Markdown table and writes it to `bench/RESULTS.md` with the date, Deno
 * version and machine. The sections are `roster`, `queue`, `session`,
 * `store`, `cluster`, `security` and `redis`; naming some runs only those,
 * and then their table replaces only their own block at the end of
 * `bench/RESULTS.md`. Servers run on core 0 and the load on core 1
 * (taskset), when there are two.
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
import {
  guessRate,
  queueSecurityRun,
  rosterTlsPair,
} from "./security_bench.ts";
import { redisBytesPerItem, sharedThroughput } from "./redis_bench.ts";
import { pipedClient } from "./session_bench.ts";
import {
  clusterChurn,
  clusterPercentiles,
  killedNodeSeconds,
} from "./roster_cluster_bench.ts";
import { median, spread, unit } from "./stats.ts";
import { makeTestPki } from "../tests/tls_fixtures.ts";
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
    // The generator joins faster than a server writing 10,000 rosters of
    // 100 KB can read names, so a name may wait past the default 10 s
    // handshake timeout; this figure is about memory, not that timeout.
    () => storm(10_000, "roster-server", 100, ["--handshake-timeout", "600"]),
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

/**
 * The roster cluster on Redis, in its own table: churn over 3 nodes against
 * one server alone, Redis's work per change at two sizes, and a killed node.
 */
async function clusterFigures(): Promise<void> {
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
  row(
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
  row(
    `roster cluster N=1000: Redis commands per change (all nodes, counting those run inside scripts; less ${
      spread(three.map((r) => r.idleCommandsPerSecond), unit(3, "/s"))
    } of renewals, pings and idle log reads)`,
    spread(three.map(commands), unit(3)),
    `N=100: ${spread(small.map(commands), unit(3))}`,
    unit(2, "x")(median(three.map(commands)) / median(small.map(commands))),
    "not growing with N (~1x)",
  );
  row(
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
  row(
    "roster cluster: SIGKILL of a node holding 300 of 1000 clients: time until every survivor has the roster without them",
    spread(killed, seconds),
    "--node-ttl 3 s (default)",
    unit(2, "x")(median(killed) / 4),
    "<= TTL + 1 s (4 s)",
  );
}

async function queueFigures(): Promise<void> {
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

async function securityFigures(): Promise<void> {
  await using pki = await makeTestPki();
  if (hasH2load()) {
    console.error("queue put+pop over TLS, with a token, with both");
    const runs = await repeat(
      "plain, TLS, token, both",
      () => queueSecurityRun(pki, 64, 40_000),
    );
    const plainRate = runs.map((r) => r.plain.callsPerSecond);
    const plainCpu = runs.map((r) => r.plain.serverCpuMicros);
    for (
      const [label, key] of [
        ["TLS and a token", "both"],
        ["TLS only", "tls"],
        ["a token only", "token"],
      ] as const
    ) {
      const rate = runs.map((r) => r[key].callsPerSecond);
      const cpu = runs.map((r) => r[key].serverCpuMicros);
      row(
        `queue put+pop c=64 with ${label}: calls/s; server CPU per call (h2load, 40000 calls)`,
        `${spread(rate, unit(3, "/s"))}; ${spread(cpu, unit(3, " us"))}`,
        `plain, no token: ${spread(plainRate, unit(3, "/s"))}; ${
          spread(plainCpu, unit(3, " us"))
        }`,
        `${unit(3, "x")(median(rate) / median(plainRate))}; ${
          unit(3, "x")(median(cpu) / median(plainCpu))
        }`,
        key === "both" ? ">= 0.7x calls/s" : "",
      );
    }
  }
  console.error("roster churn over TLS");
  const churns = await repeat(
    "TLS vs plain",
    () => rosterTlsPair(pki, 1000, 50),
  );
  const perEvent = churns.map((c) => c.secure.serverCpuMsPerEvent);
  const plainPerEvent = churns.map((c) => c.plain.serverCpuMsPerEvent);
  row(
    "roster churn N=1000, K=50 over TLS: server CPU per change",
    spread(perEvent, ms),
    `plain ${spread(plainPerEvent, ms)}`,
    unit(3, "x")(median(perEvent) / median(plainPerEvent)),
  );
  const p50 = (r: ChurnResult) => latencyPercentiles(r)[0];
  row(
    "roster churn N=1000, K=50 over TLS: p50 latency until every client has the change",
    spread(churns.map((c) => p50(c.secure)), ms),
    `plain ${spread(churns.map((c) => p50(c.plain)), ms)}`,
    unit(3, "x")(
      median(churns.map((c) => p50(c.secure))) /
        median(churns.map((c) => p50(c.plain))),
    ),
  );
  console.error("token guessing");
  const [guesses] = await repeat("guesses", () => guessRate(pki, 10_000), 1);
  row(
    "roster token guesses from one address for 10 s: guesses checked per second",
    unit(3, "/s")(guesses!.checked),
    `attempts made ${
      unit(3, "/s")(guesses!.attempts)
    }, the rest refused unchecked`,
    `1 in ${Math.round(guesses!.attempts / guesses!.checked)} attempts`,
  );
}

async function sessionFigures(): Promise<void> {
  if (!hasH2load()) {
    throw new Error(
      "The session figures need h2load (Debian: apt-get install nghttp2-client)",
    );
  }
  const commands = 100_000;
  const unpipelined = 20_000;
  const h2loadCalls = 40_000;
  const piped = [];
  const single = [];
  const unary = [];
  for (let i = 0; i < RUNS; i++) {
    console.error(`  session: run ${i + 1} of ${RUNS}`);
    await using server = await startQueueServer(1_000_000);
    unary.push(await h2loadRun(server, "put+pop", 64, h2loadCalls));
    piped.push(await pipedClient(server, commands, 256));
    single.push(await pipedClient(server, unpipelined, 1));
  }
  const rate = (r: { commandsPerSecond: number }) => r.commandsPerSecond;
  const h2rate = (r: { callsPerSecond: number }) => r.callsPerSecond;
  const cpu = (r: { serverCpuMicros: number }) => r.serverCpuMicros;
  row(
    `session: piped queue-client, ${commands} alternating put/pop, window 256: commands/s`,
    spread(piped.map(rate), unit(3, "/s")),
    `h2load put+pop, 64 unary calls in flight, ${h2loadCalls} calls: ${
      spread(unary.map(h2rate), unit(3, "/s"))
    }`,
    unit(3, "x")(median(piped.map(rate)) / median(unary.map(h2rate))),
    ">= 2x",
  );
  row(
    `session: the same client with pipelining off (--window 1, ${unpipelined} commands): commands/s`,
    spread(single.map(rate), unit(3, "/s")),
    `pipelined (above) ${spread(piped.map(rate), unit(3, "/s"))}`,
    unit(3, "x")(median(piped.map(rate)) / median(single.map(rate))),
    ">= 10x (pipelined / this)",
  );
  row(
    "session: server CPU per command (pipelined client)",
    spread(piped.map(cpu), unit(3, " us")),
    `per unary call (h2load, c=64): ${spread(unary.map(cpu), unit(3, " us"))}`,
    unit(3, "%")(100 * median(piped.map(cpu)) / median(unary.map(cpu))),
    "<= 25%",
  );
}

async function storeFigures(): Promise<void> {
  const MiB = 1024 * 1024;
  console.error("fsync");
  const fsync = await repeat("fsync", () => fsyncP50Ms());
  row(
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
  row(
    `store: durable put+pop c=64, calls/s (h2load, ${calls} calls)`,
    spread(durable.map(rate), unit(3, "/s")),
    `in-memory ${spread(memory.map(rate), unit(3, "/s"))}`,
    unit(3, "%")(100 * median(durable.map(rate)) / median(memory.map(rate))),
    ">= 80%",
  );
  row(
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
  row(
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
  row(
    "store: start to listening with 1,000,000 queued 16-byte items",
    spread(restarts.map((r) => r.durable), ms),
    `empty in-memory server ${spread(restarts.map((r) => r.memory), ms)}`,
    "",
    "<= 3000 ms",
  );

  console.error("--max-bytes 256MiB");
  const [rss] = await repeat("max-bytes", () => maxBytesRss(256 * MiB), 1);
  row(
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
  row(
    "waiting: server RSS per idle waiting unary Pop, 10,000 waiting over 313 connections (all then served)",
    unit(3, " KiB")(perWaiter! / 1024),
    `the store's share: ${
      unit(3, " B")(storeShare)
    } of heap per waiter; the rest is grpc-js's call and connection`,
    "",
    "<= 2 KiB",
  );
  const wakes = await repeat("wake-up", () => wakeUpMs(300));
  row(
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
  row(
    `store: kill -9 soak, ${soak.kills} kills under 8 clients`,
    `${soak.problems.length} problems: lost, resurrected, duplicated or reordered`,
    `${soak.acknowledged} puts acknowledged, ${soak.popped} popped, ${soak.survivors} found after restarts; ${soak.takenByUnansweredPops} taken by Pops the kill left unanswered`,
    "",
    "0 problems",
  );
  for (const problem of soak.problems) console.error(`  ${problem}`);
}

async function redisFigures(): Promise<void> {
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
  row(
    `redis: 1 queue-server on Redis, put+pop c=64, calls/s (h2load, ${calls} calls)`,
    spread(one.map(rate), unit(3, "/s")),
    `in-memory ${spread(memory.map(rate), unit(3, "/s"))}`,
    unit(3, "%")(100 * median(one.map(rate)) / median(memory.map(rate))),
    ">= 70%",
  );
  for (const [servers, results] of [[1, one], [2, two], [3, three]] as const) {
    row(
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
  row(
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
  row(
    `redis: Redis used_memory per queued 16-byte item (${items} items)`,
    unit(3, " B")(redisBytes!),
    `in-memory queue core ${
      unit(3, " B")(queueCoreHeapBytesPerItem(items))
    } of V8 heap per item`,
  );
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

/** The sections of the benchmark, in the order a full run takes them. */
const SECTIONS = {
  roster: rosterFigures,
  queue: queueFigures,
  session: sessionFigures,
  store: storeFigures,
  cluster: clusterFigures,
  security: securityFigures,
  redis: redisFigures,
} as const;

/** Marks the block of a section run alone in RESULTS.md. */
const sectionMarker = (name: string) => `<!-- bench section ${name} -->`;

async function main(args: string[]): Promise<void> {
  const unknown = args.filter((name) => !(name in SECTIONS));
  if (unknown.length > 0) {
    console.error(
      `error: Unknown section "${unknown[0]}": expected ${
        Object.keys(SECTIONS).join(", ")
      }`,
    );
    Deno.exit(2);
  }
  const names = (args.length > 0 ? args : Object.keys(SECTIONS)) as (
    keyof typeof SECTIONS
  )[];
  const started = new Date();
  const pinned = await pinLoad();
  for (const name of names) {
    try {
      await SECTIONS[name]();
    } catch (error: unknown) {
      // One broken section must not cost the figures of the others.
      const why = error instanceof Error ? error.message : String(error);
      console.error(`error: section ${name} failed: ${why}`);
      row(`section ${name}: FAILED`, why.split("\n")[0] ?? "");
    }
  }
  const report = table();
  console.log(report);
  const machine =
    `Deno ${Deno.version.deno}, ${cpus().length} cores (${
      cpus()[0]?.model ?? "unknown CPU"
    }), ` +
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB. Servers ran as ` +
    (Deno.env.get("BIN_DIR")
      ? "compiled executables"
      : "`deno run` with the build's permissions and V8 options") +
    (pinned
      ? ", pinned to core 0, with the load generator on core 1"
      : ", unpinned");
  const results = new URL("./RESULTS.md", import.meta.url);
  if (args.length === 0) {
    const header = [
      "# Benchmark results",
      "",
      `Run ${started.toISOString()} with \`deno task bench\`: ${machine}` +
      ". Each figure is the median of 3 runs with min-max; idle N=10000, queue memory, " +
      "the --max-bytes RSS, the 10,000 waiters and the kill -9 soak ran once. " +
      "The Python peers are the seed's design written plainly (`../shared/reference/`).",
      "",
      "",
    ].join("\n");
    await Deno.writeTextFile(results, header + report + "\n");
    return;
  }
  // A section run alone replaces only its own block, kept at the end.
  let text = await Deno.readTextFile(results).catch(() => "");
  for (const name of names) {
    const at = text.indexOf(sectionMarker(name));
    if (at >= 0) {
      const end = text.indexOf(sectionMarker("end"), at);
      text = text.slice(0, at) +
        (end >= 0 ? text.slice(end + sectionMarker("end").length + 1) : "");
    }
  }
  const block = [
    names.map(sectionMarker).join("\n"),
    `## ${names.join(", ")} (run alone)`,
    "",
    `Run ${started.toISOString()} with \`deno task bench ${
      names.join(" ")
    }\`: ${machine}. Each figure is the median of 3 runs with min-max unless it says otherwise.`,
    "",
    report,
    sectionMarker("end"),
    "",
  ].join("\n");
  await Deno.writeTextFile(results, text.trimEnd() + "\n\n" + block);
}

if (import.meta.main) await main(Deno.args);
