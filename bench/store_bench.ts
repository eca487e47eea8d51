/**
 * The durable store's figures: fsync time of this disk, durable throughput
 * and latency next to the in-memory server, restart time with a million
 * items, RSS under `--max-bytes`, idle waiters, and the kill -9 soak.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { DatabaseSync } from "node:sqlite";
import { QueueClient } from "../task1/queue_client.ts";
import { queueServiceDefinition } from "../task1/proto.ts";
import { MemoryStore } from "../task1/store/memory.ts";
import { openSqliteStore } from "../task1/store/sqlite/mod.ts";
import { processStats, startServer, within } from "../tests/harness.ts";
import { crashRound } from "../tests/queue_crash.ts";
import { startQueueServer, type TargetServer } from "./queue_bench.ts";
import { percentile } from "./stats.ts";

const MIB = 1024 * 1024;

/** A temporary folder inside bench/ (where the bench may write). */
export async function benchDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({
    dir: new URL(".", import.meta.url).pathname,
    prefix: "store-",
  });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/**
 * The p50 of `commits` one-row transactions in an SQLite file in WAL mode
 * with `synchronous=FULL`, in milliseconds: what one fsync'd commit costs on
 * this disk.
 */
export async function fsyncP50Ms(commits = 300): Promise<number> {
  await using dir = await benchDir();
  const db = new DatabaseSync(`${dir.path}/fsync.db`);
  try {
    db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
    db.exec("CREATE TABLE t (seq INTEGER PRIMARY KEY, item TEXT)");
    const insert = db.prepare("INSERT INTO t (item) VALUES (?)");
    const times: number[] = [];
    for (let i = 0; i < commits; i++) {
      const start = performance.now();
      db.exec("BEGIN IMMEDIATE");
      insert.run("0123456789abcdef");
      db.exec("COMMIT");
      times.push(performance.now() - start);
    }
    return percentile(times, 50);
  } finally {
    db.close();
  }
}

/** A durable queue server on a new file in bench/, logging its commits. */
export async function startDurableServer(
  size: number,
): Promise<TargetServer & { commits(): Promise<Commits> }> {
  const dir = await benchDir();
  const server = await startQueueServer(size, [
    "--data",
    `${dir.path}/queue.db`,
  ]);
  let stopped: Promise<Commits> | undefined;
  const commits = () => {
    stopped ??= (async () => {
      const program = server.program!;
      program.kill("SIGTERM");
      await program.exit();
      const lines = await program.stderr.rest();
      const match = lines.join("\n").match(
        /wrote (\d+) changes in (\d+) commits/,
      );
      return { operations: Number(match?.[1]), commits: Number(match?.[2]) };
    })();
    return stopped;
  };
  return {
    ...server,
    commits,
    [Symbol.asyncDispose]: async () => {
      await server[Symbol.asyncDispose]();
      await dir[Symbol.asyncDispose]();
    },
  };
}

/** What a durable server's journal wrote. */
export interface Commits {
  /** Appends and removals written. */
  operations: number;
  /** Transactions committed. */
  commits: number;
}

/**
 * Milliseconds from starting `queue-server` on a file holding `items`
 * 16-byte items to its "listening" line, and the same for an in-memory
 * server as the reference.
 */
export async function restartMs(
  items: number,
): Promise<{ durable: number; memory: number }> {
  await using dir = await benchDir();
  const file = `${dir.path}/queue.db`;
  {
    await using store = await openSqliteStore(file, items);
    const puts: Promise<boolean>[] = [];
    for (let i = 0; i < items; i++) {
      puts.push(store.put(String(i).padStart(16, "0")));
    }
    await Promise.all(puts);
  }
  const time = async (args: string[]) => {
    const start = performance.now();
    await using server = await startServer("queue-server", [
      "0",
      String(items),
      "--host",
      "127.0.0.1",
      "--quiet",
      ...args,
    ]);
    const ms = performance.now() - start;
    using client = new QueueClient({
      hostname: "127.0.0.1",
      port: server.port,
    });
    if (args.length > 0 && (await client.size()) !== items) {
      throw new Error("The restarted server lost items");
    }
    return ms;
  };
  return { durable: await time(["--data", file]), memory: await time([]) };
}

/** What the RSS figure under `--max-bytes` measured. */
export interface MaxBytesResult {
  /** RSS of the idle server before the puts, in bytes. */
  idleRss: number;
  /** The highest RSS seen while puts were accepted and then refused. */
  peakRss: number;
  /** Puts accepted before the first refusal. */
  accepted: number;
}

/**
 * Fills a server started with `--max-bytes maxBytes` with 1 MiB items from
 * 8 clients at once until it refuses, then offers 64 more each, sampling
 * the server's RSS every 50 ms.
 */
export async function maxBytesRss(maxBytes: number): Promise<MaxBytesResult> {
  await using server = await startQueueServer(1_000_000, [
    "--quiet",
    "--max-bytes",
    String(maxBytes),
  ]);
  const idleRss = (await processStats(server.pid)).rssBytes;
  let peakRss = idleRss;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peakRss = Math.max(peakRss, (await processStats(server.pid)).rssBytes);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const clients = Array.from(
    { length: 8 },
    () => new QueueClient({ hostname: "127.0.0.1", port: server.port }),
  );
  let accepted = 0;
  try {
    await within(
      Promise.all(clients.map(async (client, c) => {
        let refused = 0;
        for (let i = 0; refused < 64; i++) {
          const item = String.fromCharCode(97 + c).repeat(MIB - 8) +
            String(i).padStart(8, "0");
          if (await client.put(item)) accepted++;
          else refused++;
        }
      })),
      "the puts",
      300_000,
    );
  } finally {
    sampling = false;
    await sampler;
    for (const client of clients) client.close();
  }
  return { idleRss, peakRss, accepted };
}

/** A raw client's waiting Pop: resolves to the item, or undefined. */
function waitingPop(
  client: grpc.Client,
  waitMs: number,
): { call: grpc.ClientUnaryCall; item: Promise<string | undefined> } {
  const { Pop } = queueServiceDefinition();
  let call!: grpc.ClientUnaryCall;
  const item = new Promise<string | undefined>((resolve) => {
    call = client.makeUnaryRequest(
      Pop.path,
      Pop.requestSerialize,
      Pop.responseDeserialize,
      { wait_ms: waitMs },
      { deadline: Date.now() + waitMs + 10_000 },
      (error, response) => resolve(error ? undefined : response?.item),
    );
  });
  return { call, item };
}

/**
 * RSS of an in-memory server per idle waiting Pop, with `waiters` of them
 * waiting over connections of 32 calls (the server's per-connection limit);
 * then as many Puts, each of which must reach a waiter.
 */
export async function idleWaiterBytes(waiters: number): Promise<number> {
  await using server = await startQueueServer(10);
  const perConnection = 32;
  const clients = Array.from(
    { length: Math.ceil(waiters / perConnection) },
    () =>
      new grpc.Client(
        `127.0.0.1:${server.port}`,
        grpc.credentials.createInsecure(),
        { "grpc.use_local_subchannel_pool": 1 },
      ),
  );
  using probe = new QueueClient({ hostname: "127.0.0.1", port: server.port });
  try {
    await probe.size();
    const before = (await processStats(server.pid)).rssBytes;
    // At most 128 calls may be receiving their first message at once, and
    // a connection with no call is closed after the handshake timeout
    // (docs/queue.md): each connection is made, then given its 32 waiters,
    // before the next.
    const pops: ReturnType<typeof waitingPop>[] = [];
    for (const [index, client] of clients.entries()) {
      await new Promise<void>((resolve, reject) =>
        client.waitForReady(
          Date.now() + 10_000,
          (error) => error ? reject(error) : resolve(),
        )
      );
      const count = Math.min(perConnection, waiters - index * perConnection);
      for (let i = 0; i < count; i++) pops.push(waitingPop(client, 600_000));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // The waiters have all arrived once the server's RSS stops growing.
    let after = before;
    for (let i = 0, steady = 0; i < 120 && steady < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const rss = (await processStats(server.pid)).rssBytes;
      steady = Math.abs(rss - after) < after / 200 ? steady + 1 : 0;
      after = rss;
    }
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < waiters) await probe.put(`w${next++}`);
    }));
    const items = await within(
      Promise.all(pops.map((pop) => pop.item)),
      "every waiter to get an item",
      120_000,
    );
    if (items.some((item) => item === undefined) || await probe.size() !== 0) {
      throw new Error("A Put did not reach a waiting Pop");
    }
    return (after - before) / waiters;
  } finally {
    for (const client of clients) client.close();
  }
}

/**
 * The store's own share of a waiting Pop: V8 heap per waiter of a
 * {@linkcode MemoryStore} in this process holding `waiters` waiting pops,
 * each with its own AbortSignal as the server gives it.
 */
export async function storeWaiterBytes(waiters: number): Promise<number> {
  const store = new MemoryStore(10);
  const before = Deno.memoryUsage().heapUsed;
  const pops = Array.from(
    { length: waiters },
    () =>
      store.pop({ waitMs: 600_000, signal: new AbortController().signal })
        .catch(() => undefined),
  );
  const perWaiter = (Deno.memoryUsage().heapUsed - before) / waiters;
  await store.close();
  await Promise.all(pops);
  return perWaiter;
}

/**
 * Wake-up latency p50 over `rounds`: from sending a Put to the answer of a
 * Pop that was already waiting, next to an ordinary Size round trip.
 */
export async function wakeUpMs(
  rounds: number,
): Promise<{ wakeUp: number; roundTrip: number }> {
  await using server = await startQueueServer(10);
  const waiter = new grpc.Client(
    `127.0.0.1:${server.port}`,
    grpc.credentials.createInsecure(),
    { "grpc.use_local_subchannel_pool": 1 },
  );
  using putter = new QueueClient({ hostname: "127.0.0.1", port: server.port });
  try {
    const wakeUps: number[] = [];
    const roundTrips: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const pop = waitingPop(waiter, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 5));
      let start = performance.now();
      await putter.size();
      roundTrips.push(performance.now() - start);
      start = performance.now();
      await putter.put(`i${i}`);
      if (await pop.item !== `i${i}`) throw new Error("Woke with no item");
      wakeUps.push(performance.now() - start);
    }
    return {
      wakeUp: percentile(wakeUps, 50),
      roundTrip: percentile(roundTrips, 50),
    };
  } finally {
    waiter.close();
  }
}

/** What the kill -9 soak saw over all its rounds. */
export interface SoakResult {
  /** Rounds run, each ending in a kill -9. */
  kills: number;
  /** Puts answered True, over all rounds. */
  acknowledged: number;
  /** Items Pops returned. */
  popped: number;
  /** Items found after the restarts. */
  survivors: number;
  /** Acknowledged items taken by Pops that the kill left unanswered. */
  takenByUnansweredPops: number;
  /** Broken promises: lost, resurrected, duplicated or reordered items. */
  problems: string[];
}

/** Runs `kills` crash rounds on one file (see `tests/queue_crash.ts`). */
export async function killSoak(kills: number): Promise<SoakResult> {
  await using dir = await benchDir();
  const total: SoakResult = {
    kills: 0,
    acknowledged: 0,
    popped: 0,
    survivors: 0,
    takenByUnansweredPops: 0,
    problems: [],
  };
  for (let round = 0; round < kills; round++) {
    if (round % 10 === 0) console.error(`  kill ${round + 1} of ${kills}`);
    const result = await crashRound(`${dir.path}/queue.db`, round, {
      maxCallsBeforeKill: 2000,
    });
    total.kills++;
    total.acknowledged += result.acknowledged;
    total.popped += result.popped;
    total.survivors += result.survivors;
    total.takenByUnansweredPops += result.takenByUnansweredPops;
    total.problems.push(...result.problems.map((p) => `round ${round}: ${p}`));
  }
  return total;
}
