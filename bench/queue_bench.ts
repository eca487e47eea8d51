/**
 * The queue server's figures: unary throughput, latency and server CPU per
 * call against the no-op grpc-js reference, memory per queued item, and the
 * one-shot client's start-up time.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import http2 from "node:http2";
import { parseHostPort } from "../lib/address.ts";
import { QueueClient } from "../task1/queue_client.ts";
import { Utf8Queue } from "../task1/utf8_queue.ts";
import {
  commandSucceeds,
  LineQueue,
  processStats,
  type RunningProgram,
  spawnProgram,
  startServer,
  within,
} from "../tests/harness.ts";
import { PROGRAMS } from "../scripts/programs.ts";
import { pinServer } from "./cpu_pin.ts";
import { type RunningServer, startPeer } from "./peers.ts";
import { percentile } from "./stats.ts";

/** A queue server under test: its port and process id. */
export interface TargetServer extends RunningServer {
  /** The queue server's process, for its log; absent for the other servers. */
  program?: RunningProgram;
}

/**
 * Starts the real queue server with capacity `size` and the options in
 * `extra` (`--quiet` unless `extra` is given), pinned to the server core.
 * With `v8Flags`, it runs from source with the build's permissions and
 * exactly these V8 options instead of the build's.
 */
export async function startQueueServer(
  size: number,
  extra: string[] = ["--quiet"],
  v8Flags?: readonly string[],
): Promise<TargetServer> {
  const args = ["0", String(size), "--host", "127.0.0.1", ...extra];
  if (v8Flags !== undefined) return await startWithV8Flags(args, v8Flags);
  const started = await startServer("queue-server", [
    "0",
    String(size),
    "--host",
    "127.0.0.1",
    ...extra,
  ]);
  await pinServer(started.server.process.pid);
  return {
    port: started.port,
    pid: started.server.process.pid,
    program: started.server,
    [Symbol.asyncDispose]: () => started[Symbol.asyncDispose](),
  };
}

/**
 * Two sets of V8 options for queue-server, measured side by side by the
 * `v8` section: the build's (4 MiB semi-spaces, old generation growth of
 * 50%), and only what the heap limit and the large-item collector need.
 */
export const V8_OPTION_SETS = {
  "4 MiB semi-spaces, 50% heap growth": [
    "--max-old-space-size=8192",
    "--expose-gc",
    "--max-semi-space-size=4",
    "--heap-growing-percent=50",
  ],
  "heap limit and --expose-gc only": [
    "--max-old-space-size=8192",
    "--expose-gc",
  ],
} as const satisfies Record<string, readonly string[]>;

/** Whether `flags` are exactly the V8 options queue-server is built with. */
export function isBuildV8Flags(flags: readonly string[]): boolean {
  const build: readonly string[] = PROGRAMS["queue-server"].v8Flags ?? [];
  return build.join() === flags.join();
}

/** Runs queue-server from source with `v8Flags`, pinned to the server core. */
async function startWithV8Flags(
  args: string[],
  v8Flags: readonly string[],
): Promise<TargetServer> {
  const spec = PROGRAMS["queue-server"];
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      ...spec.permissions,
      `--v8-flags=${v8Flags.join(",")}`,
      spec.entry,
      ...args,
    ],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new LineQueue(process.stderr);
  const first = await stderr.next();
  const port = Number(first?.match(/listening on .*:(\d+)$/)?.[1]);
  if (!port) {
    process.kill("SIGKILL");
    await process.status;
    throw new Error(`queue-server did not report its port; it said: ${first}`);
  }
  return await pinnedUntilDisposed(
    process,
    port,
    () => stderr.rest().catch(() => {}),
  );
}

/** Starts the no-op reference server, with the queue server's permissions. */
export async function startNoopServer(): Promise<TargetServer> {
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-net",
      "--allow-env",
      new URL("./noop_queue_server.ts", import.meta.url).pathname,
      "0",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const first = await new LineQueue(process.stderr).next();
  const port = Number(first?.match(/:(\d+)$/)?.[1]);
  if (!port) throw new Error(`The no-op server said: ${first}`);
  return await pinnedUntilDisposed(process, port);
}

/**
 * Pins the server `process` listening on `port` to the server core and
 * returns its handle: disposing it kills the process, waits for it and then
 * runs `after`.
 */
async function pinnedUntilDisposed(
  process: Deno.ChildProcess,
  port: number,
  after?: () => Promise<unknown>,
): Promise<TargetServer> {
  await pinServer(process.pid);
  return {
    port,
    pid: process.pid,
    [Symbol.asyncDispose]: async () => {
      process.kill("SIGKILL");
      await process.status;
      await after?.();
    },
  };
}

/** What one load run measured. */
export interface LoadResult {
  /** Completed calls per second. */
  callsPerSecond: number;
  /** Server CPU time per call, in microseconds. */
  serverCpuMicros: number;
  /** Median latency, in milliseconds, when the generator records it. */
  p50Ms?: number;
}

/** The RPCs a load run calls, in turn. */
export type Workload = "put+pop" | "size";

/** Options of {@linkcode h2loadRun}. */
export interface H2loadOptions {
  /** Connect with TLS (h2load negotiates h2 by ALPN and checks no names). */
  tls?: boolean;
  /** Extra request headers, such as `authorization: Bearer ...`. */
  headers?: string[];
  /**
   * How many connections carry the streams.
   *
   * @default {Math.min(8, concurrency)}
   */
  connections?: number;
}

/** Whether h2load (Debian's nghttp2-client) is on PATH. */
export function hasH2load(): boolean {
  return commandSucceeds("h2load", ["--version"]);
}

/**
 * The gRPC frame of an empty message: a valid request for Put (an empty
 * item), Pop (no wait) and Size alike.
 */
const EMPTY_FRAME = new Uint8Array(5);

/** The gRPC frame of a PutRequest with a 16-byte item. */
function putFrame(): Uint8Array {
  const item = new TextEncoder().encode("0123456789abcdef");
  const message = new Uint8Array([0x0a, item.length, ...item]);
  const frame = new Uint8Array(5 + message.length);
  new DataView(frame.buffer).setUint32(1, message.length);
  frame.set(message, 5);
  return frame;
}

/**
 * Sends `body` once to each of `methods` and throws unless every answer ends
 * with grpc-status 0: h2load counts a call that failed in gRPC (HTTP 200
 * with the error in the trailers) as a success, so its bodies are checked
 * before its figures are believed.
 */
export async function checkGrpcBodies(
  port: number,
  methods: readonly string[],
  body: Uint8Array,
  options: H2loadOptions = {},
): Promise<void> {
  const { tls = false, headers = [] } = options;
  // The bench's own certificate is trusted as h2load trusts it: unchecked.
  const session = tls
    ? http2.connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false })
    : http2.connect(`http://127.0.0.1:${port}`);
  const extraHeaders = Object.fromEntries(
    headers.map((header) => {
      const at = header.indexOf(":");
      return [header.slice(0, at).trim(), header.slice(at + 1).trim()];
    }),
  );
  session.on("error", () => {});
  try {
    for (const method of methods) {
      const status = await within(
        new Promise<string>((resolve, reject) => {
          const stream = session.request({
            ":method": "POST",
            ":path": `/queue.v1.QueueService/${method}`,
            "content-type": "application/grpc",
            "te": "trailers",
            ...extraHeaders,
          });
          stream.on("trailers", (trailers) => {
            resolve(String(trailers["grpc-status"]));
          });
          stream.on("response", (headers) => {
            // A trailers-only answer carries its status in the headers.
            if (headers["grpc-status"] !== undefined) {
              resolve(String(headers["grpc-status"]));
            }
          });
          stream.on("error", reject);
          stream.resume();
          stream.end(Buffer.from(body));
        }),
        `a ${method} call`,
      );
      if (status !== "0") {
        throw new Error(
          `The load generator's ${method} body fails with grpc-status ${status}`,
        );
      }
    }
  } finally {
    session.close();
  }
}

/**
 * Runs h2load against `server`: `calls` gRPC calls at `concurrency` streams
 * over up to 8 connections, alternating Put and Pop or Size only, or Puts or
 * Pops only, and resolves to the calls per second. Put and Pop get the empty
 * message (an empty item, no wait); Puts alone get a 16-byte item. Each body
 * is checked with {@linkcode checkGrpcBodies} first.
 */
export async function h2load(
  server: TargetServer,
  workload: Workload | "put" | "pop",
  concurrency: number,
  calls: number,
  options: H2loadOptions = {},
): Promise<number> {
  const { tls = false, headers = [] } = options;
  const body = await Deno.makeTempFile({
    dir: new URL(".", import.meta.url).pathname,
    suffix: ".grpc",
  });
  try {
    const frame = workload === "put" ? putFrame() : EMPTY_FRAME;
    await Deno.writeFile(body, frame);
    const { connections = Math.min(8, concurrency) } = options;
    const scheme = tls ? "https" : "http";
    const base = `${scheme}://127.0.0.1:${server.port}/queue.v1.QueueService/`;
    const uris = {
      "size": ["Size"],
      "put": ["Put"],
      "pop": ["Pop"],
      "put+pop": ["Put", "Pop"],
    }[workload];
    await checkGrpcBodies(server.port, uris, frame, options);
    const { stdout, success } = await within(
      new Deno.Command("h2load", {
        args: [
          ...["-n", String(calls), "-c", String(connections)],
          ...["-m", String(Math.ceil(concurrency / connections)), "-d", body],
          ...["-H", "content-type: application/grpc", "-H", "te: trailers"],
          ...headers.flatMap((header) => ["-H", header]),
          ...uris.map((method) => base + method),
        ],
        stderr: "null",
      }).output(),
      "h2load",
      Math.max(600_000, calls),
    );
    const text = new TextDecoder().decode(stdout);
    const rate = Number(text.match(/, ([\d.]+) req\/s/)?.[1]);
    const succeeded = Number(text.match(/(\d+) succeeded/)?.[1]);
    if (!success || !rate || succeeded !== calls) {
      throw new Error(`h2load failed: ${text.slice(-400)}`);
    }
    return rate;
  } finally {
    await Deno.remove(body);
  }
}

/** Drives `server` with h2load and measures its CPU time per call. */
export async function h2loadRun(
  server: TargetServer,
  workload: Workload,
  concurrency: number,
  calls: number,
  options: H2loadOptions = {},
): Promise<LoadResult> {
  const before = await processStats(server.pid);
  const callsPerSecond = await h2load(
    server,
    workload,
    concurrency,
    calls,
    options,
  );
  const after = await processStats(server.pid);
  return {
    callsPerSecond,
    serverCpuMicros: (after.cpuSeconds - before.cpuSeconds) * 1e6 / calls,
  };
}

/**
 * Drives `server` with grpc-js clients in this process: `calls` calls at
 * `concurrency` in flight, recording each call's latency.
 */
export async function grpcJsRun(
  server: TargetServer,
  workload: Workload,
  concurrency: number,
  calls: number,
): Promise<LoadResult> {
  using client = new QueueClient(parseHostPort(`127.0.0.1:${server.port}`));
  await client.size();
  const latencies: number[] = [];
  let next = 0;
  const before = await processStats(server.pid);
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < calls) {
        const call = next++;
        const at = performance.now();
        if (workload === "size") await client.size();
        else if (call % 2 === 0) await client.put("0123456789abcdef");
        else await client.pop();
        latencies.push(performance.now() - at);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const after = await processStats(server.pid);
  return {
    callsPerSecond: calls / seconds,
    serverCpuMicros: (after.cpuSeconds - before.cpuSeconds) * 1e6 / calls,
    p50Ms: percentile(latencies, 50),
  };
}

/** What the memory figure measured. */
export interface MemoryResult {
  /** Server RSS growth per Put, in bytes. */
  perPut: number;
  /** Server RSS growth per Size call (the same traffic storing nothing). */
  perSize: number;
  /** The Python peer's RSS growth per Put, in bytes, if it ran. */
  peerPerPut?: number;
}

/**
 * Server RSS growth per call after `items` Puts of 16-byte items, and on a
 * fresh server after as many Size calls, which cost the same RPC garbage but
 * store nothing: the difference is what an item costs. With `peer`, the
 * Python peer's RSS growth per Put too, measured the same way.
 */
export async function memoryPerItem(
  items: number,
  useH2load: boolean,
  peer: boolean,
): Promise<MemoryResult> {
  const growth = async (
    start: () => Promise<TargetServer>,
    workload: "put" | "size",
  ) => {
    await using server = await start();
    const before = await processStats(server.pid);
    if (useH2load) await h2load(server, workload, 64, items);
    else await fill(server, workload, items);
    const after = await processStats(server.pid);
    return (after.rssBytes - before.rssBytes) / items;
  };
  const ours = () => startQueueServer(items);
  const python = () => startPeer("task1/server.py", [String(items)]);
  return {
    perPut: await growth(ours, "put"),
    perSize: await growth(ours, "size"),
    ...(peer ? { peerPerPut: await growth(python, "put") } : {}),
  };
}

/**
 * The queue core's live data per item, in bytes of V8 heap and of
 * `ArrayBuffer`s outside it: a {@linkcode Utf8Queue} in this process holding
 * `items` distinct 16-byte strings decoded from bytes, as the server's
 * items are.
 */
export function queueCoreBytesPerItem(items: number): number {
  const decoder = new TextDecoder();
  const bytes = new TextEncoder().encode("0123456789abcdef");
  const used = () => {
    const { heapUsed, external } = Deno.memoryUsage();
    return heapUsed + external;
  };
  const before = used();
  const queue = new Utf8Queue(items);
  for (let i = 0; i < items; i++) {
    bytes[i % 16] = 0x61 + (i % 26);
    queue.put(decoder.decode(bytes));
  }
  const perItem = (used() - before) / items;
  if (queue.size !== items) throw new Error("The queue lost items");
  return perItem;
}

/** Makes `calls` Put calls (for "put+pop") or Size calls, 64 in flight. */
async function fill(
  server: TargetServer,
  workload: "put" | "size",
  calls: number,
): Promise<void> {
  using client = new QueueClient(parseHostPort(`127.0.0.1:${server.port}`));
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next++ < calls) {
        if (workload === "size") await client.size();
        else await client.put("0123456789abcdef");
      }
    }),
  );
}

/** Wall time of one one-shot `queue-client ADDR size`, in milliseconds. */
export async function clientStartupMs(server: TargetServer): Promise<number> {
  const start = performance.now();
  await using client = spawnProgram("queue-client", [
    `127.0.0.1:${server.port}`,
    "size",
  ]);
  const { code } = await client.exit();
  if (code !== 0) throw new Error(`queue-client exited ${code}`);
  return performance.now() - start;
}

/** How the fill figures drive the server: one connection, 32 streams. */
const FILL_LOAD = { concurrency: 32, connections: 1 } as const;

/** What {@linkcode fillFigures} measured on one server. */
export interface FillResult {
  /** Puts per second of the first 100,000 Puts, into a new, empty queue. */
  emptyPutsPerSecond: number;
  /** Puts per second from 100,000 to 1,000,000 queued items. */
  largePutsPerSecond: number;
  /** Puts per second over the whole fill from 0 to 1,000,000 items. */
  fillPutsPerSecond: number;
  /** Server CPU per Put over the fill from 0 to 1,000,000, in microseconds. */
  fillCpuMicros: number;
  /** Server RSS growth per queued item at 1,000,000 items, in bytes. */
  perItemAt1M: number;
  /** RSS after the first fill to 1,000,000 items, in bytes. */
  firstFill: number;
  /** RSS after 1,000,000 Pops emptied the queue, in bytes. */
  drained: number;
  /** RSS after filling to 1,000,000 items again, in bytes. */
  secondFill: number;
  /** Server RSS growth per queued item at 3,000,000 items, if measured. */
  perItemAt3M?: number;
}

/**
 * Drives a new server of 3,000,000 slots with h2load (1 connection, 32
 * streams, 16-byte items): 100,000 Puts into the empty queue, Puts to
 * 1,000,000, 1,000,000 Pops, 1,000,000 Puts again, and with `to3M` Puts on
 * to 3,000,000. Takes the Put rates, the server's CPU, and its RSS after each
 * step; growth per item is gross (the calls' garbage counts too) and since
 * the idle server.
 */
export async function fillFigures(
  start: (size: number) => Promise<TargetServer>,
  to3M: boolean,
): Promise<FillResult> {
  await using server = await start(3_000_000);
  const stats = () => processStats(server.pid);
  const run = (workload: "put" | "pop", calls: number) =>
    h2load(server, workload, FILL_LOAD.concurrency, calls, FILL_LOAD);
  const idle = await stats();
  const emptyPutsPerSecond = await run("put", 100_000);
  const largePutsPerSecond = await run("put", 900_000);
  const filled = await stats();
  await run("pop", 1_000_000);
  const drained = (await stats()).rssBytes;
  await run("put", 1_000_000);
  const secondFill = (await stats()).rssBytes;
  let perItemAt3M: number | undefined;
  if (to3M) {
    await run("put", 2_000_000);
    perItemAt3M = ((await stats()).rssBytes - idle.rssBytes) / 3e6;
  }
  return {
    emptyPutsPerSecond,
    largePutsPerSecond,
    fillPutsPerSecond: 1e6 /
      (1e5 / emptyPutsPerSecond + 9e5 / largePutsPerSecond),
    fillCpuMicros: (filled.cpuSeconds - idle.cpuSeconds) * 1e6 / 1e6,
    perItemAt1M: (filled.rssBytes - idle.rssBytes) / 1e6,
    firstFill: filled.rssBytes,
    drained,
    secondFill,
    ...(perItemAt3M === undefined ? {} : { perItemAt3M }),
  };
}
