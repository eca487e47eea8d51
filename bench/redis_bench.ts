/**
 * The Redis store's figures: put+pop throughput of 1, 2 and 3 queue-servers
 * sharing one Redis, with the CPU per call of each part, and Redis's memory
 * per queued item.
 *
 * @module
 */
import { connectRedis, newRedisClient } from "../lib/redis/mod.ts";
import { processStats } from "../tests/harness.ts";
import { type RedisServer, startRedis } from "../tests/redis.ts";
import { openRedisStore } from "../task1/store/redis/mod.ts";
import {
  h2loadRun,
  startQueueServer,
  type TargetServer,
} from "./queue_bench.ts";

/** What one run of {@linkcode sharedThroughput} measured. */
export interface SharedResult {
  /** Completed calls per second over all servers. */
  callsPerSecond: number;
  /** CPU time of all the queue-servers per call, in microseconds. */
  serverCpuMicros: number;
  /** CPU time of redis-server per call, in microseconds. */
  redisCpuMicros: number;
}

/**
 * Put+pop throughput of `servers` queue-servers sharing one fresh Redis:
 * one h2load per server at the same time, `calls` calls in all, 64 streams
 * each.
 */
export async function sharedThroughput(
  servers: number,
  calls: number,
): Promise<SharedResult> {
  await using redis = await startRedis();
  const started: TargetServer[] = [];
  try {
    for (let i = 0; i < servers; i++) {
      started.push(
        await startQueueServer(1_000_000, ["--quiet", "--redis", redis.url]),
      );
    }
    const cpu = async () => {
      const parts = await Promise.all(
        [redis.pid, ...started.map((server) => server.pid)].map(processStats),
      );
      return parts.map((part) => part.cpuSeconds);
    };
    const before = await cpu();
    const start = performance.now();
    await Promise.all(
      started.map((server) =>
        h2loadRun(server, "put+pop", 64, Math.floor(calls / servers))
      ),
    );
    const wall = (performance.now() - start) / 1000;
    const after = await cpu();
    const used = after.map((value, i) => value - before[i]!);
    const total = Math.floor(calls / servers) * servers;
    return {
      callsPerSecond: total / wall,
      redisCpuMicros: used[0]! * 1e6 / total,
      serverCpuMicros: used.slice(1).reduce((a, b) => a + b, 0) * 1e6 / total,
    };
  } finally {
    for (const server of started) await server[Symbol.asyncDispose]();
  }
}

/**
 * Redis's `used_memory` growth per queued 16-byte item, after `items` puts
 * through the store (one list entry each, plus the counters).
 */
export async function redisBytesPerItem(items: number): Promise<number> {
  await using redis = await startRedis();
  const used = () => usedMemory(redis);
  const { store } = await openRedisStore(redis.url, items);
  await using _store = store;
  const before = await used();
  for (let done = 0; done < items;) {
    const batch: Promise<boolean>[] = [];
    for (let i = 0; i < 1000 && done < items; i++, done++) {
      batch.push(store.put(String(done).padStart(16, "0")));
    }
    if (!(await Promise.all(batch)).every(Boolean)) {
      throw new Error("A put into Redis was refused");
    }
  }
  return (await used() - before) / items;
}

/** Redis's `used_memory`, in bytes. */
async function usedMemory(redis: RedisServer): Promise<number> {
  const client = newRedisClient(redis.url, { deadlineMs: 5000 });
  try {
    await connectRedis(client, 5000);
    const info = await client.info("memory");
    return Number(info.match(/used_memory:(\d+)/)?.[1]);
  } finally {
    client.destroy();
  }
}
