/**
 * Waiting Put and Pop through the unary RPCs of an in-process server: the
 * order waiters are served in, and every way a waiting call gives up
 * (its wait ends, its deadline passes, its client cancels or disconnects,
 * the server shuts down) leaving the queue as if it had never waited.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import http2 from "node:http2";
import { eventually } from "../tests/harness.ts";
import { WaitingClient } from "../tests/waiting_client.ts";
import { queueServiceDefinition } from "./proto.ts";
import { createQueueServer, type QueueServer } from "./queue_server.ts";
import { MemoryStore } from "./store/memory.ts";

const service = queueServiceDefinition();

/** An empty Pop answer as grpc-js decodes it (version 3 fills in defaults). */
const EMPTY_POP = { receipt: "", delivery_count: 0 };

async function listening(capacity: number): Promise<{
  server: QueueServer;
  port: number;
}> {
  const server = createQueueServer(new MemoryStore(capacity));
  const port = await server.listen("127.0.0.1", 0);
  return { server, port };
}

function code(error: unknown): grpc.status | undefined {
  return (error as grpc.ServiceError).code;
}

Deno.test("a waiting Pop answers with the item a later Put brings, and waiting Pops are served in the order they started", async () => {
  const { server, port } = await listening(10);
  await using _ = server;
  using client = new WaitingClient(port);
  const pops = [];
  for (let i = 0; i < 3; i++) {
    pops.push(client.pop({ wait_ms: 20_000 }).answer);
    await eventually(
      () => server.store.status().waitingPops === i + 1,
      "a waiter",
    );
  }
  for (const item of ["x", "y", "z"]) {
    assert.deepEqual(await client.put({ item }).answer, { added: true });
  }
  assert.deepEqual(
    (await Promise.all(pops)).map((reply) => reply.item),
    ["x", "y", "z"],
  );
});

Deno.test("waiting Puts are served in the order they started, and a Put that does not wait does not overtake them", async () => {
  const { server, port } = await listening(1);
  await using _ = server;
  using client = new WaitingClient(port);
  assert.deepEqual(await client.put({ item: "full" }).answer, { added: true });
  const puts = [];
  for (const [i, item] of ["w1", "w2"].entries()) {
    puts.push(client.put({ item, wait_ms: 20_000 }).answer);
    await eventually(
      () => server.store.status().waitingPuts === i + 1,
      "a waiter",
    );
  }
  assert.deepEqual(await client.put({ item: "late" }).answer, {
    added: false,
  });
  const popped = [];
  for (let i = 0; i < 3; i++) popped.push((await client.pop({}).answer).item);
  assert.deepEqual(popped, ["full", "w1", "w2"]);
  assert.deepEqual(await Promise.all(puts), [{ added: true }, {
    added: true,
  }]);
});

Deno.test("a waiting Put or Pop whose wait_ms passes answers False or empty and leaves no trace", async () => {
  const { server, port } = await listening(1);
  await using _ = server;
  using client = new WaitingClient(port);
  assert.deepEqual(await client.pop({ wait_ms: 50 }).answer, EMPTY_POP);
  await client.put({ item: "full" }).answer;
  assert.deepEqual(await client.put({ item: "no", wait_ms: 50 }).answer, {
    added: false,
  });
  assert.equal((await client.pop({}).answer).item, "full");
  assert.deepEqual(
    await client.pop({}).answer,
    EMPTY_POP,
    "the late put added none",
  );
});

Deno.test("a waiting call never outlives its gRPC deadline: DEADLINE_EXCEEDED, and no item added or taken afterwards", async () => {
  const { server, port } = await listening(1);
  await using _ = server;
  using client = new WaitingClient(port);
  await assert.rejects(client.pop({ wait_ms: 60_000 }, 200).answer, (e) => {
    assert.equal(code(e), grpc.status.DEADLINE_EXCEEDED);
    return true;
  });
  await eventually(() => server.store.status().waitingPops === 0, "no waiter");
  assert.deepEqual(await client.put({ item: "kept" }).answer, { added: true });
  await assert.rejects(
    client.put({ item: "late", wait_ms: 60_000 }, 200).answer,
    (e) => code(e) === grpc.status.DEADLINE_EXCEEDED,
  );
  await eventually(() => server.store.status().waitingPuts === 0, "no waiter");
  assert.equal((await client.pop({}).answer).item, "kept");
  assert.deepEqual(await client.pop({}).answer, EMPTY_POP);
});

Deno.test("a waiting call that its client cancels leaves the queue: the next item is not taken for it, its item is never added", async () => {
  const { server, port } = await listening(1);
  await using _ = server;
  using client = new WaitingClient(port);
  const pop = client.pop({ wait_ms: 60_000 });
  await eventually(() => server.store.status().waitingPops === 1, "the waiter");
  pop.call.cancel();
  await assert.rejects(pop.answer, (e) => code(e) === grpc.status.CANCELLED);
  await eventually(() => server.store.status().waitingPops === 0, "no waiter");
  assert.deepEqual(await client.put({ item: "kept" }).answer, { added: true });
  const put = client.put({ item: "never", wait_ms: 60_000 });
  await eventually(() => server.store.status().waitingPuts === 1, "the waiter");
  put.call.cancel();
  await assert.rejects(put.answer);
  await eventually(() => server.store.status().waitingPuts === 0, "no waiter");
  assert.equal((await client.pop({}).answer).item, "kept");
  assert.deepEqual(await client.pop({}).answer, EMPTY_POP);
});

Deno.test("a waiting Pop whose client disconnects takes no item afterwards", async () => {
  const { server, port } = await listening(1);
  await using _ = server;
  // A bare HTTP/2 connection that sends one Pop with wait_ms and goes away.
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const message = Buffer.from([0x08, 0xe0, 0xd4, 0x03]); // wait_ms: 60000
  const frame = Buffer.concat([
    Buffer.from([0, 0, 0, 0, message.length]),
    message,
  ]);
  const stream = session.request({
    ":method": "POST",
    ":path": service.Pop.path,
    "content-type": "application/grpc",
    "te": "trailers",
  });
  stream.on("error", () => {});
  stream.end(frame);
  await eventually(() => server.store.status().waitingPops === 1, "the waiter");
  session.destroy();
  await eventually(() => server.store.status().waitingPops === 0, "no waiter");
  using client = new WaitingClient(port);
  assert.deepEqual(await client.put({ item: "kept" }).answer, { added: true });
  assert.equal((await client.pop({}).answer).item, "kept");
});

Deno.test("shutting the server down ends waiting calls with UNAVAILABLE at once, adding and taking nothing", async () => {
  const { server, port } = await listening(1);
  using client = new WaitingClient(port);
  await client.put({ item: "kept" }).answer;
  const put = client.put({ item: "never", wait_ms: 60_000 }).answer.then(
    () => undefined,
    code,
  );
  await eventually(() => server.store.status().waitingPuts === 1, "the waiter");
  const graceful = await server.shutdown({ graceMs: 5_000 });
  assert.equal(graceful, true, "no call left to cancel");
  assert.equal(await put, grpc.status.UNAVAILABLE);
  assert.equal(server.store.status().size, 1);
  assert.equal(server.store.status().waitingPuts, 0);
});

Deno.test("a wait_ms over one hour is refused with INVALID_ARGUMENT", async () => {
  const { server, port } = await listening(1);
  await using _ = server;
  using client = new WaitingClient(port);
  for (
    const answer of [
      client.pop({ wait_ms: 3_600_001 }).answer,
      client.put({ item: "x", wait_ms: 4_000_000_000 }).answer,
    ]
  ) {
    await assert.rejects(answer, (e) => {
      assert.equal(code(e), grpc.status.INVALID_ARGUMENT);
      assert.match(
        (e as grpc.ServiceError).details,
        /^Invalid wait_ms \d+: more than the limit of 3600000 ms \(1 hour\)$/,
      );
      return true;
    });
  }
  assert.deepEqual(
    await client.pop({ wait_ms: 3_600_000 }, 100).answer.catch(
      (e) => code(e),
    ),
    grpc.status.DEADLINE_EXCEEDED,
    "one hour is allowed",
  );
  assert.equal(server.store.status().size, 0);
});
