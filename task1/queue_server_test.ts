import * as grpc from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import assert from "node:assert/strict";
import { QueueCallError, QueueClient } from "./queue_client.ts";
import { createQueueServer, type QueueServerOptions } from "./queue_server.ts";
import { MemoryStore } from "./store/memory.ts";

/** Starts an in-process queue server on 127.0.0.1, port 0. */
async function listening(capacity: number, options?: QueueServerOptions) {
  const server = createQueueServer(new MemoryStore(capacity), options);
  const port = await server.listen("127.0.0.1", 0);
  return { server, port };
}

Deno.test("queue server on port 0 serves put, peek, pop and size to a client", async () => {
  const { server, port } = await listening(2);
  await using _ = server;
  using client = new QueueClient({ hostname: "127.0.0.1", port });
  assert.equal(await client.size(), 0);
  assert.equal(await client.peek(), undefined);
  assert.equal(await client.put("A"), true);
  assert.equal(await client.put("B"), true);
  assert.equal(await client.put("C"), false);
  assert.equal(await client.peek(), "A");
  assert.equal(await client.size(), 2);
  assert.equal(await client.pop(), "A");
  assert.equal(await client.pop(), "B");
  assert.equal(await client.pop(), undefined);
  assert.equal(await server.store.size(), 0);
});

Deno.test("queue server refuses an item over the limit in UTF-8 bytes with INVALID_ARGUMENT and stores nothing", async () => {
  const { server, port } = await listening(10, { maxItemBytes: 4 });
  await using _ = server;
  using client = new QueueClient({ hostname: "127.0.0.1", port });
  assert.equal(await client.put("abcd"), true);
  assert.equal(await client.put("éé"), true, "two 2-byte characters");
  for (const item of ["abcde", "ééa", "😀😀"]) {
    await assert.rejects(client.put(item), (error: unknown) => {
      assert.ok(error instanceof QueueCallError);
      assert.equal(error.code, grpc.status.INVALID_ARGUMENT);
      assert.match(
        error.message,
        /^INVALID_ARGUMENT: Item too large: \d+ bytes, more than the limit of 4 bytes$/,
      );
      return true;
    });
  }
  assert.equal(await client.size(), 2);
});

Deno.test("queue server listen rejects a port in use with a clear message", async () => {
  const { server, port } = await listening(1);
  await using _ = server;
  await using second = createQueueServer(new MemoryStore(1));
  await assert.rejects(
    second.listen("127.0.0.1", port),
    new Error(`Cannot listen on "127.0.0.1:${port}": address already in use`),
  );
});

Deno.test("queue server shutdown resolves true when no call runs, and later calls fail UNAVAILABLE", async () => {
  const { server, port } = await listening(1);
  using client = new QueueClient({ hostname: "127.0.0.1", port });
  assert.equal(await client.put("A"), true);
  assert.equal(await server.shutdown(), true);
  await assert.rejects(
    client.size(),
    (error: unknown) =>
      error instanceof QueueCallError &&
      error.code === grpc.status.UNAVAILABLE,
  );
});

Deno.test("queue server shutdown cancels a call still running after the grace period and resolves false", async () => {
  const { server, port } = await listening(1);
  const client = new grpc.Client(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  );
  try {
    // A health Watch stream stays open until the server ends it.
    const watch = healthService["Watch"]!;
    const call = client.makeServerStreamRequest(
      watch.path,
      watch.requestSerialize,
      watch.responseDeserialize,
      { service: "" },
    );
    const statuses: unknown[] = [];
    const ended = new Promise<void>((resolve) => {
      call.on("data", (answer: { status: string }) => {
        statuses.push(answer.status);
      });
      call.on("error", () => resolve());
      call.on("end", () => resolve());
    });
    await new Promise<void>((resolve) => call.once("data", () => resolve()));
    const started = Date.now();
    assert.equal(await server.shutdown({ graceMs: 200 }), false);
    assert.ok(Date.now() - started < 5000, "bounded by the grace period");
    await ended;
    assert.deepEqual(statuses, ["SERVING", "NOT_SERVING"]);
  } finally {
    client.close();
  }
});
