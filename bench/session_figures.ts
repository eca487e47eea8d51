/**
 * The `session` section of the benchmark: the piped queue-client against
 * h2load's unary calls and against itself with pipelining off.
 *
 * @module
 */
import { h2loadRun, hasH2load, startQueueServer } from "./queue_bench.ts";
import { type Report, RUNS } from "./report.ts";
import { pipedClient } from "./session_bench.ts";
import { median, spread, unit } from "./stats.ts";

/** Measures the Session's figures and adds them to `report`. */
export async function sessionFigures(report: Report): Promise<void> {
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
  report.row(
    `session: piped queue-client, ${commands} alternating put/pop, window 256: commands/s`,
    spread(piped.map(rate), unit(3, "/s")),
    `h2load put+pop, 64 unary calls in flight, ${h2loadCalls} calls: ${
      spread(unary.map(h2rate), unit(3, "/s"))
    }`,
    unit(3, "x")(median(piped.map(rate)) / median(unary.map(h2rate))),
    ">= 2x",
  );
  report.row(
    `session: the same client with pipelining off (--window 1, ${unpipelined} commands): commands/s`,
    spread(single.map(rate), unit(3, "/s")),
    `pipelined (above) ${spread(piped.map(rate), unit(3, "/s"))}`,
    unit(3, "x")(median(piped.map(rate)) / median(single.map(rate))),
    ">= 10x (pipelined / this)",
  );
  report.row(
    "session: server CPU per command (pipelined client)",
    spread(piped.map(cpu), unit(3, " us")),
    `per unary call (h2load, c=64): ${spread(unary.map(cpu), unit(3, " us"))}`,
    unit(3, "%")(100 * median(piped.map(cpu)) / median(unary.map(cpu))),
    "<= 25%",
  );
}
