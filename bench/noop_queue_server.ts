/**
 * The queue benchmark's reference: a `QueueService` on grpc-js under Deno
 * whose handlers do nothing, i.e. the framework's own ceiling. Usage:
 * `noop_queue_server.ts PORT`; its first stderr line says where it listens.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { queueServiceDefinition } from "../task1/proto.ts";

const server = new grpc.Server();
server.addService(queueServiceDefinition(), {
  Put: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
    callback(null, { added: true }),
  Peek: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
    callback(null, {}),
  Pop: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
    callback(null, {}),
  Size: (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
    callback(null, { size: 0 }),
});
server.bindAsync(
  `127.0.0.1:${Deno.args[0] ?? 0}`,
  grpc.ServerCredentials.createInsecure(),
  (error, port) => {
    if (error) throw error;
    console.error(`noop-queue-server listening on 127.0.0.1:${port}`);
  },
);
Deno.addSignalListener("SIGTERM", () => server.forceShutdown());
