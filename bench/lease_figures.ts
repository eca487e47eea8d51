/**
 * The `lease` section of the benchmark (issues 18 and 19): put → leasing Pop
 * → Ack cycles per second at 64 in flight, in memory and with `--data`,
 * against beanstalkd 1.12 put → reserve → delete in memory and with its
 * binlog fsync'd on every write; what a lease costs against plain put → Pop
 * cycles of the same client; and piped Session commands per second against
 * beanstalkd's operations per second, all in the same run.
 *
 * Our client is the fastest honest one for each store, in this process:
 * `SessionClient`s, whose commands of one event-loop turn go out in
 * one write. A Session runs its commands one at a time, so in memory one
 * Session carries all 64 cycles piped, while with `--data` each of 64
 * Sessions carries one cycle, so that 64 commands wait on the same group
 * commit instead of one fsync each. The lease is taken and acked in the same
 * Session. beanstalkd gets 64 connections, one cycle each, from this process
 * too; each command waits for the answer to the one before, on both sides.
 *
 * @module
 */
import { hasBeanstalkd, startBeanstalkd } from "./beanstalk.ts";
import {
  beanstalkCycles,
  type CycleResult,
  type SessionCycleOptions,
  sessionCycles,
} from "./lease_bench.ts";
import { startQueueServer, type TargetServer } from "./queue_bench.ts";
import { type Report, RUNS } from "./report.ts";
import { pipedClient, type PipedResult } from "./session_bench.ts";
import { median, spread, unit } from "./stats.ts";
import { startDurableServer } from "./store_bench.ts";

/** Cycles in flight in every run, on both sides. */
const IN_FLIGHT = 64;

/** How long each run starts cycles, after a half-second warm-up. */
const SECONDS = 3;

/** How our client spreads the cycles over Sessions, per store. */
const SESSIONS = { memory: 1, data: IN_FLIGHT } as const;

/** Commands of the piped queue-client (the session section's client). */
const PIPED_COMMANDS = 100_000;

/** What one run of the section measured. */
interface LeaseRun {
  memoryLease: CycleResult;
  memoryPlain: CycleResult;
  dataLease: CycleResult;
  dataPlain: CycleResult;
  piped: PipedResult;
  beanstalk?: { memory: CycleResult; fsync: CycleResult };
}

/** Leasing and plain cycles on one server, in an order that alternates. */
async function leaseAndPlain(
  server: TargetServer,
  sessions: number,
  plainFirst: boolean,
): Promise<[CycleResult, CycleResult]> {
  const options: SessionCycleOptions = {
    sessions,
    inFlight: IN_FLIGHT,
    seconds: SECONDS,
  };
  const lease = () => sessionCycles(server, { ...options, lease: true });
  const plain = () => sessionCycles(server, { ...options, lease: false });
  if (!plainFirst) return [await lease(), await plain()];
  const plainResult = await plain();
  return [await lease(), plainResult];
}

/** One run: our servers, then beanstalkd's two modes when `withBeanstalkd`. */
async function leaseRun(
  run: number,
  withBeanstalkd: boolean,
): Promise<LeaseRun> {
  const plainFirst = run % 2 === 1;
  let memory: [CycleResult, CycleResult];
  let piped: PipedResult;
  {
    await using server = await startQueueServer(1_000_000);
    memory = await leaseAndPlain(server, SESSIONS.memory, plainFirst);
    piped = await pipedClient(server, PIPED_COMMANDS, 256);
  }
  let data: [CycleResult, CycleResult];
  {
    await using server = await startDurableServer(1_000_000);
    data = await leaseAndPlain(server, SESSIONS.data, plainFirst);
  }
  const [memoryLease, memoryPlain] = memory;
  const [dataLease, dataPlain] = data;
  const ours = { memoryLease, memoryPlain, dataLease, dataPlain, piped };
  if (!withBeanstalkd) return ours;
  const beanstalk = async (fsync: boolean) => {
    await using server = await startBeanstalkd({ fsync });
    return await beanstalkCycles(server, {
      inFlight: IN_FLIGHT,
      seconds: SECONDS,
    });
  };
  return {
    ...ours,
    beanstalk: { memory: await beanstalk(false), fsync: await beanstalk(true) },
  };
}

/** Measures the lease figures and adds them to `report`. */
export async function leaseFigures(report: Report): Promise<void> {
  const withBeanstalkd = hasBeanstalkd();
  if (!withBeanstalkd) {
    console.error(
      "beanstalkd not found (Debian: apt-get install beanstalkd): " +
        "skipping the beanstalkd figures",
    );
  }
  const runs: LeaseRun[] = [];
  for (let i = 0; i < RUNS; i++) {
    console.error(`  lease: run ${i + 1} of ${RUNS}`);
    runs.push(await leaseRun(i, withBeanstalkd));
  }
  const rate = unit(3, "/s");
  const us = unit(3, " µs");
  const percent = unit(2, "%");
  const cycles = (results: CycleResult[]) =>
    spread(results.map((r) => r.cyclesPerSecond), rate);
  const cpu = (results: CycleResult[]) =>
    spread(results.map((r) => r.serverCpuMicros), us);
  const load = (results: CycleResult[]) =>
    spread(results.map((r) => 100 * r.loadCoreShare), percent);
  const ratio = (ours: number[], reference: number[]) =>
    unit(3, "x")(median(ours) / median(reference));
  const pick = (key: Exclude<keyof LeaseRun, "piped" | "beanstalk">) =>
    runs.map((r) => r[key]);
  const memoryLease = pick("memoryLease");
  const dataLease = pick("dataLease");
  const shape = {
    memory: `1 Session carrying all ${IN_FLIGHT} cycles`,
    data: `${IN_FLIGHT} Sessions of one cycle each`,
  };
  const beanstalk = runs.flatMap((r) => r.beanstalk ? [r.beanstalk] : []);
  const bMemory = beanstalk.map((b) => b.memory);
  const bFsync = beanstalk.map((b) => b.fsync);
  const perSecond = (results: CycleResult[]) =>
    results.map((r) => r.cyclesPerSecond);
  for (
    const [store, ours, peer, peerMode, target] of [
      ["in memory", memoryLease, bMemory, "in memory", "report"],
      [
        "--data",
        dataLease,
        bFsync,
        "-b DIR -f 0 (fsync on every write)",
        ">= 2x",
      ],
    ] as const
  ) {
    report.row(
      `lease ${store}: put → leasing Pop → Ack cycles/s, ${IN_FLIGHT} in flight (${
        store === "in memory" ? shape.memory : shape.data
      }; server CPU per cycle ${cpu(ours)}, load core busy ${load(ours)})`,
      cycles(ours),
      peer.length === 0
        ? "beanstalkd not installed"
        : `beanstalkd ${peerMode} put → reserve → delete, ${IN_FLIGHT} connections: ${
          cycles(peer)
        } (server CPU per cycle ${cpu(peer)}, load core busy ${load(peer)})`,
      peer.length === 0 ? "" : ratio(perSecond(ours), perSecond(peer)),
      target,
    );
  }
  if (bMemory.length > 0) {
    // The rates above are the load generator's too when its core is busy
    // near 100%; the CPU each server spends per cycle is not.
    report.row(
      "lease in memory: server CPU per cycle, put → leasing Pop → Ack (what sets the rate when the load core is saturated)",
      cpu(memoryLease),
      `beanstalkd in memory, put → reserve → delete: ${cpu(bMemory)}`,
      ratio(
        memoryLease.map((r) => r.serverCpuMicros),
        bMemory.map((r) => r.serverCpuMicros),
      ),
    );
  }
  for (
    const [store, leased, plain, sessions] of [
      ["in memory", memoryLease, pick("memoryPlain"), shape.memory],
      ["--data", dataLease, pick("dataPlain"), shape.data],
    ] as const
  ) {
    report.row(
      `lease ${store}: the cost of a lease: put → leasing Pop → Ack cycles/s (${sessions}; server CPU per cycle ${
        cpu(leased)
      })`,
      cycles(leased),
      `put → Pop cycles, same client, same run: ${
        cycles(plain)
      } (server CPU per cycle ${cpu(plain)})`,
      ratio(perSecond(leased), perSecond(plain)),
    );
  }
  const piped = runs.map((r) => r.piped);
  const commands = piped.map((r) => r.commandsPerSecond);
  const bOps = bMemory.map((r) => 3 * r.cyclesPerSecond);
  report.row(
    `lease: piped Session commands/s (queue-client, ${PIPED_COMMANDS} alternating put/pop, window 256, in memory; server CPU per command ${
      spread(piped.map((r) => r.serverCpuMicros), us)
    }, as the session section measures it)`,
    spread(commands, rate),
    bOps.length === 0
      ? "beanstalkd not installed"
      : `beanstalkd in memory, ${IN_FLIGHT} connections, put → reserve → delete, each command an op: ${
        spread(bOps, unit(3, " ops/s"))
      } (server CPU per op ${
        spread(bMemory.map((r) => r.serverCpuMicros / 3), us)
      }, load core busy ${load(bMemory)})`,
    bOps.length === 0 ? "" : ratio(commands, bOps),
    ">= 0.67x",
  );
}
