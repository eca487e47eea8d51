/**
 * The roster server's figures: storm, idle, churn and stalled readers, each
 * against the real server started as the tests start it.
 *
 * @module
 */
import { cpuUsage } from "node:process";
import {
  LineQueue,
  processStats,
  startServer,
  within,
} from "../tests/harness.ts";
import { pinServer } from "./cpu_pin.ts";
import { type RunningServer, startPeer } from "./peers.ts";
import {
  type RosterConnect,
  rosterLineLength,
  RosterLoad,
} from "./roster_load.ts";
import { percentile } from "./stats.ts";

/**
 * Which roster server a figure runs against: ours, or the peer, the seed's
 * design written plainly in Python.
 */
export type RosterPeer = "roster-server" | "python";

/** What one storm run measured. */
export interface StormResult {
  /** Wall time until every client's newest line was the full roster. */
  seconds: number;
  /** Bytes the clients received. */
  bytes: number;
  /** Server CPU time, in seconds. */
  serverCpuSeconds: number;
  /** The load generator's own CPU time, in seconds. */
  generatorCpuSeconds: number;
  /** Server RSS growth per client, with every client holding the roster. */
  rssPerClient: number;
}

/** Bounds every phase of a figure, so a stuck run fails instead of hanging. */
const PHASE_LIMIT_MS = 600_000;

/**
 * Starts `peer` on a free port, pinned to the server core; `args` go to
 * roster-server only (the peer takes none).
 */
async function startRoster(
  peer: RosterPeer,
  args: string[] = [],
): Promise<RunningServer> {
  if (peer === "python") return await startPeer("task2/server.py");
  const started = await startServer("roster-server", [
    ...["0", "--host", "127.0.0.1", "--quiet"],
    ...args,
  ]);
  const { pid } = started.server.process;
  await pinServer(pid);
  return {
    port: started.port,
    pid,
    [Symbol.asyncDispose]: () => started[Symbol.asyncDispose](),
  };
}

function namesFor(count: number, prefix = "client"): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`);
}

function generatorCpuSince(start: NodeJS.CpuUsage): number {
  const { user, system } = cpuUsage(start);
  return (user + system) / 1e6;
}

/**
 * Storm: `count` clients connect one after another as fast as they can
 * (`together` at a time) to `peer` (roster-server started with
 * `serverArgs`); the run ends when every client's newest line is
 * the full roster of all, and then they stay connected while the server's
 * RSS is read (the idle figure).
 */
export async function storm(
  count: number,
  peer: RosterPeer = "roster-server",
  together = 1,
  serverArgs: string[] = [],
): Promise<StormResult> {
  await using started = await startRoster(peer, serverArgs);
  await using load = new RosterLoad(started.port);
  const { pid } = started;
  const names = namesFor(count);
  await warmUp(load);
  const before = await processStats(pid);
  const cpuStart = cpuUsage();
  const allFull = load.expect(rosterLineLength(names));
  const start = performance.now();
  const end = await within(
    (async () => {
      for (let i = 0; i < count; i += together) {
        await Promise.all(
          names.slice(i, i + together).map((name) => load.join(name)),
        );
      }
      return await allFull;
    })(),
    `storm of ${count}`,
    PHASE_LIMIT_MS,
  );
  const generatorCpuSeconds = generatorCpuSince(cpuStart);
  const after = await processStats(pid);
  return {
    seconds: (end - start) / 1000,
    bytes: load.bytes,
    serverCpuSeconds: after.cpuSeconds - before.cpuSeconds,
    generatorCpuSeconds,
    rssPerClient: (after.rssBytes - before.rssBytes) / count,
  };
}

/**
 * One client joins, gets its roster and leaves, so the figures that follow
 * count what each client costs, not the server's first use of its code
 * (pages of the executable, compiled code) that any first client pays.
 */
async function warmUp(load: RosterLoad): Promise<void> {
  const name = "warmup";
  const received = load.expect(name.length);
  const client = await load.join(name);
  await within(received, "the warm-up client's roster", PHASE_LIMIT_MS);
  load.leave(client);
  // Let both sides see the leave before anything is measured.
  await new Promise((resolve) => setTimeout(resolve, 200));
}

/**
 * The idle figure's reference: server RSS per connection, in bytes, for
 * `count` connections that never send a name, so no roster traffic at all.
 */
export async function silentConnectionBytes(count: number): Promise<number> {
  await using started = await startRoster("roster-server", [
    "--handshake-timeout",
    "600",
  ]);
  const { pid } = started;
  const before = await processStats(pid);
  const conns: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < count; i++) {
      conns.push(
        await Deno.connect({ hostname: "127.0.0.1", port: started.port }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = await processStats(pid);
    return (after.rssBytes - before.rssBytes) / count;
  } finally {
    for (const conn of conns) conn.close();
  }
}

/** What one churn run measured. */
export interface ChurnResult {
  /** Latency from each event until every reader had its roster, in ms. */
  latenciesMs: number[];
  /** Server CPU time per event, in milliseconds. */
  serverCpuMsPerEvent: number;
  /** Server RSS growth over the churn, in bytes. */
  rssGrowth: number;
}

/** Options of {@linkcode churn}. */
export interface ChurnOptions {
  /** Joined clients that never read. @default {0} */
  stalled?: number;
  /** Join+leave cycles at most. @default {Infinity} */
  cycles?: number;
  /** How long to churn at most, in milliseconds. @default {Infinity} */
  durationMs?: number;
  /** Extra flags for the server, such as TLS. @default {[]} */
  serverArgs?: string[];
  /** How each client connects. @default {plain TCP} */
  connect?: RosterConnect;
  /** The server to churn. @default {"roster-server"} */
  peer?: RosterPeer;
}

/**
 * Churn: with `readers` clients connected (plus any stalled ones), one more
 * client joins then leaves repeatedly; measures, per event, the time until
 * every reader has the new roster.
 */
export async function churn(
  readers: number,
  options: ChurnOptions = {},
): Promise<ChurnResult> {
  const {
    stalled = 0,
    cycles = Infinity,
    durationMs = Infinity,
    peer = "roster-server",
  } = options;
  await using started = await startRoster(peer, options.serverArgs);
  await using load = new RosterLoad(started.port, options.connect);
  const { pid } = started;
  const readerNames = namesFor(readers, "reader");
  const stalledNames = namesFor(stalled, "stalled");
  const base = [...readerNames, ...stalledNames];
  const baseLength = rosterLineLength(base);
  const churnName = "churner";
  const joinedLength = rosterLineLength([...base, churnName]);

  const settled = load.expect(baseLength);
  for (const name of stalledNames) await load.join(name, false);
  for (const name of readerNames) await load.join(name);
  await within(settled, `${readers} readers to join`, PHASE_LIMIT_MS);

  const before = await processStats(pid);
  const latenciesMs: number[] = [];
  const deadline = performance.now() + durationMs;
  for (let i = 0; i < cycles && performance.now() < deadline; i++) {
    const joined = load.expect(joinedLength);
    const joinAt = performance.now();
    const churner = await load.join(churnName, false);
    latenciesMs.push(await within(joined, "a join", PHASE_LIMIT_MS) - joinAt);
    const left = load.expect(baseLength);
    const leaveAt = performance.now();
    load.leave(churner);
    latenciesMs.push(await within(left, "a leave", PHASE_LIMIT_MS) - leaveAt);
  }
  const after = await processStats(pid);
  return {
    latenciesMs,
    serverCpuMsPerEvent: (after.cpuSeconds - before.cpuSeconds) * 1000 /
      latenciesMs.length,
    rssGrowth: after.rssBytes - before.rssBytes,
  };
}

/** The p50 and p99 of churn latencies, in milliseconds. */
export function latencyPercentiles(result: ChurnResult): [number, number] {
  return [
    percentile(result.latenciesMs, 50),
    percentile(result.latenciesMs, 99),
  ];
}

/**
 * The loopback reference: bytes per second that one sender streaming a
 * reused 64 KiB buffer gets to one receiver over 127.0.0.1 in `ms`.
 */
export async function loopbackBytesPerSecond(ms = 2000): Promise<number> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const receiving = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(64 * 1024);
    let bytes = 0;
    try {
      for (
        let n = await conn.read(buffer);
        n !== null;
        n = await conn.read(buffer)
      ) {
        bytes += n;
      }
    } finally {
      conn.close();
    }
    return bytes;
  })();
  const sender = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      new URL("./loopback_sender.ts", import.meta.url).pathname,
      String(listener.addr.port),
      String(ms),
    ],
    stdout: "null",
  }).spawn();
  const bytes = await within(receiving, "the loopback reference", ms + 30_000);
  await sender.status;
  return bytes / (ms / 1000);
}

/**
 * The fan-out floor: server CPU per recipient, in microseconds, of a bare
 * Deno process writing one `length`-byte line to each of `count` sockets
 * read by the same load generator, `rounds` times.
 */
export async function fanoutFloorMicros(
  count: number,
  length: number,
  rounds: number,
): Promise<number> {
  const writer = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      new URL("./fanout_writer.ts", import.meta.url).pathname,
      String(count),
      String(length),
    ],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stdin = writer.stdin.getWriter();
  try {
    await pinServer(writer.pid);
    const first = await new LineQueue(writer.stderr).next();
    const port = Number(first?.match(/:(\d+)$/)?.[1]);
    await using load = new RosterLoad(port);
    for (let i = 0; i < count; i++) await load.join("");
    const before = await processStats(writer.pid);
    for (let i = 0; i < rounds; i++) {
      const received = load.expect(length - 1);
      await stdin.write(new TextEncoder().encode("go\n"));
      await within(received, "a fan-out round", PHASE_LIMIT_MS);
    }
    const after = await processStats(writer.pid);
    return (after.cpuSeconds - before.cpuSeconds) * 1e6 / (count * rounds);
  } finally {
    writer.kill("SIGKILL");
    await writer.status;
  }
}
