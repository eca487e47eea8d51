import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { TokenGate } from "../lib/token.ts";
import { clientChannelOptions, tokenInterceptor } from "./credentials.ts";

/** A bidirectional stream that echoes raw bytes, standing in for Session. */
const ECHO: grpc.MethodDefinition<Buffer, Buffer> = {
  path: "/test.Echo/Stream",
  requestStream: true,
  responseStream: true,
  requestSerialize: (value) => value,
  requestDeserialize: (value) => value,
  responseSerialize: (value) => value,
  responseDeserialize: (value) => value,
};

/** Sends one message on the echo stream and resolves to the answer or error. */
function echoOnce(client: grpc.Client): Promise<string> {
  return new Promise((resolve) => {
    const call = client.makeBidiStreamRequest(
      ECHO.path,
      ECHO.requestSerialize,
      ECHO.responseDeserialize,
      { deadline: Date.now() + 5000 },
    );
    call.on("data", (data: Buffer) => {
      resolve(data.toString());
      call.end();
    });
    call.on(
      "error",
      (error: grpc.ServiceError) =>
        resolve(grpc.status[error.code] ?? String(error.code)),
    );
    call.write(Buffer.from("hello"));
  });
}

const TOKEN = "s3cret".padEnd(32, "-");

Deno.test("tokenInterceptor refuses a bidirectional stream without the token and lets it through with it", async () => {
  const server = new grpc.Server({
    interceptors: [tokenInterceptor(new TokenGate(TOKEN, { delayMs: 100 }))],
  });
  server.addService({ Stream: ECHO }, {
    Stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on("data", (data: Buffer) => call.write(data));
      call.on("end", () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      "127.0.0.1:0",
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => error ? reject(error) : resolve(bound),
    )
  );
  const clients = [undefined, "wrong", TOKEN].map((token) =>
    new grpc.Client(
      `127.0.0.1:${port}`,
      grpc.credentials.createInsecure(),
      clientChannelOptions(undefined, token),
    )
  );
  try {
    assert.equal(await echoOnce(clients[0]!), "UNAUTHENTICATED");
    // A wrong token's refusal is held; the right token meanwhile gets in.
    const wrong = echoOnce(clients[1]!);
    assert.equal(await echoOnce(clients[2]!), "hello");
    assert.equal(await wrong, "UNAUTHENTICATED");
  } finally {
    for (const client of clients) client.close();
    server.forceShutdown();
  }
});
