/**
 * Work-queue cycles at a fixed number in flight, for a set time: put → leasing
 * Pop → Ack (or put → Pop) over piped `Session`s of queue-server, and put →
 * reserve → delete over connections to beanstalkd, each measured as cycles
 * per second and the server's CPU per cycle.
 *
 * @module
 */
import { parseHostPort } from "../lib/address.ts";
import { QueueClient } from "../task1/queue_client.ts";
import { SessionClient } from "../task1/session_client.ts";
import { processStats } from "../tests/harness.ts";
import { BeanstalkConnection } from "./beanstalk.ts";
import type { RunningServer } from "./peers.ts";

/** The item or job of every cycle: 16 bytes, as in the other sections. */
const ITEM = "0123456789abcdef";

/** The lease of a leasing Pop, in milliseconds (it is acked long before). */
const LEASE_MS = 60_000;

/** What a run of cycles measured. */
export interface CycleResult {
  /** Cycles completed per second. */
  cyclesPerSecond: number;
  /** The server's CPU time per cycle (user and system), in microseconds. */
  serverCpuMicros: number;
  /**
   * The share of one core this process (the load generator) used meanwhile,
   * from 0 to 1: near 1, the generator and not the server set the rate.
   */
  loadCoreShare: number;
}

/** How a run of cycles is shaped. */
export interface CycleOptions {
  /**
   * Cycles in flight at any time, each a loop of one cycle after another.
   *
   * @default {64}
   */
  inFlight?: number;
  /**
   * How long cycles are started, after the warm-up, in seconds.
   *
   * @default {3}
   */
  seconds?: number;
  /**
   * How long cycles run before the measurement, in seconds.
   *
   * @default {0.5}
   */
  warmUpSeconds?: number;
}

/**
 * Runs `cycle(loop)` over and over in `inFlight` loops at once: a warm-up,
 * then `seconds` in which loops keep starting cycles; resolves once every
 * loop has finished its last one, with the rate over that whole time and
 * the CPU that process `pid` used meanwhile.
 */
export async function timedCycles(
  pid: number,
  cycle: (loop: number) => Promise<void>,
  options: CycleOptions = {},
): Promise<CycleResult> {
  const { inFlight = 64, seconds = 3, warmUpSeconds = 0.5 } = options;
  const run = async (ms: number) => {
    const end = performance.now() + ms;
    let cycles = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async (_, loop) => {
        while (performance.now() < end) {
          await cycle(loop);
          cycles++;
        }
      }),
    );
    return cycles;
  };
  await run(warmUpSeconds * 1000);
  const cpu = async () =>
    (await Promise.all([pid, Deno.pid].map(processStats))).map((stats) =>
      stats.cpuSeconds
    );
  const [serverBefore, loadBefore] = await cpu();
  const start = performance.now();
  const cycles = await run(seconds * 1000);
  const elapsed = (performance.now() - start) / 1000;
  const [serverAfter, loadAfter] = await cpu();
  return {
    cyclesPerSecond: cycles / elapsed,
    serverCpuMicros: (serverAfter! - serverBefore!) * 1e6 / cycles,
    loadCoreShare: (loadAfter! - loadBefore!) / elapsed,
  };
}

/** Options of {@linkcode sessionCycles}. */
export interface SessionCycleOptions extends CycleOptions {
  /**
   * Lease each item (put → Pop with a lease → Ack in the same Session);
   * else put → Pop.
   *
   * @default {true}
   */
  lease?: boolean;
  /**
   * How many Sessions (each on its own connection) the loops share, loop i
   * using Session i modulo this; the commands of one turn go out in one
   * write per Session.
   *
   * @default {8}
   */
  sessions?: number;
}

/**
 * Cycles against queue-server `server` through {@linkcode SessionClient}s,
 * in this process: each cycle puts an item, pops one (leased, with `lease`,
 * and then acked), each command waiting for the one before; every answer
 * is checked.
 */
export async function sessionCycles(
  server: RunningServer,
  options: SessionCycleOptions = {},
): Promise<CycleResult> {
  const { lease = true, sessions = 8 } = options;
  const address = parseHostPort(`127.0.0.1:${server.port}`);
  const clients = Array.from({ length: sessions }, () => {
    const unary = new QueueClient(address);
    return { unary, session: new SessionClient(unary) };
  });
  const cycle = async (loop: number) => {
    const { session } = clients[loop % sessions]!;
    if (!await session.put(ITEM)) throw new Error("A Put was refused");
    if (!lease) {
      if (await session.pop() === undefined) throw new Error("Pop found none");
      return;
    }
    const leased = await session.lease(LEASE_MS);
    if (leased === undefined) throw new Error("A leasing Pop found none");
    if (!await session.ack(leased.receipt)) throw new Error("Ack was false");
  };
  try {
    return await timedCycles(server.pid, cycle, options);
  } finally {
    for (const { unary, session } of clients) {
      session.close();
      unary.close();
    }
  }
}

/**
 * Cycles against beanstalkd `server` over one connection per loop: put a
 * job, `reserve-with-timeout 0`, `delete` it, each command waiting for the
 * one before.
 */
export async function beanstalkCycles(
  server: RunningServer,
  options: CycleOptions = {},
): Promise<CycleResult> {
  const { inFlight = 64 } = options;
  const connections: BeanstalkConnection[] = [];
  try {
    for (let i = 0; i < inFlight; i++) {
      connections.push(await BeanstalkConnection.open(server.port));
    }
    return await timedCycles(
      server.pid,
      (loop) => connections[loop]!.cycle(ITEM),
      options,
    );
  } finally {
    for (const connection of connections) connection[Symbol.dispose]();
  }
}
