/**
 * Every memory bound of the real queue-server holds in every mode: a
 * Session's unread replies with a token and beside read unary replies on
 * the same connection, half-sent requests over several connections, and
 * unauthenticated health streams under a token. Growth is the server's
 * resident memory (VmRSS) measured from outside.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import http2 from "node:http2";
import { clientChannelOptions } from "../task1/credentials.ts";
import {
  type Command,
  queueServiceDefinition,
  type Reply,
} from "../task1/proto.ts";
import { QueueClient } from "../task1/queue_client.ts";
import { processStats, startQueueServer, within } from "./harness.ts";
import { makeTestPki, TEST_TOKEN, type TestPki } from "./tls_fixtures.ts";

const MiB = 1024 * 1024;

/** The path prefix of the standard health service's methods. */
const HEALTH = "/grpc.health.v1.Health";

/**
 * The most the server's resident memory grew over `before` while sampling
 * it for `ms` milliseconds, in MiB.
 */
async function peakGrowthMiB(
  pid: number,
  beforeBytes: number,
  ms: number,
): Promise<number> {
  let peak = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const { rssBytes } = await processStats(pid);
    peak = Math.max(peak, (rssBytes - beforeBytes) / MiB);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return peak;
}

/** The server flags that require the test token of `pki`. */
function tokenFlag(pki: TestPki): string[] {
  return ["--token-file", pki.tokenFile];
}

/** A gRPC channel of its own (its own connection) to 127.0.0.1:`port`. */
function ownChannel(port: number, token?: string): grpc.Client {
  return new grpc.Client(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
    {
      ...clientChannelOptions(undefined, token),
      "grpc.use_local_subchannel_pool": 1,
    },
  );
}

/** Opens a Session on `channel`, sends `count` commands and never reads. */
function unreadCommands(
  channel: grpc.Client,
  count: number,
  command: Command,
): grpc.ClientDuplexStream<Command, Reply> {
  const session = queueServiceDefinition().Session;
  const hog = channel.makeBidiStreamRequest(
    session.path,
    session.requestSerialize,
    session.responseDeserialize,
  );
  hog.on("error", () => {});
  for (let i = 0; i < count; i++) hog.write(command);
  return hog;
}

Deno.test("queue-server with a token keeps 300 unread Session peeks of a 1 MiB item to a few MiB", async () => {
  await using pki = await makeTestPki();
  await using started = await startQueueServer(10, ...tokenFlag(pki));
  const address = { hostname: "127.0.0.1", port: started.port };
  using unary = new QueueClient(address, { token: TEST_TOKEN });
  assert.equal(await unary.put("x".repeat(MiB)), true);
  const pid = started.server.process.pid;
  const before = (await processStats(pid)).rssBytes;
  const channel = ownChannel(started.port, TEST_TOKEN);
  const hog = unreadCommands(channel, 300, { peek: {} });
  try {
    assert.equal(await within(unary.size(), "a unary answer"), 1);
    // Before the fix: +384 MiB, growing with the commands.
    const growth = await peakGrowthMiB(pid, before, 3000);
    assert.ok(growth < 100, `server RSS grew by ${growth.toFixed(1)} MiB`);
    assert.equal(await unary.size(), 1);
  } finally {
    hog.cancel();
    channel.close();
  }
});

/** `message` with gRPC's 5-byte prefix. */
function grpcFrame(message: Uint8Array): Buffer {
  const framed = Buffer.alloc(5 + message.length);
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, 5);
  return framed;
}

/** The request headers of a gRPC call of `path`. */
function grpcHeaders(path: string): http2.OutgoingHttpHeaders {
  return {
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    te: "trailers",
  };
}

Deno.test("queue-server runs no more of an unread Session's pops while unary replies are read on the same connection", async () => {
  await using started = await startQueueServer(1000);
  const address = { hostname: "127.0.0.1", port: started.port };
  using unary = new QueueClient(address);
  const item = "x".repeat(MiB);
  for (let i = 0; i < 80; i++) assert.equal(await unary.put(item), true);
  const definition = queueServiceDefinition();
  using h2 = h2Sessions(started.port, 1);
  const connection = h2.sessions[0]!;
  // A Session whose replies are never read: each pop it runs is a 1 MiB
  // reply held until the client reads it.
  const hog = connection.request(grpcHeaders(definition.Session.path));
  hog.pause();
  hog.on("error", () => {});
  const pop = grpcFrame(definition.Session.requestSerialize({ pop: {} }));
  for (let i = 0; i < 80; i++) hog.write(pop);
  // 40 unary Peeks on the same connection, each read whole.
  for (let i = 0; i < 40; i++) {
    const peek = connection.request(grpcHeaders(definition.Peek.path));
    peek.end(grpcFrame(new Uint8Array(0)));
    let bytes = 0;
    peek.on("data", (chunk: Uint8Array) => bytes += chunk.length);
    await within(
      new Promise((resolve) => peek.on("close", resolve)),
      "a unary Peek on the Session's connection",
    );
    assert.ok(bytes > MiB, `Peek ${i} answered ${bytes} bytes`);
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  // The bound on unsent replies lets a pop or two run. Before the fix, the
  // read Peeks let the Session pop on (300 unread 1 MiB peeks beside 300
  // read ones: +618 MiB).
  const left = await within(unary.size(), "a unary Size");
  assert.ok(left >= 70, `the unread Session popped ${80 - left} items`);
});

/**
 * Starts a raw gRPC call of `path` on `session`, sends `chunks`, and ends
 * the client's side if `end`. `status` resolves to the call's grpc-status
 * as soon as it comes (a refusal ends the server's side at once, even while
 * the client's stays open), or to undefined if the stream closes without.
 */
function rawCall(
  session: http2.ClientHttp2Session,
  path: string,
  chunks: Uint8Array[],
  end: boolean,
) {
  const stream = session.request(grpcHeaders(path));
  for (const chunk of chunks) stream.write(chunk);
  if (end) stream.end();
  const status = new Promise<number | undefined>((resolve) => {
    const onHeaders = (headers: http2.IncomingHttpHeaders) => {
      const status = headers["grpc-status"];
      if (status !== undefined) resolve(Number(status));
    };
    stream.on("response", onHeaders);
    stream.on("trailers", onHeaders);
    stream.on("data", () => {});
    stream.on("error", () => {});
    stream.on("close", () => resolve(undefined));
  });
  return { stream, status };
}

/**
 * Starts a Put on `session` whose message declares `declared` bytes, sends
 * `body` of them and never finishes.
 */
function halfSentPut(
  session: http2.ClientHttp2Session,
  declared: number,
  body: Uint8Array,
) {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(declared, 1);
  const path = queueServiceDefinition().Put.path;
  return rawCall(session, path, [prefix, body], false);
}

/** `count` plain HTTP/2 connections to 127.0.0.1:`port`. */
function h2Sessions(port: number, count: number) {
  const sessions = Array.from(
    { length: count },
    () => http2.connect(`http://127.0.0.1:${port}`),
  );
  for (const session of sessions) session.on("error", () => {});
  return {
    sessions,
    [Symbol.dispose]() {
      for (const session of sessions) session.destroy();
    },
  };
}

Deno.test("queue-server refuses at once with RESOURCE_EXHAUSTED a Put declaring more than the item limit, over several connections", async () => {
  await using started = await startQueueServer(10);
  const pid = started.server.process.pid;
  const before = (await processStats(pid)).rssBytes;
  using h2 = h2Sessions(started.port, 2);
  const body = Buffer.alloc(3_900_000, 0x61);
  const calls = h2.sessions.flatMap((session) =>
    Array.from({ length: 16 }, () => halfSentPut(session, 4_000_000, body))
  );
  // Before the fix: each held its 3.9 MB (+258 MiB for 64 such streams).
  const statuses = await within(
    Promise.all(calls.map((call) => call.status)),
    "every oversized Put to be refused",
  );
  for (const status of statuses) {
    assert.equal(status, grpc.status.RESOURCE_EXHAUSTED);
  }
  const growth = await peakGrowthMiB(pid, before, 1000);
  assert.ok(growth < 64, `server RSS grew by ${growth.toFixed(1)} MiB`);
});

Deno.test("queue-server holds at most 128 partly received requests server-wide and refuses the rest with RESOURCE_EXHAUSTED", async () => {
  await using started = await startQueueServer(10);
  using h2 = h2Sessions(started.port, 8);
  const body = Buffer.alloc(200_000, 0x61);
  // 8 connections x 24 streams, each declaring an item under the limit and
  // sending part of it.
  const calls = h2.sessions.flatMap((session) =>
    Array.from({ length: 24 }, () => halfSentPut(session, 1_000_000, body))
  );
  const results = await Promise.all(
    calls.map((call) =>
      Promise.race([
        call.status,
        new Promise<"held">((resolve) =>
          setTimeout(() => resolve("held"), 5000)
        ),
      ])
    ),
  );
  const held = results.filter((result) => result === "held").length;
  const refused =
    results.filter((result) => result === grpc.status.RESOURCE_EXHAUSTED)
      .length;
  assert.ok(held <= 128, `${held} partly received requests held`);
  assert.equal(held + refused, calls.length, JSON.stringify(results));
  // The server still answers.
  using client = new QueueClient({ hostname: "127.0.0.1", port: started.port });
  for (const call of calls) call.stream.close();
  assert.equal(await within(client.size(), "a unary answer"), 0);
});

Deno.test("queue-server with a token refuses unauthenticated Health/Watch streams, so 960 of them hold nothing", async () => {
  await using pki = await makeTestPki();
  await using started = await startQueueServer(10, ...tokenFlag(pki));
  using h2 = h2Sessions(started.port, 30);
  // An empty HealthCheckRequest: the server's own status.
  const request = Buffer.alloc(5);
  const calls = h2.sessions.flatMap((session) =>
    Array.from(
      { length: 32 },
      () => rawCall(session, `${HEALTH}/Watch`, [request], true).status,
    )
  );
  // Before the fix they stayed open for good (+19 MiB).
  const statuses = await within(
    Promise.all(calls),
    "every unauthenticated Watch to end",
  );
  for (const status of statuses) {
    assert.equal(status, grpc.status.UNAUTHENTICATED);
  }
  // Health/Check stays open without a token.
  const check = rawCall(h2.sessions[0]!, `${HEALTH}/Check`, [request], true);
  const checked = await within(check.status, "a Health/Check answer");
  assert.equal(checked, grpc.status.OK);
});
