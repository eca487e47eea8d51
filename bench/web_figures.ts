/**
 * The `web` section of the benchmark: roster churn at N=1000 with WebSocket
 * readers against the same with TCP readers on one `roster-server --web`.
 *
 * @module
 */
import { ms, ratio, Report, RUNS } from "./report.ts";
import { spread, unit } from "./stats.ts";
import { webChurn, type WebChurnResult } from "./web_bench.ts";

/** Adds the web section's rows to `report`. */
export async function webFigures(report: Report): Promise<void> {
  const tcp: WebChurnResult[] = [];
  const websocket: WebChurnResult[] = [];
  for (let i = 0; i < RUNS; i++) {
    console.error(`  web churn 1000: run ${i + 1} of ${RUNS}`);
    tcp.push(await webChurn(1000, "tcp"));
    websocket.push(await webChurn(1000, "websocket"));
  }
  const cpu = (results: WebChurnResult[]) =>
    results.map((r) => r.cpuMsPerChange);
  const rss = (results: WebChurnResult[]) =>
    results.map((r) => r.rssPerClient / 1024);
  const kib = unit(3, " KiB");
  report.row(
    "roster web churn N=1000, K=50: server CPU per change, WebSocket readers",
    spread(cpu(websocket), ms),
    `TCP readers, same run: ${spread(cpu(tcp), ms)}`,
    ratio(cpu(websocket), cpu(tcp)),
    "<= 1.5x TCP",
  );
  report.row(
    "roster web idle N=1000: server RSS growth per joined client, WebSocket",
    spread(rss(websocket), kib),
    `TCP readers, same run: ${spread(rss(tcp), kib)}`,
    ratio(rss(websocket), rss(tcp)),
    "",
  );
}
