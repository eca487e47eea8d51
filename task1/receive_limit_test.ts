import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import http2 from "node:http2";
import { queueServiceDefinition } from "./proto.ts";
import { receiveLimit } from "./receive_limit.ts";
import { serveOverHttp2 } from "./_http2_test_server.ts";

/** A grpc-js server whose Put answers True, behind `receiveLimit(2, ...)`. */
async function limitedServer(timeoutMs: number) {
  const server = new grpc.Server({
    interceptors: [receiveLimit(2, { timeoutMs })],
  });
  server.addService(queueServiceDefinition(), {
    Put: (_call: unknown, callback: grpc.sendUnaryData<{ added: boolean }>) =>
      callback(null, { added: true }),
  });
  return await serveOverHttp2(server);
}

/**
 * Starts a Put whose message declares 10 bytes, sends `sent` of them, and
 * returns the stream, a way to send the rest, and its grpc-status to come.
 */
function put(connection: http2.ClientHttp2Session, sent: number) {
  const stream = connection.request({
    ":method": "POST",
    ":path": queueServiceDefinition().Put.path,
    "content-type": "application/grpc",
    te: "trailers",
  });
  stream.on("error", () => {});
  stream.on("data", () => {});
  // PutRequest { item: "abcdefgh" }: tag, length, 8 bytes.
  const message = Buffer.from([
    0,
    0,
    0,
    0,
    10,
    10,
    8,
    ...Buffer.from("abcdefgh"),
  ]);
  stream.write(message.subarray(0, 5 + sent));
  const status = new Promise<number>((resolve) => {
    const onHeaders = (headers: http2.IncomingHttpHeaders) => {
      if (headers["grpc-status"] !== undefined) {
        resolve(Number(headers["grpc-status"]));
      }
    };
    stream.on("response", onHeaders);
    stream.on("trailers", onHeaders);
  });
  return { status, finish: () => stream.end(message.subarray(5 + sent)) };
}

Deno.test("receiveLimit refuses with RESOURCE_EXHAUSTED a call past the limit of requests being received, and admits one again once a request has arrived", async () => {
  using setup = await limitedServer(60_000);
  const { connection } = setup;
  const first = put(connection, 3);
  const second = put(connection, 3);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(await put(connection, 3).status, grpc.status.RESOURCE_EXHAUSTED);
  first.finish();
  assert.equal(await first.status, grpc.status.OK);
  const fourth = put(connection, 10);
  fourth.finish();
  assert.equal(await fourth.status, grpc.status.OK);
  second.finish();
  assert.equal(await second.status, grpc.status.OK);
});

Deno.test("receiveLimit answers DEADLINE_EXCEEDED to a request that does not arrive in time, and frees its place", async () => {
  using setup = await limitedServer(300);
  const { connection } = setup;
  const stalled = [put(connection, 3), put(connection, 3)];
  for (const call of stalled) {
    assert.equal(await call.status, grpc.status.DEADLINE_EXCEEDED);
  }
  const next = put(connection, 10);
  next.finish();
  assert.equal(await next.status, grpc.status.OK);
});
