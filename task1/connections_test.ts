import assert from "node:assert/strict";
import { eventually } from "../tests/harness.ts";
import { acceptConnections, type Connection } from "./connections.ts";

/** Resolves once the server closes `conn` (end of stream or reset). */
async function closedByServer(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64);
  try {
    while (await conn.read(buffer) !== null);
  } catch {
    // A reset is a close too.
  }
}

function serve(options: Parameters<typeof acceptConnections>[2]) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Connection[] = [];
  const acceptor = acceptConnections(
    listener,
    (c) => accepted.push(c),
    options,
  );
  const connect = () =>
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  return { acceptor, accepted, connect };
}

Deno.test("acceptConnections closes a connection past maxConnections at accept and takes one again once a place is free", async () => {
  const { acceptor, accepted, connect } = serve({ maxConnections: 2 });
  const first = await connect();
  const second = await connect();
  await eventually(() => accepted.length === 2, "accepted.length === 2");
  const third = await connect();
  await closedByServer(third);
  assert.equal(acceptor.size, 2);
  accepted[0]!.close();
  const fourth = await connect();
  await eventually(() => accepted.length === 3, "accepted.length === 3");
  acceptor.stop();
  for (const conn of [first, second, third, fourth]) conn.close();
  await acceptor.drained().catch(() => {});
});

Deno.test("acceptConnections closes a connection not established within the handshake timeout, and keeps an established one", async () => {
  const { acceptor, accepted, connect } = serve({ handshakeTimeoutMs: 200 });
  const silent = await connect();
  const proven = await connect();
  await eventually(() => accepted.length === 2, "accepted.length === 2");
  accepted[1]!.established();
  await closedByServer(silent);
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(acceptor.size, 1);
  acceptor.stop();
  assert.equal(acceptor.size, 1, "stop leaves established connections");
  acceptor.closeAll();
  await acceptor.drained();
  silent.close();
  proven.close();
});

Deno.test("acceptConnections stop closes the listener and the connections still in their handshake", async () => {
  const { acceptor, accepted, connect } = serve({});
  const conn = await connect();
  await eventually(() => accepted.length === 1, "accepted.length === 1");
  acceptor.stop();
  await closedByServer(conn);
  await acceptor.drained();
  await assert.rejects(connect());
  conn.close();
});
