/**
 * A worker that takes leases in a Session and then hangs, for the tests that
 * kill it: `deno run -A tests/lease_holder.ts PORT COUNT` leases COUNT items
 * for an hour, prints each item on its own line, and waits to be killed.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { queueServiceDefinition, type Reply } from "../task1/proto.ts";

if (import.meta.main) {
  const [port, count = "1"] = Deno.args;
  const Client = grpc.makeGenericClientConstructor(
    queueServiceDefinition() as unknown as grpc.ServiceDefinition,
    "QueueService",
  );
  const client = new Client(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  );
  const session = client.Session!() as grpc.ClientDuplexStream<unknown, Reply>;
  session.on("data", (reply: Reply) => console.log(reply.pop?.item ?? "-"));
  session.on("error", () => {});
  for (let i = 0; i < Number(count); i++) {
    session.write({ pop: { lease_ms: 3_600_000 } });
  }
  setInterval(() => {}, 60_000);
}
