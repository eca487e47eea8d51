import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { callHttp2Stream, watchSentMessages } from "./grpc_internals.ts";
import { type Command, queueServiceDefinition, type Reply } from "./proto.ts";
import { QueueClient } from "./queue_client.ts";
import { SessionClient } from "./session_client.ts";

/**
 * Starts a real grpc-js server on 127.0.0.1, port 0, with `interceptors`,
 * whose `Session` handler hands each call to `onCall`, and a Session client
 * of it.
 */
async function sessionServer(
  onCall: (call: grpc.ServerDuplexStream<Command, Reply>) => void,
  interceptors: grpc.ServerInterceptor[] = [],
) {
  const server = new grpc.Server({ interceptors });
  server.addService(queueServiceDefinition(), { Session: onCall });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      "127.0.0.1:0",
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => error ? reject(error) : resolve(bound),
    )
  );
  const client = new QueueClient({ hostname: "127.0.0.1", port });
  const session = new SessionClient(client);
  return {
    session,
    [Symbol.dispose]() {
      session.close();
      client.close();
      server.forceShutdown();
    },
  };
}

/** A server interceptor that passes everything through, as a token check does. */
const passThrough: grpc.ServerInterceptor = (_method, call) =>
  new grpc.ServerInterceptingCall(call);

for (
  const [mode, interceptors] of [["without", []], ["with", [
    passThrough,
  ]]] as const
) {
  Deno.test(`grpc-js and Deno's node:http2 still let watchSentMessages see each Session reply leave, ${mode} a server interceptor`, async () => {
    let sent = 0;
    const watched = Promise.withResolvers<boolean>();
    using setup = await sessionServer((call) => {
      watched.resolve(
        callHttp2Stream(call) !== undefined &&
          watchSentMessages(call, () => sent++) !== undefined,
      );
      call.on("data", () => call.write({ pop: { item: "x".repeat(10_000) } }));
    }, [...interceptors]);
    for (let i = 1; i <= 3; i++) {
      assert.equal((await setup.session.pop())?.length, 10_000);
      assert.equal(setup.session.unary, false, "the reply came over Session");
      assert.equal(sent, i, "each reply the client read was seen leaving");
    }
    assert.ok(
      await watched.promise,
      "grpc-js no longer keeps call.call(.nextCall)*.stream, or Deno's " +
        "http2 session no longer has a kHandle with getOutgoingChunk: " +
        "Session's bound on unsent replies is lifted; update grpc_internals.ts",
    );
  });
}

/** An HTTP/2 frame: 9-byte header, then `payload`. */
function frame(type: number, flags: number, id: number, payload: number[]) {
  const length = payload.length;
  return [
    length >> 16,
    (length >> 8) & 255,
    length & 255,
    type,
    flags,
    (id >>> 24) & 127,
    (id >> 16) & 255,
    (id >> 8) & 255,
    id & 255,
    ...payload,
  ];
}

/** A gRPC message of `length` bytes of 7, with its 5-byte prefix. */
function message(length: number): number[] {
  return [
    0,
    length >>> 24,
    (length >> 16) & 255,
    (length >> 8) & 255,
    length & 255,
    ...Array(length).fill(7),
  ];
}

Deno.test("watchSentMessages counts the messages in a stream's DATA frames, however frames, messages, padding and chunks are split", () => {
  const out: Uint8Array[] = [];
  const handle = { getOutgoingChunk: () => out.shift() };
  const session = { [Symbol("kHandle")]: handle };
  const call = { call: { nextCall: { stream: { id: 3, session } } } };
  let sent = 0;
  const stop = watchSentMessages(call, () => sent++);
  assert.ok(stop);
  const two = [...message(4), ...message(6)];
  const bytes = [
    ...frame(1, 4, 3, [0x88]), // HEADERS on stream 3
    ...frame(0, 0, 5, message(4)), // DATA on another stream
    ...frame(0, 0, 3, two.slice(0, 7)), // first message and a bit
    ...frame(0, 8, 3, [2, ...two.slice(7), 0, 0]), // padded: the rest
    ...frame(0, 0, 3, message(0)), // an empty message
  ];
  const counts: number[] = [];
  // Split into chunks of 3 bytes, through frame and message boundaries.
  for (let at = 0; at < bytes.length; at += 3) {
    out.push(Uint8Array.from(bytes.slice(at, at + 3)));
    while (handle.getOutgoingChunk() !== undefined);
    counts.push(sent);
  }
  assert.equal(sent, 3);
  assert.deepEqual(counts.filter((n, i) => n !== counts[i - 1]), [0, 1, 2, 3]);
  stop();
  out.push(Uint8Array.from(frame(0, 0, 3, message(1))));
  handle.getOutgoingChunk();
  assert.equal(sent, 3, "nothing counted once stopped");
});
