import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { connectionSocket } from "./grpc_internals.ts";
import { type Command, queueServiceDefinition, type Reply } from "./proto.ts";
import { QueueClient } from "./queue_client.ts";
import { SessionClient } from "./session_client.ts";

/**
 * Starts a real grpc-js server on 127.0.0.1, port 0, whose `Session` handler
 * hands each call to `onCall`, and a Session client of it.
 */
async function sessionServer(
  onCall: (call: grpc.ServerDuplexStream<Command, Reply>) => void,
) {
  const server = new grpc.Server();
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

Deno.test("grpc-js still keeps a server call's connection socket where connectionSocket reads it, counting the bytes that left", async () => {
  const started = Promise.withResolvers<
    { socket: ReturnType<typeof connectionSocket>; before: number }
  >();
  using setup = await sessionServer((call) => {
    const socket = connectionSocket(call);
    started.resolve({ socket, before: socket?.bytesWritten ?? 0 });
    call.on("data", () => call.write({ pop: { item: "x".repeat(10_000) } }));
  });
  assert.equal((await setup.session.pop())?.length, 10_000);
  assert.equal(setup.session.unary, false, "the reply came over Session");
  const { socket, before } = await started.promise;
  assert.ok(
    socket !== undefined,
    "grpc-js no longer keeps call.call.stream.session.socket.bytesWritten: " +
      "Session's bound on unsent replies is lifted; update grpc_internals.ts",
  );
  assert.equal(typeof socket.once, "function", "socket.once is missing");
  assert.equal(typeof socket.off, "function", "socket.off is missing");
  assert.ok(
    socket.bytesWritten - before >= 10_000,
    `bytesWritten counts the reply that left: ${before} -> ${socket.bytesWritten}`,
  );
});
