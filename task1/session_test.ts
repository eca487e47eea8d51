import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type {
  AckResponse,
  Command,
  EmptyRequest,
  ExtendResponse,
  ItemResponse,
  PopRequest,
  PutRequest,
  PutResponse,
  ReleaseResponse,
  Reply,
  SizeResponse,
} from "./proto.ts";
import { QueueClient } from "./queue_client.ts";
import type { QueueOperations } from "./operations.ts";
import { createQueueServer } from "./queue_server.ts";
import { MemoryStore } from "./store/memory.ts";
import { SessionClient } from "./session_client.ts";
import { sessionHandler, type SessionOptions } from "./session.ts";

/**
 * A stand-in for grpc-js's server side of a bidirectional stream: the test
 * sends commands, reads what was written, decides whether `write()` reports
 * backpressure, and sees pause, resume and end.
 */
class FakeCall extends EventEmitter {
  readonly written: Reply[] = [];
  paused = false;
  ended = false;
  /** What `write()` returns: false means "wait for drain". */
  writable = true;
  /** Whether writes complete only when the test says (else at once). */
  holdWrites = false;
  /** The callbacks of the writes held, oldest first. */
  readonly held: (() => void)[] = [];

  send(command: Command): void {
    this.emit("data", command);
  }

  write(reply: Reply, done?: () => void): boolean {
    this.written.push(reply);
    if (done && this.holdWrites) this.held.push(done);
    else done?.();
    return this.writable;
  }

  /** Completes the `count` oldest writes held. */
  complete(count: number): void {
    for (const done of this.held.splice(0, count)) done();
  }

  pause(): this {
    this.paused = true;
    return this;
  }

  resume(): this {
    this.paused = false;
    return this;
  }

  end(): this {
    this.ended = true;
    return this;
  }
}

/** Starts a session over `operations` on a fake call. */
function startSession(
  operations: QueueOperations,
  options: SessionOptions = {},
  holdWrites = false,
) {
  const call = new FakeCall();
  call.holdWrites = holdWrites;
  sessionHandler(operations, options)(
    call as unknown as grpc.ServerDuplexStream<Command, Reply>,
  );
  return call;
}

/** Lets pending promise callbacks and timers run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** A promise with its resolve function, for operations the test completes. */
function deferred<T>() {
  return Promise.withResolvers<T>();
}

/** Operations that record each call and answer as `answer` says. */
function recordingOperations(
  answer: (name: string, request: unknown, signal: AbortSignal) => unknown,
) {
  const calls: string[] = [];
  const run = <T>(name: string) => (request: unknown, signal: AbortSignal) => {
    calls.push(name);
    return Promise.resolve(answer(name, request, signal)) as Promise<T>;
  };
  const operations: QueueOperations = {
    put: run<PutResponse>("put") as (
      r: PutRequest,
      s: AbortSignal,
    ) => Promise<PutResponse>,
    peek: run<ItemResponse>("peek") as (
      r: EmptyRequest,
      s: AbortSignal,
    ) => Promise<ItemResponse>,
    pop: run<ItemResponse>("pop") as (
      r: PopRequest,
      s: AbortSignal,
    ) => Promise<ItemResponse>,
    size: run<SizeResponse>("size") as (
      r: EmptyRequest,
      s: AbortSignal,
    ) => Promise<SizeResponse>,
    ack: run<AckResponse>("ack") as QueueOperations["ack"],
    release: run<ReleaseResponse>("release") as QueueOperations["release"],
    extend: run<ExtendResponse>("extend") as QueueOperations["extend"],
  };
  return { calls, operations };
}

Deno.test("session runs each command only after the one before it is answered, and replies in order", async () => {
  const first = deferred<PutResponse>();
  const { calls, operations } = recordingOperations((name) =>
    name === "put" ? first.promise : { size: 7 }
  );
  const call = startSession(operations);
  call.send({ op: "put", put: { item: "A" } });
  call.send({ op: "size", size: {} });
  await settle();
  assert.deepEqual(calls, ["put"], "size waits for the put to finish");
  assert.deepEqual(call.written, []);
  first.resolve({ added: true });
  await settle();
  assert.deepEqual(calls, ["put", "size"]);
  assert.deepEqual(call.written, [{ put: { added: true } }, {
    size: { size: 7 },
  }]);
});

Deno.test("session answers a failed command with Reply.error and goes on with the next", async () => {
  const { operations } = recordingOperations((name, request) => {
    if (name === "put" && (request as PutRequest).item === "big") {
      throw new RangeError("Item too large: 9 bytes");
    }
    if (name === "peek") throw new Error("disk on fire");
    return name === "put" ? { added: true } : { size: 1 };
  });
  const call = startSession(operations);
  call.send({ op: "put", put: { item: "big" } });
  call.send({});
  call.send({ op: "peek", peek: {} });
  call.send({ op: "put", put: { item: "ok" } });
  call.send({ op: "size", size: {} });
  await settle();
  assert.deepEqual(call.written, [
    {
      error: {
        code: grpc.status.INVALID_ARGUMENT,
        message: "Item too large: 9 bytes",
      },
    },
    {
      error: {
        code: grpc.status.INVALID_ARGUMENT,
        message: "Command without a known operation",
      },
    },
    {
      error: { code: grpc.status.INTERNAL, message: "Internal server error" },
    },
    { put: { added: true } },
    { size: { size: 1 } },
  ]);
});

Deno.test("session stops reading at the outstanding limit and resumes once half are answered", async () => {
  const gates: ((value: SizeResponse) => void)[] = [];
  const { operations } = recordingOperations(() =>
    new Promise<SizeResponse>((resolve) => gates.push(resolve))
  );
  const call = startSession(operations, { maxOutstanding: 4 });
  for (let i = 0; i < 3; i++) call.send({ op: "size", size: {} });
  assert.equal(call.paused, false);
  call.send({ op: "size", size: {} });
  assert.equal(call.paused, true, "paused with 4 unanswered");
  await settle();
  gates.shift()!({ size: 1 });
  await settle();
  assert.equal(call.paused, true, "3 unanswered is still above half");
  gates.shift()!({ size: 2 });
  await settle();
  assert.equal(call.paused, false, "resumed at 2 unanswered");
  assert.equal(call.written.length, 2);
});

Deno.test("session writes nothing more while the client does not read, until drain", async () => {
  const { calls, operations } = recordingOperations(() => ({ size: 0 }));
  const call = startSession(operations, { maxOutstanding: 8 });
  call.writable = false;
  for (let i = 0; i < 100; i++) call.send({ op: "size", size: {} });
  await settle();
  assert.equal(call.written.length, 1, "one reply, then it waits for drain");
  assert.equal(calls.length, 1, "no command runs while a reply waits");
  assert.equal(call.paused, true, "and it stopped reading");
  call.writable = true;
  call.emit("drain");
  await settle();
  await settle();
  assert.equal(call.written.length, 100);
  assert.equal(call.paused, false);
});

Deno.test("session runs no further command while its replies' bytes are unsent, and goes on once they have left", async () => {
  const item = "x".repeat(400);
  const { calls, operations } = recordingOperations(() => ({ item }));
  const call = startSession(
    operations,
    { maxOutstanding: 8, maxUnsentBytes: 1000 },
    true,
  );
  for (let i = 0; i < 10; i++) call.send({ op: "peek", peek: {} });
  await settle();
  // Three replies of about 416 bytes exceed 1000 bytes: it stops there.
  assert.equal(calls.length, 3);
  assert.equal(call.paused, true);
  call.complete(3);
  await settle();
  assert.equal(calls.length, 6, "three more once those have left");
  call.complete(3);
  await settle();
  call.complete(3);
  await settle();
  assert.equal(call.written.length, 10);
});

Deno.test("session stops reading once its waiting commands hold more than maxReceivedBytes, and resumes once half is run", async () => {
  const gates: ((value: PutResponse) => void)[] = [];
  const { operations } = recordingOperations(() =>
    new Promise<PutResponse>((resolve) => gates.push(resolve))
  );
  const call = startSession(operations, { maxReceivedBytes: 1000 });
  const item = "x".repeat(300);
  for (let i = 0; i < 3; i++) call.send({ op: "put", put: { item } });
  assert.equal(call.paused, false, "about 948 bytes wait");
  call.send({ op: "put", put: { item } });
  assert.equal(call.paused, true, "about 1264 bytes wait");
  for (let i = 0; i < 2; i++) {
    await settle();
    gates.shift()!({ added: true });
  }
  await settle();
  assert.equal(call.paused, true, "about 632 bytes still wait");
  gates.shift()!({ added: true });
  await settle();
  assert.equal(call.paused, false, "resumed with one waiting");
});

Deno.test("session ends its stream when the server closes, once the running command is answered, and runs no other", async () => {
  const running = deferred<SizeResponse>();
  const { calls, operations } = recordingOperations(() => running.promise);
  const closing = new AbortController();
  const call = startSession(operations, { closing: closing.signal });
  call.send({ op: "size", size: {} });
  call.send({ op: "size", size: {} });
  await settle();
  closing.abort();
  call.send({ op: "size", size: {} });
  assert.equal(call.ended, false, "a command is still running");
  running.resolve({ size: 1 });
  await settle();
  assert.equal(call.ended, true);
  assert.deepEqual(calls, ["size"]);
  assert.deepEqual(call.written, [{ size: { size: 1 } }]);

  const idle = startSession(operations, { closing: closing.signal });
  assert.equal(idle.ended, true, "a session opened while closing ends at once");
});

Deno.test("session cancellation aborts the waiting command's signal and runs nothing after it", async () => {
  let signal: AbortSignal | undefined;
  const { calls, operations } = recordingOperations((_name, _request, s) => {
    signal = s;
    return new Promise(() => {});
  });
  const call = startSession(operations);
  call.send({ op: "pop", pop: { wait_ms: 60_000 } });
  call.send({ op: "size", size: {} });
  await settle();
  assert.equal(signal?.aborted, false);
  call.emit("cancelled", "cancelled");
  assert.equal(signal?.aborted, true);
  await settle();
  assert.deepEqual(calls, ["pop"]);
  assert.deepEqual(call.written, []);
});

Deno.test("session ends the stream once the client has half-closed and every reply is written", async () => {
  const answer = deferred<SizeResponse>();
  const { operations } = recordingOperations(() => answer.promise);
  const call = startSession(operations);
  call.send({ op: "size", size: {} });
  call.emit("end");
  await settle();
  assert.equal(call.ended, false, "a command is still running");
  answer.resolve({ size: 3 });
  await settle();
  assert.equal(call.ended, true);
  assert.deepEqual(call.written, [{ size: { size: 3 } }]);
});

/** Starts an in-process queue server and a session client of it. */
async function serverAndSession(capacity: number, maxItemBytes?: number) {
  const server = createQueueServer(
    new MemoryStore(capacity),
    maxItemBytes === undefined ? {} : { maxItemBytes },
  );
  const port = await server.listen("127.0.0.1", 0);
  const client = new QueueClient({ hostname: "127.0.0.1", port });
  const session = new SessionClient(client);
  return {
    server,
    session,
    async [Symbol.asyncDispose]() {
      session.close();
      client.close();
      await server.shutdown({ graceMs: 0 });
    },
  };
}

Deno.test("session client pipelines 2000 commands over one Session and gets every answer in order", async () => {
  await using setup = await serverAndSession(1000);
  const { session } = setup;
  const answers = [];
  for (let i = 0; i < 1000; i++) {
    answers.push(session.put(`item-${i}`), session.pop());
  }
  const results = await Promise.all(answers);
  for (let i = 0; i < 1000; i++) {
    assert.equal(results[2 * i], true);
    assert.equal(results[2 * i + 1], `item-${i}`);
  }
  assert.equal(session.unary, false, "it used Session");
  assert.equal(await session.size(), 0);
});

Deno.test("session client reports an item over the limit as INVALID_ARGUMENT for that command only", async () => {
  await using setup = await serverAndSession(10, 4);
  const { session } = setup;
  const results = await Promise.allSettled([
    session.put("abcd"),
    session.put("abcde"),
    session.peek(),
    session.size(),
  ]);
  assert.deepEqual(results[0], { status: "fulfilled", value: true });
  assert.equal(results[1]!.status, "rejected");
  assert.match(
    String((results[1] as PromiseRejectedResult).reason.message),
    /^INVALID_ARGUMENT: Item too large: 5 bytes, more than the limit of 4 bytes$/,
  );
  assert.deepEqual(results.slice(2), [
    { status: "fulfilled", value: "abcd" },
    { status: "fulfilled", value: 1 },
  ]);
});

Deno.test("session client tells an empty queue apart from an empty-string item", async () => {
  await using setup = await serverAndSession(2);
  const { session } = setup;
  assert.equal(await session.peek(), undefined);
  assert.equal(await session.put(""), true);
  assert.equal(await session.peek(), "");
  assert.equal(await session.pop(), "");
  assert.equal(await session.pop(), undefined);
});

Deno.test("queue server shutdown ends an idle session at once, and the session client then reports UNAVAILABLE for each command", async () => {
  const server = createQueueServer(new MemoryStore(10));
  const port = await server.listen("127.0.0.1", 0);
  using client = new QueueClient({ hostname: "127.0.0.1", port });
  using session = new SessionClient(client);
  assert.equal(await session.put("A"), true);
  assert.equal(
    await server.shutdown({ graceMs: 10_000 }),
    true,
    "every call, the session included, ended within the grace period",
  );
  for (const command of [session.size(), session.pop()]) {
    await assert.rejects(command, (error: Error) => {
      assert.match(
        error.message,
        new RegExp(
          `^UNAVAILABLE: Cannot reach the server at "127.0.0.1:${port}"`,
        ),
      );
      return true;
    });
  }
});
