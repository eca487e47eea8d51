/**
 * The `metrics` section of the benchmark: what `--metrics` costs. Queue
 * put+pop throughput with `--metrics` (scraped every 5 s, as Prometheus
 * would) beside the same server without it, and roster churn CPU per change
 * with and without it, alternating in the same run.
 *
 * @module
 */
import { get } from "../tests/metrics_peers.ts";
import {
  grpcJsRun,
  h2loadRun,
  hasH2load,
  type LoadResult,
  startQueueServer,
} from "./queue_bench.ts";
import { ms, type Report, sideBySide } from "./report.ts";
import { churn } from "./roster_bench.ts";
import { median, spread, unit } from "./stats.ts";

/** How often the metered queue server is scraped during its run. */
const SCRAPE_EVERY_MS = 5000;

/** The flags that turn metrics on, on a free loopback port. */
const METRICS = ["--metrics", "127.0.0.1:0"];

/**
 * Runs put+pop against a queue server with `extra` flags; with metrics on,
 * scrapes its `/metrics` every {@linkcode SCRAPE_EVERY_MS} meanwhile.
 */
async function queueRun(
  extra: string[],
  calls: number,
): Promise<LoadResult> {
  await using server = await startQueueServer(1_000_000, extra);
  const metricsLine = extra.includes("--metrics")
    ? await server.program?.stderr.next()
    : undefined;
  const url = metricsLine?.match(/metrics on (\S+)$/)?.[1];
  const scraper = url === undefined
    ? undefined
    : setInterval(() => get(url).catch(() => {}), SCRAPE_EVERY_MS);
  try {
    const drive = hasH2load() ? h2loadRun : grpcJsRun;
    return await drive(server, "put+pop", 64, calls);
  } finally {
    clearInterval(scraper);
  }
}

/** Measures what `--metrics` costs and adds the figures to `report`. */
export async function metricsFigures(report: Report): Promise<void> {
  const generator = hasH2load() ? "h2load" : "grpc-js";
  const calls = hasH2load() ? 200_000 : 20_000;
  console.error("metrics: queue put+pop c=64 with and without --metrics");
  const [metered, plain] = await sideBySide(
    "queue --metrics",
    true,
    () => queueRun(["--quiet", ...METRICS], calls),
    () => queueRun(["--quiet"], calls),
  );
  const rate = (r: LoadResult) => r.callsPerSecond;
  report.row(
    `queue put+pop c=64 with --metrics scraped every 5 s: calls/s (${generator}, ${calls} calls)`,
    spread(metered.map(rate), unit(3, "/s")),
    `without --metrics ${spread(plain.map(rate), unit(3, "/s"))}`,
    unit(3, "x")(median(metered.map(rate)) / median(plain.map(rate))),
    ">= 0.95x",
  );
  console.error("metrics: roster churn N=1000 with and without --metrics");
  const [meteredChurn, plainChurn] = await sideBySide(
    "roster --metrics",
    true,
    () => churn(1000, { cycles: 50, serverArgs: ["--quiet", ...METRICS] }),
    () => churn(1000, { cycles: 50, serverArgs: ["--quiet"] }),
  );
  const cpu = (r: { serverCpuMsPerEvent: number }) => r.serverCpuMsPerEvent;
  report.row(
    "roster churn N=1000, K=50 with --metrics (not scraped): server CPU per change",
    spread(meteredChurn.map(cpu), ms),
    `without --metrics ${spread(plainChurn.map(cpu), ms)}`,
    unit(3, "x")(median(meteredChurn.map(cpu)) / median(plainChurn.map(cpu))),
    "<= 1.05x",
  );
}
