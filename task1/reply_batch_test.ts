import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import type { Buffer } from "node:buffer";
import http2 from "node:http2";
import { frameMessages, MessageDecoder } from "./grpc_framing.ts";
import { callHttp2Responder } from "./grpc_internals.ts";
import type { QueueOperations } from "./operations.ts";
import { type Command, queueServiceDefinition, type Reply } from "./proto.ts";
import { openReplyWriter, type ReplyWriter } from "./reply_batch.ts";
import { sessionHandler } from "./session.ts";
import { serveOverHttp2 } from "./_http2_test_server.ts";

const SESSION = queueServiceDefinition().Session;

/**
 * Starts a grpc-js server on 127.0.0.1, port 0, with `interceptors`, whose
 * `Session` handler is `handler`, and a `node:http2` connection to it.
 */
async function serve(
  handler: grpc.handleBidiStreamingCall<Command, Reply>,
  interceptors: grpc.ServerInterceptor[] = [],
) {
  const server = new grpc.Server({ interceptors });
  server.addService(queueServiceDefinition(), { Session: handler });
  const served = await serveOverHttp2(server);
  return {
    /** Opens a Session stream over `node:http2`, as `SessionClient` does. */
    open(): SessionStream {
      const stream = served.connection.request({
        ":method": "POST",
        ":path": SESSION.path,
        "content-type": "application/grpc",
        "te": "trailers",
      });
      stream.on("error", () => {});
      return new SessionStream(stream);
    },
    [Symbol.dispose]: () => served[Symbol.dispose](),
  };
}

/** One Session stream as the bytes on the wire show it. */
class SessionStream {
  readonly #stream: http2.ClientHttp2Stream;
  /** The replies received, in order. */
  readonly replies: Reply[] = [];
  /** Resolves to the grpc-status and grpc-message of the trailers. */
  readonly status: Promise<{ code: number; details: string }>;

  constructor(stream: http2.ClientHttp2Stream) {
    this.#stream = stream;
    const decoder = new MessageDecoder();
    stream.on("data", (chunk: Buffer) => {
      for (const message of decoder.push(chunk)) {
        this.replies.push(SESSION.responseDeserialize(message));
      }
    });
    this.status = new Promise((resolve) => {
      const done = (headers: http2.IncomingHttpHeaders) =>
        resolve({
          code: Number(headers["grpc-status"]),
          details: decodeURI(String(headers["grpc-message"] ?? "")),
        });
      stream.on("trailers", done);
      // A trailers-only answer comes as the response headers.
      stream.on("response", (headers) => {
        if (headers["grpc-status"] !== undefined) done(headers);
      });
    });
    stream.on("end", () => {});
  }

  /** Sends `commands`, each framed, in one write. */
  send(...commands: Command[]): void {
    this.#stream.write(
      frameMessages(commands.map((c) => SESSION.requestSerialize(c))),
    );
  }

  /** Half-closes the stream. */
  end(): void {
    this.#stream.end();
  }

  /** Cancels the stream (RST_STREAM CANCEL). */
  cancel(): void {
    this.#stream.close(http2.constants.NGHTTP2_CANCEL);
  }

  /** Stops, or goes on, reading the replies. */
  pause(): void {
    this.#stream.pause();
  }
  resume(): void {
    this.#stream.resume();
  }

  /** Resolves once the status has come, with the replies before it. */
  async finished() {
    const status = await this.status;
    await new Promise((resolve) => setTimeout(resolve, 0));
    return { replies: this.replies, status };
  }
}

/** The item of the `i`th reply. */
const itemOf = (i: number) => `reply ${i} `.padEnd(40, ".");

/** A server interceptor that passes everything through, as a token check does. */
const passThrough: grpc.ServerInterceptor = (_method, call) =>
  new grpc.ServerInterceptingCall(call);

/** A server interceptor that lets the response headers go 20 ms late. */
const slowHeaders: grpc.ServerInterceptor = (_method, call) =>
  new grpc.ServerInterceptingCall(call, {
    sendMetadata: (metadata, next) => setTimeout(() => next(metadata), 20),
  });

/**
 * Serves a Session whose handler, on the first command, writes `count`
 * replies in one turn through a reply writer and then runs `finish`; counts
 * the HTTP/2 stream's writes and the replies seen leaving.
 */
async function batchOnce(
  count: number,
  finish: (call: grpc.ServerDuplexStream<Command, Reply>) => void,
  interceptors: grpc.ServerInterceptor[] = [],
) {
  let writes = 0;
  let sent = 0;
  let writer: ReplyWriter<Reply> | undefined;
  using server = await serve((call) => {
    writer = openReplyWriter(call, {
      serialize: SESSION.responseSerialize,
      onSent: () => sent++,
    });
    const stream = callHttp2Responder(call)?.stream;
    if (stream) {
      const write = stream.write.bind(stream) as (
        ...args: unknown[]
      ) => boolean;
      stream.write = (...args: unknown[]) => (writes++, write(...args));
    }
    call.once("data", () => {
      for (let i = 0; i < count; i++) {
        writer!.write({ peek: { item: itemOf(i) } });
      }
      finish(call);
    });
  }, interceptors);
  const stream = server.open();
  stream.send({ op: "size", size: {} });
  stream.end();
  const { replies, status } = await stream.finished();
  return { replies, status, writes, sent, batching: writer?.batching };
}

/** Asserts that `replies` are the items 0 to count - 1, in order. */
function assertInOrder(replies: Reply[], count: number): void {
  assert.equal(replies.length, count);
  replies.forEach((reply, i) => assert.equal(reply.peek?.item, itemOf(i)));
}

for (
  const [mode, interceptors] of [
    ["without", []],
    ["with", [passThrough]],
  ] as const
) {
  Deno.test(`reply writer hands 100 replies of one turn to HTTP/2 as one write, each counted once as it leaves, ${mode} a server interceptor`, async () => {
    const result = await batchOnce(100, (call) => call.end(), [
      ...interceptors,
    ]);
    assert.equal(
      result.batching,
      true,
      "grpc-js no longer keeps call.call(.nextCall)*.stream and metadataSent: " +
        "Session replies are written one by one again; update grpc_internals.ts",
    );
    assertInOrder(result.replies, 100);
    assert.equal(result.status.code, grpc.status.OK);
    assert.equal(result.writes, 1, "one HTTP/2 stream write for the turn");
    assert.equal(result.sent, 100, "each reply seen leaving, once");
  });
}

Deno.test("reply writer delivers every batched reply before an error status that ends the call", async () => {
  const result = await batchOnce(100, (call) =>
    call.emit("error", {
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: "enough",
    }));
  assertInOrder(result.replies, 100);
  assert.equal(
    result.status.code,
    grpc.status.RESOURCE_EXHAUSTED,
    "grpc-js's _final no longer lets prefinish (the last flush) come " +
      "before the status: update reply_batch.ts",
  );
  assert.equal(result.status.details, "enough");
});

Deno.test("reply writer falls back to call.write when an interceptor holds the response headers back, and loses nothing", async () => {
  const result = await batchOnce(100, (call) => call.end(), [slowHeaders]);
  assert.equal(result.batching, false);
  assertInOrder(result.replies, 100);
  assert.equal(result.status.code, grpc.status.OK);
  assert.equal(result.sent, 100);
});

Deno.test("reply writer of a call it cannot reach into writes each message through call.write", () => {
  const written: unknown[] = [];
  const call = {
    once: () => call,
    write: (
      message: unknown,
      done?: () => void,
    ) => (written.push(message), done?.(), true),
  };
  let sent = 0;
  const writer = openReplyWriter(
    call as unknown as grpc.ServerDuplexStream<Command, Reply>,
    { serialize: SESSION.responseSerialize, onSent: () => sent++ },
  );
  assert.equal(writer.batching, false);
  assert.equal(writer.write({ size: { size: 1 } }), true);
  assert.deepEqual(written, [{ size: { size: 1 } }]);
  assert.equal(sent, 1);
});

/** A Peek command. */
const PEEK: Command = { op: "peek", peek: {} };

/** Operations whose Peek answers the number of Peeks run before it. */
function countingPeeks() {
  let run = 0;
  const operations = {
    peek: () => Promise.resolve({ item: itemOf(run++) }),
  } as unknown as QueueOperations;
  return { operations, run: () => run };
}

Deno.test("session with 10,000 replies ready at once and a client that reads late delivers all in order and runs no further than its unsent-bytes bound", async () => {
  const maxUnsentBytes = 64 * 1024;
  const { operations, run } = countingPeeks();
  using server = await serve(
    sessionHandler(operations, {
      maxOutstanding: 20_000,
      maxReceivedBytes: 64 * 1024 * 1024,
      maxUnsentBytes,
    }),
  );
  const stream = server.open();
  stream.pause();
  stream.send(...Array.from({ length: 10_000 }, () => PEEK));
  stream.end();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  // A reply is about 16 + 40 bytes by the session's count (61 on the
  // wire). Beyond the bound, only what HTTP/2 flow control let the client
  // take can have been run: its stream and connection windows and what its
  // stream read before it paused, 64 KiB each. Unbounded, all 10,000 run.
  const ranWhilePaused = run();
  const bound = (maxUnsentBytes + 4 * 65_535) / 56;
  assert.ok(ranWhilePaused < 10_000, "the bound held the session back");
  assert.ok(
    ranWhilePaused <= bound,
    `${ranWhilePaused} commands ran while the client read nothing (bound ${bound})`,
  );
  stream.resume();
  const { replies, status } = await stream.finished();
  assertInOrder(replies, 10_000);
  assert.equal(status.code, grpc.status.OK);
});

Deno.test("session cancelled by its client with batched replies unsent stops running commands, and the server serves the next session", async () => {
  const { operations, run } = countingPeeks();
  using server = await serve(
    sessionHandler(operations, {
      maxOutstanding: 20_000,
      maxUnsentBytes: 64 * 1024,
    }),
  );
  const first = server.open();
  first.pause();
  first.send(...Array.from({ length: 10_000 }, () => PEEK));
  await new Promise((resolve) => setTimeout(resolve, 300));
  first.cancel();
  await new Promise((resolve) => setTimeout(resolve, 300));
  const ran = run();
  assert.ok(ran < 10_000, `${ran} commands ran for a client that read none`);
  const second = server.open();
  second.send(PEEK);
  second.end();
  const { replies, status } = await second.finished();
  assert.equal(status.code, grpc.status.OK);
  assert.equal(replies.length, 1);
  assert.equal(run(), ran + 1, "the cancelled session ran nothing more");
});
