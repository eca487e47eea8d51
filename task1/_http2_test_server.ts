/**
 * For tests that speak raw HTTP/2 to a grpc-js server: the server bound on
 * 127.0.0.1, port 0, and one `node:http2` connection to it.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import http2 from "node:http2";

/**
 * Binds `server` (services already added) to 127.0.0.1, port 0, and opens
 * a `node:http2` connection to it; dispose it to close both.
 */
export async function serveOverHttp2(server: grpc.Server) {
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      "127.0.0.1:0",
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => error ? reject(error) : resolve(bound),
    )
  );
  const connection = http2.connect(`http://127.0.0.1:${port}`);
  // Each test reads its streams' failures.
  connection.on("error", () => {});
  return {
    connection,
    [Symbol.dispose]() {
      connection.destroy();
      server.forceShutdown();
    },
  };
}
