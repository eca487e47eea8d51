/**
 * The `cluster` section of the benchmark: the roster cluster on Redis
 * against one server alone.
 *
 * @module
 */
import { ms, repeat, type Report, seconds } from "./report.ts";
import {
  clusterChurn,
  clusterPercentiles,
  killedNodeSeconds,
} from "./roster_cluster_bench.ts";
import { median, spread, unit } from "./stats.ts";

/**
 * The roster cluster on Redis, in its own table: churn over 3 nodes against
 * one server alone, Redis's work per change at two sizes, and a killed node.
 */
export async function clusterFigures(report: Report): Promise<void> {
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
  report.row(
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
  report.row(
    `roster cluster N=1000: Redis commands per change (all nodes, counting those run inside scripts; less ${
      spread(three.map((r) => r.idleCommandsPerSecond), unit(3, "/s"))
    } of renewals, pings and idle log reads)`,
    spread(three.map(commands), unit(3)),
    `N=100: ${spread(small.map(commands), unit(3))}`,
    unit(2, "x")(median(three.map(commands)) / median(small.map(commands))),
    "not growing with N (~1x)",
  );
  report.row(
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
  report.row(
    "roster cluster: SIGKILL of a node holding 300 of 1000 clients: time until every survivor has the roster without them",
    spread(killed, seconds),
    "--node-ttl 3 s (default)",
    unit(2, "x")(median(killed) / 4),
    "<= TTL + 1 s (4 s)",
  );
}
