/**
 * The `roster` section of the benchmark: storms, idle memory, churn and
 * stalled readers of the roster server, each beside the Python peer, the
 * loopback bound or the bare fan-out floor measured in the same run.
 *
 * @module
 */
import { hasPeer } from "./peers.ts";
import {
  MB,
  ms,
  ratio,
  repeat,
  type Report,
  seconds,
  sideBySide,
} from "./report.ts";
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

/** Measures the roster server's figures and adds them to `report`. */
export async function rosterFigures(report: Report): Promise<void> {
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
  report.row(
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
    report.row(
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
    report.row(
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
    report.row(
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
  report.row(
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
  report.row(
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
  report.row(
    "floor: a bare Deno process writing one 10 KB line to each of 1000 sockets, CPU per round",
    spread(floorPerChange, ms),
    `${spread(floor, unit(3, " us"))} per recipient`,
  );
  const cpu = (r: ChurnResult) => r.serverCpuMsPerEvent;
  report.row(
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
  report.row(
    "roster stalled: readers' churn p99 with 10 stalled clients",
    spread(stalled.map(p99), ms),
    `without stalled ${spread(plain.map(p99), ms)}`,
    ratio(stalled.map(p99), plain.map(p99)),
    "<= 1.5x",
  );
  report.row(
    "roster stalled: server RSS growth per stalled client over 5 s of churn",
    spread(stalled.map((r) => r.rssGrowth / 10 / 1024 / 1024), unit(3, " MiB")),
    `without stalled ${
      spread(plain.map((r) => r.rssGrowth / 1024 / 1024), unit(3, " MiB"))
    } total`,
    "",
    "<= 2 MiB",
  );
}
