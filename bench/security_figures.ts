/**
 * The `security` section of the benchmark: the queue and the roster with TLS
 * and tokens beside the plain servers, and the rate of token guesses.
 *
 * @module
 */
import { makeTestPki } from "../tests/tls_fixtures.ts";
import { hasH2load } from "./queue_bench.ts";
import { ms, repeat, type Report } from "./report.ts";
import { type ChurnResult, latencyPercentiles } from "./roster_bench.ts";
import {
  guessRate,
  queueSecurityRun,
  rosterTlsPair,
} from "./security_bench.ts";
import { median, spread, unit } from "./stats.ts";

/** Measures the cost of TLS and tokens and adds it to `report`. */
export async function securityFigures(report: Report): Promise<void> {
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
      report.row(
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
  const p50 = (r: ChurnResult) => latencyPercentiles(r)[0];
  const perEvent = churns.map((c) => c.secure.serverCpuMsPerEvent);
  const plainPerEvent = churns.map((c) => c.plain.serverCpuMsPerEvent);
  report.row(
    "roster churn N=1000, K=50 over TLS: server CPU per change",
    spread(perEvent, ms),
    `plain ${spread(plainPerEvent, ms)}`,
    unit(3, "x")(median(perEvent) / median(plainPerEvent)),
  );
  report.row(
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
  report.row(
    "roster token guesses from one address for 10 s: guesses checked per second",
    unit(3, "/s")(guesses!.checked),
    `attempts made ${
      unit(3, "/s")(guesses!.attempts)
    }, the rest refused unchecked`,
    `1 in ${Math.round(guesses!.attempts / guesses!.checked)} attempts`,
  );
}
