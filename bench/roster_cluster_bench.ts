/**
 * The roster cluster's figures: churn over 3 nodes against one server alone,
 * Redis's work per change, and how long a killed node's names linger.
 *
 * @module
 */
import { newRedisClient, type RedisClient } from "../lib/redis/mod.ts";
import {
  type StartedServer,
  startRosterNodes,
  startServer,
  within,
} from "../tests/harness.ts";
import { startRedis } from "../tests/redis.ts";
import { rosterLineLength, RosterLoad } from "./roster_load.ts";
import { percentile } from "./stats.ts";

/** Bounds every phase of a figure, so a stuck run fails instead of hanging. */
const PHASE_LIMIT_MS = 600_000;

/** How long the Redis traffic without changes is measured, in milliseconds. */
const IDLE_MS = 3000;

/** What one cluster churn run measured. */
export interface ClusterChurnResult {
  /** Latency from each event until every reader had its roster, in ms. */
  latenciesMs: number[];
  /**
   * Redis commands per event (scripts and log reads), less the renewals,
   * pings and idle log reads that go on at the same rate without changes;
   * 0 for a server alone.
   */
  commandsPerEvent: number;
  /** Bytes into and out of Redis per event, less the idle traffic. */
  bytesPerEvent: number;
  /** Redis commands per second while nothing changes (all nodes). */
  idleCommandsPerSecond: number;
}

/** Redis's counters of commands run and bytes in and out. */
async function redisCounters(
  client: RedisClient,
): Promise<{ commands: number; bytes: number }> {
  const text = await client.info("all");
  let commands = 0;
  for (const match of text.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) {
    commands += Number(match[1]);
  }
  const number = (field: string) =>
    Number(text.match(new RegExp(`^${field}:(\\d+)`, "m"))?.[1] ?? NaN);
  return {
    commands,
    bytes: number("total_net_input_bytes") + number("total_net_output_bytes"),
  };
}

/** Spreads `readers` named clients over `loads` in turn; resolves once all have joined. */
async function joinReaders(
  loads: RosterLoad[],
  names: string[],
): Promise<void> {
  const length = rosterLineLength(names);
  const settled = Promise.all(loads.map((load) => load.expect(length)));
  for (const [index, name] of names.entries()) {
    await loads[index % loads.length]!.join(name);
  }
  await within(settled, `${names.length} readers to join`, PHASE_LIMIT_MS);
}

/**
 * Churn over `nodes` servers: `readers` clients spread over them, then one
 * more client joins and leaves `cycles` times, on each node in turn. With
 * `redis` false, one server alone (no `--redis`) is the reference.
 */
export async function clusterChurn(
  readers: number,
  nodes: number,
  cycles: number,
  redis = true,
): Promise<ClusterChurnResult> {
  await using server = await startRedis();
  const servers: StartedServer[] = redis
    ? await startRosterNodes(server.url, nodes, ["--quiet"])
    : [
      await startServer("roster-server", [
        "0",
        "--host",
        "127.0.0.1",
        "--quiet",
      ]),
    ];
  const loads = servers.map((node) => new RosterLoad(node.port));
  const client = newRedisClient(server.url, { deadlineMs: 5000 });
  await client.connect();
  try {
    const names = Array.from({ length: readers }, (_, i) => `reader${i}`);
    await joinReaders(loads, names);
    const baseLength = rosterLineLength(names);
    const joinedLength = rosterLineLength([...names, "churner"]);
    // Renewals, pings and idle log reads go on whatever happens: measure
    // their rate while nothing changes, to take them out of the figures.
    const idleStart = await redisCounters(client);
    const idleFrom = performance.now();
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const before = await redisCounters(client);
    const idleMs = performance.now() - idleFrom;
    const startedAt = performance.now();
    const latenciesMs: number[] = [];
    for (let i = 0; i < cycles; i++) {
      const load = loads[i % loads.length]!;
      const joined = Promise.all(loads.map((l) => l.expect(joinedLength)));
      const joinAt = performance.now();
      const churner = await load.join("churner", false);
      const joinedAt = Math.max(
        ...await within(joined, "a join", PHASE_LIMIT_MS),
      );
      latenciesMs.push(joinedAt - joinAt);
      const left = Promise.all(loads.map((l) => l.expect(baseLength)));
      const leaveAt = performance.now();
      load.leave(churner);
      const leftAt = Math.max(...await within(left, "a leave", PHASE_LIMIT_MS));
      latenciesMs.push(leftAt - leaveAt);
    }
    const after = await redisCounters(client);
    const busyMs = performance.now() - startedAt;
    const events = latenciesMs.length;
    // Each difference of counters includes one INFO call reading them.
    const idleCommands = (before.commands - idleStart.commands - 1) / idleMs;
    const idleBytes = (before.bytes - idleStart.bytes) / idleMs;
    return {
      latenciesMs,
      commandsPerEvent:
        (after.commands - before.commands - 1 - idleCommands * busyMs) /
        events,
      bytesPerEvent: (after.bytes - before.bytes - idleBytes * busyMs) /
        events,
      idleCommandsPerSecond: idleCommands * 1000,
    };
  } finally {
    client.destroy();
    for (const load of loads) await load[Symbol.asyncDispose]();
    for (const node of servers) await node[Symbol.asyncDispose]();
  }
}

/** The p50 and p99 of churn latencies, in milliseconds. */
export function clusterPercentiles(
  result: ClusterChurnResult,
): [number, number] {
  return [
    percentile(result.latenciesMs, 50),
    percentile(result.latenciesMs, 99),
  ];
}

/**
 * Kills (SIGKILL) one of 3 nodes that holds `doomed` of `total` clients and
 * resolves to the seconds until every surviving client has the roster
 * without them; the nodes run with the default TTL of 3 s.
 */
export async function killedNodeSeconds(
  total: number,
  doomed: number,
): Promise<number> {
  await using server = await startRedis();
  const nodes = await startRosterNodes(server.url, 3, ["--quiet"]);
  const loads = nodes.map((node) => new RosterLoad(node.port));
  try {
    const names = Array.from({ length: total }, (_, i) => `c${i}`);
    const [victimLoad, ...survivorLoads] = loads as [
      RosterLoad,
      ...RosterLoad[],
    ];
    const everyone = Promise.all(
      loads.map((load) => load.expect(rosterLineLength(names))),
    );
    const survivors: string[] = [];
    for (const [index, name] of names.entries()) {
      if (index < doomed) {
        await victimLoad.join(name);
      } else {
        survivors.push(name);
        await survivorLoads[index % survivorLoads.length]!.join(name);
      }
    }
    await within(everyone, `${total} clients to join`, PHASE_LIMIT_MS);
    const gone = Promise.all(
      survivorLoads.map((load) => load.expect(rosterLineLength(survivors))),
    );
    const killedAt = performance.now();
    nodes[0]!.server.kill("SIGKILL");
    const at = Math.max(...await within(gone, "the survivors", PHASE_LIMIT_MS));
    return (at - killedAt) / 1000;
  } finally {
    for (const load of loads) await load[Symbol.asyncDispose]();
    for (const node of nodes) await node[Symbol.asyncDispose]();
  }
}
