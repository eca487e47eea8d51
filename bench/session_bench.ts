/**
 * The figures of `Session` and of waiting: a piped, pipelined `queue-client`
 * against h2load's unary calls and against the same client with pipelining
 * off, server CPU per command against per unary call, a waiting Pop's
 * wake-up latency against a unary round trip, and the memory of idle
 * waiters.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import http2 from "node:http2";
import { parseHostPort } from "../lib/address.ts";
import { queueServiceDefinition } from "../task1/proto.ts";
import { QueueClient } from "../task1/queue_client.ts";
import { SessionClient } from "../task1/session_client.ts";
import { processStats, spawnProgram, within } from "../tests/harness.ts";
import type { TargetServer } from "./queue_bench.ts";
import { percentile } from "./stats.ts";

/** What a run of the piped client measured. */
export interface PipedResult {
  /** Commands answered per second, from start to exit of the client. */
  commandsPerSecond: number;
  /** Server CPU time per command, in microseconds. */
  serverCpuMicros: number;
}

/**
 * Pipes `commands` alternating `put` and `pop` lines into a `queue-client`
 * of `server` with `--window window`, checks every answer, and measures the
 * rate from the client's start to its exit and the server's CPU per
 * command.
 */
export async function pipedClient(
  server: TargetServer,
  commands: number,
  window: number,
): Promise<PipedResult> {
  const input = Array.from(
    { length: commands },
    (_, i) => i % 2 === 0 ? `put item-${i}\n` : "pop\n",
  ).join("");
  const before = await processStats(server.pid);
  const start = performance.now();
  await using client = spawnProgram(
    "queue-client",
    [`127.0.0.1:${server.port}`, "--window", String(window)],
    { stdin: true },
  );
  const [lines] = await Promise.all([
    client.stdout.rest(600_000),
    (async () => {
      // In pieces, each written within the harness's bound.
      for (let at = 0; at < input.length; at += 64 * 1024) {
        await client.write(input.slice(at, at + 64 * 1024));
      }
      await client.closeStdin();
    })(),
  ]);
  const { code } = await client.exit(600_000);
  const seconds = (performance.now() - start) / 1000;
  const after = await processStats(server.pid);
  const wrong = lines.findIndex((line, i) =>
    line !== (i % 2 === 0 ? "True" : `item-${i - 1}`)
  );
  if (code !== 0 || lines.length !== commands || wrong >= 0) {
    throw new Error(
      `queue-client exited ${code} after ${lines.length} answers; ` +
        `answer ${wrong} is ${JSON.stringify(lines[wrong])}`,
    );
  }
  return {
    commandsPerSecond: commands / seconds,
    serverCpuMicros: (after.cpuSeconds - before.cpuSeconds) * 1e6 / commands,
  };
}

/** The gRPC frame of an empty message: valid as a Put, Pop, Peek or Size. */
const EMPTY_FRAME = new Uint8Array(5);

/**
 * Sends `frame` to `method` once and resolves to the grpc-status the server
 * answers, so that h2load (which counts any HTTP 200 as a success) is only
 * trusted with bodies the server accepts.
 */
function grpcStatusOf(
  port: number,
  method: string,
  frame: Uint8Array,
): Promise<string> {
  return within(
    new Promise((resolve, reject) => {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      session.on("error", reject);
      const stream = session.request({
        ":method": "POST",
        ":path": `/queue.v1.QueueService/${method}`,
        "content-type": "application/grpc",
        "te": "trailers",
      });
      let status = "none";
      const read = (headers: http2.IncomingHttpHeaders) => {
        const value = headers["grpc-status"];
        if (value !== undefined) status = String(value);
      };
      stream.on("response", read);
      stream.on("trailers", read);
      stream.on("data", () => {});
      stream.on("error", reject);
      stream.on("close", () => {
        session.close();
        resolve(status);
      });
      stream.end(frame);
    }),
    `a ${method} call`,
  );
}

/** What an h2load run measured. */
export interface UnaryResult {
  /** Completed calls per second. */
  callsPerSecond: number;
  /** Server CPU time per call, in microseconds. */
  serverCpuMicros: number;
}

/**
 * Drives `server` with h2load: `calls` unary calls alternating Put and Pop
 * with empty messages (an empty-string item, and a Pop that does not wait),
 * `concurrency` in flight over up to 8 connections. Both bodies are checked
 * to get grpc-status 0 first.
 */
export async function h2loadPutPop(
  server: TargetServer,
  concurrency: number,
  calls: number,
): Promise<UnaryResult> {
  for (const method of ["Put", "Pop"]) {
    const status = await grpcStatusOf(server.port, method, EMPTY_FRAME);
    if (status !== "0") {
      throw new Error(`${method} with h2load's body: grpc-status ${status}`);
    }
  }
  const body = await Deno.makeTempFile({
    dir: new URL(".", import.meta.url).pathname,
    suffix: ".grpc",
  });
  try {
    await Deno.writeFile(body, EMPTY_FRAME);
    const connections = Math.min(8, concurrency);
    const base = `http://127.0.0.1:${server.port}/queue.v1.QueueService/`;
    const before = await processStats(server.pid);
    const { stdout, success } = await within(
      new Deno.Command("h2load", {
        args: [
          ...["-n", String(calls), "-c", String(connections)],
          ...["-m", String(Math.ceil(concurrency / connections)), "-d", body],
          ...["-H", "content-type: application/grpc", "-H", "te: trailers"],
          `${base}Put`,
          `${base}Pop`,
        ],
        stderr: "null",
      }).output(),
      "h2load",
      600_000,
    );
    const after = await processStats(server.pid);
    const text = new TextDecoder().decode(stdout);
    const rate = Number(text.match(/, ([\d.]+) req\/s/)?.[1]);
    const succeeded = Number(text.match(/(\d+) succeeded/)?.[1]);
    if (!success || !rate || succeeded !== calls) {
      throw new Error(`h2load failed: ${text.slice(-400)}`);
    }
    return {
      callsPerSecond: rate,
      serverCpuMicros: (after.cpuSeconds - before.cpuSeconds) * 1e6 / calls,
    };
  } finally {
    await Deno.remove(body);
  }
}

/** What the wake-up measurement found. */
export type WakeUpResult =
  | {
    /** Median time from sending a Put to the waiting Pop's answer, in ms. */
    wakeUpP50Ms: number;
    /** Median unary Put round trip on the same connections, in ms. */
    roundTripP50Ms: number;
  }
  | { unsupported: string };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Pop-waiter wake-up latency: a client waits in a Pop (`wait_ms`) on an
 * empty queue; another sends a Put; the time from sending the Put to the
 * Pop's answer, `samples` times, against the plain Put round trip.
 */
export async function wakeUpLatency(
  server: TargetServer,
  samples: number,
): Promise<WakeUpResult> {
  const address = parseHostPort(`127.0.0.1:${server.port}`);
  using waiter = new QueueClient(address);
  using producer = new QueueClient(address);
  const wakeUps: number[] = [];
  const roundTrips: number[] = [];
  await producer.size();
  // A server that waits holds this Pop on the empty queue for 300 ms.
  const probeStart = performance.now();
  await waiter.pop(300);
  if (performance.now() - probeStart < 150) {
    return { unsupported: "the server answered a waiting Pop at once" };
  }
  for (let i = 0; i < samples; i++) {
    let answeredAt = 0;
    const popped = waiter.pop(10_000).then((item) => {
      answeredAt = performance.now();
      return item;
    });
    await sleep(5); // Let the Pop reach the server and start waiting.
    const sentAt = performance.now();
    await producer.put(`wake-${i}`);
    const roundTrip = performance.now() - sentAt;
    if ((await popped) !== `wake-${i}` || answeredAt < sentAt) {
      throw new Error("The waiting Pop did not get the item put");
    }
    wakeUps.push(answeredAt - sentAt);
    roundTrips.push(roundTrip);
  }
  return {
    wakeUpP50Ms: percentile(wakeUps, 50),
    roundTripP50Ms: percentile(roundTrips, 50),
  };
}

/** What the idle-waiter measurement found. */
export type IdleWaitersResult =
  | {
    /** Server RSS growth per waiting Pop, in bytes. */
    bytesPerWaiter: number;
    /** Server RSS growth per connection that carries them, in bytes. */
    bytesPerConnection: number;
  }
  | { unsupported: string };

/**
 * Server RSS per idle waiter: `waiters` unary Pops waiting on an empty
 * queue, over `connections` connections opened (and measured) first; then
 * as many items are put and every waiter must get one.
 */
export async function idleWaiters(
  server: TargetServer,
  waiters: number,
  connections: number,
): Promise<IdleWaitersResult> {
  const address = parseHostPort(`127.0.0.1:${server.port}`);
  const channels = Array.from(
    { length: connections },
    () =>
      new grpc.Client(
        `127.0.0.1:${server.port}`,
        grpc.credentials.createInsecure(),
        { "grpc.use_local_subchannel_pool": 1 },
      ),
  );
  const { Pop } = queueServiceDefinition();
  const call = (channel: grpc.Client, waitMs: number) =>
    new Promise<boolean>((resolve, reject) =>
      channel.makeUnaryRequest(
        Pop.path,
        Pop.requestSerialize,
        Pop.responseDeserialize,
        { wait_ms: waitMs },
        { deadline: Date.now() + waitMs + 60_000 },
        (error, response) =>
          error ? reject(error) : resolve(response?.item !== undefined),
      )
    );
  try {
    const start = await processStats(server.pid);
    // One call each opens the connections, to measure them apart.
    await Promise.all(channels.map((channel) => call(channel, 0)));
    await sleep(500);
    const connected = await processStats(server.pid);
    let answered = 0;
    const pops = Array.from(
      { length: waiters },
      (_, i) =>
        call(channels[i % connections]!, 600_000).then((hasItem) => {
          answered++;
          return hasItem;
        }),
    );
    await sleep(2000);
    const waiting = await processStats(server.pid);
    if (answered > 0) {
      for (const channel of channels) channel.close();
      await Promise.allSettled(pops);
      return { unsupported: "the server answered waiting Pops at once" };
    }
    using putter = new QueueClient(address);
    using session = new SessionClient(putter);
    await Promise.all(
      Array.from({ length: waiters }, (_, i) => session.put(`w${i}`)),
    );
    const got = await within(Promise.all(pops), "every waiter to get an item");
    if (!got.every(Boolean)) throw new Error("A waiter got no item");
    return {
      bytesPerWaiter: (waiting.rssBytes - connected.rssBytes) / waiters,
      bytesPerConnection: (connected.rssBytes - start.rssBytes) / connections,
    };
  } finally {
    for (const channel of channels) channel.close();
  }
}
