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
  const rows = [
    [
      "server CPU per change",
      ms,
      "<= 1.5x TCP",
      (r: WebChurnResult) => r.cpuMsPerChange,
    ],
    ["idle server RSS growth per joined client", unit(3, " KiB"), "", (
      r: WebChurnResult,
    ) => r.rssPerClient / 1024],
  ] as const;
  for (const [what, format, target, pick] of rows) {
    report.row(
      `roster web N=1000 (churn K=50): ${what}, WebSocket readers`,
      spread(websocket.map(pick), format),
      `TCP readers, same run: ${spread(tcp.map(pick), format)}`,
      ratio(websocket.map(pick), tcp.map(pick)),
      target,
    );
  }
}
