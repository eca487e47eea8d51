import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import http2 from "node:http2";
import { QueueCallError, QueueClient } from "./queue_client.ts";
import { SessionClient } from "./session_client.ts";

Deno.test("session client fails the stream with RESOURCE_EXHAUSTED when a reply claims more than 4 MiB, without buffering it", async () => {
  const server = http2.createServer();
  server.on("stream", (stream: http2.ServerHttp2Stream) => {
    stream.respond({ ":status": 200, "content-type": "application/grpc" });
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(4 * 1024 * 1024 + 1, 1);
    stream.write(prefix);
    stream.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  try {
    using client = new QueueClient({ hostname: "127.0.0.1", port });
    using session = new SessionClient(client);
    await assert.rejects(session.size(), (error: unknown) => {
      assert.ok(error instanceof QueueCallError);
      assert.equal(error.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.equal(
        error.message,
        "RESOURCE_EXHAUSTED: Received message larger than max (4194305 vs 4194304)",
      );
      return true;
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
