import assert from "node:assert/strict";
import { within } from "../tests/harness.ts";
import { HandshakeReader } from "./handshake_reader.ts";

/** A loopback connection pair: the server's end and the client's. */
async function connectedPair(): Promise<[Deno.Conn, Deno.Conn, () => void]> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  const [server, client] = await Promise.all([
    listener.accept(),
    Deno.connect({ hostname: "127.0.0.1", port }),
  ]);
  listener.close();
  return [server, client, () => client.close()];
}

Deno.test("handshake reader closes a silent connection at the timeout and keeps one that named itself in time", async () => {
  const reader = new HandshakeReader(100);
  const [silentServer, silentClient, closeSilent] = await connectedPair();
  const [namedServer, namedClient, closeNamed] = await connectedPair();
  const silent = reader.read(silentServer);
  const named = reader.read(namedServer);
  await namedClient.write(new TextEncoder().encode("greg"));
  assert.deepEqual(await within(named, "the name"), { name: "greg" });
  assert.equal(await within(silent, "the timeout"), null);
  // The reader closed the silent connection: its client reads the end.
  assert.equal(await silentClient.read(new Uint8Array(1)), null);
  namedServer.close();
  closeSilent();
  closeNamed();
});

Deno.test("handshake reader refuses a token line when the server takes none", async () => {
  const reader = new HandshakeReader(10_000);
  const [server, client, close] = await connectedPair();
  const handshake = reader.read(server);
  await client.write(new TextEncoder().encode("TOKEN s3cret\ngreg\n"));
  assert.deepEqual(await within(handshake, "the refusal"), {
    error: "this server takes no token: connect without one",
  });
  server.close();
  close();
});
