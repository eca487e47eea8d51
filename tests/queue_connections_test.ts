/**
 * The queue server's connections are bounded and never wedge it: accepting
 * resumes after the process ran out of file descriptors, a connection that
 * starts no call within the handshake timeout is closed (plain and TLS), an
 * idle one gets a GOAWAY, and connections past the limit are refused.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import http2 from "node:http2";
import { frameMessage } from "../task1/grpc_framing.ts";
import {
  connectRaw,
  type RawClient,
  runToEnd,
  startQueueServer,
  within,
} from "./harness.ts";
import { makeTestPki } from "./tls_fixtures.ts";

/** Resolves once the server closes `client`'s connection (EOF or reset). */
async function closedByServer(client: RawClient, ms = 15_000): Promise<void> {
  const buffer = new Uint8Array(1024);
  await within(
    (async () => {
      try {
        while (await client.conn.read(buffer) !== null);
      } catch {
        // A reset is a close too.
      }
    })(),
    "the server to close the connection",
    ms,
  );
}

/**
 * Whether `client`'s connection is still open after `ms`: the server may
 * send bytes (its HTTP/2 settings), but not close it.
 */
async function stillOpenAfter(client: RawClient, ms: number): Promise<boolean> {
  return await closedByServer(client, ms).then(() => false, () => true);
}

/** Runs `queue-client 127.0.0.1:PORT size` and asserts it prints `size`. */
async function assertSize(port: number, size: number): Promise<void> {
  const output = await runToEnd("queue-client", [`127.0.0.1:${port}`, "size"]);
  assert.deepEqual(output, { stdout: [String(size)], stderr: [], code: 0 });
}

/** An HTTP/2 connection to the queue server that records GOAWAY and close. */
class Http2Connection implements Disposable {
  readonly session: http2.ClientHttp2Session;
  readonly goaway: Promise<void>;
  readonly closed: Promise<void>;
  gotGoaway = false;

  constructor(port: number) {
    this.session = http2.connect(`http://127.0.0.1:${port}`);
    this.session.on("error", () => {});
    this.goaway = new Promise((resolve) => {
      this.session.once("goaway", () => {
        this.gotGoaway = true;
        resolve();
      });
    });
    this.closed = new Promise((resolve) => this.session.once("close", resolve));
  }

  /** Makes one Size call and resolves to its grpc-status. */
  size(): Promise<string> {
    const stream = this.session.request({
      ":method": "POST",
      ":path": "/queue.v1.QueueService/Size",
      "content-type": "application/grpc",
      te: "trailers",
    });
    stream.end(frameMessage(new Uint8Array(0)));
    return within(
      new Promise<string>((resolve, reject) => {
        let status = "";
        stream.on("response", (headers) => {
          status ||= String(headers["grpc-status"] ?? "");
        });
        stream.on("trailers", (trailers) => {
          status ||= String(trailers["grpc-status"] ?? "");
        });
        stream.on("data", (_chunk: Buffer) => {});
        stream.on("close", () => resolve(status));
        stream.on("error", reject);
      }),
      "a Size call",
    );
  }

  [Symbol.dispose](): void {
    this.session.destroy();
  }
}

Deno.test("queue-server accepts again after running out of file descriptors (300 connections under a 200-fd limit)", async () => {
  await using started = await startQueueServer(3);
  const { port } = started;
  const limit = await new Deno.Command("prlimit", {
    args: ["--pid", String(started.server.process.pid), "--nofile=200:200"],
  }).output();
  assert.ok(limit.success, new TextDecoder().decode(limit.stderr));
  // Connections past the backlog may never complete: each is bounded and
  // those that did complete are closed.
  const attempts = await Promise.allSettled(
    Array.from(
      { length: 300 },
      () => within(connectRaw(port), "connect", 10_000),
    ),
  );
  for (const attempt of attempts) {
    if (attempt.status === "fulfilled") {
      await attempt.value[Symbol.asyncDispose]();
    }
  }
  await within(assertSize(port, 0), "a Size call after the exhaustion", 30_000);
});

Deno.test("queue-server closes a plain connection that sends nothing within --handshake-timeout, and keeps one that made a call", async () => {
  await using started = await startQueueServer(3, "--handshake-timeout", "1");
  await using silent = await connectRaw(started.port);
  using working = new Http2Connection(started.port);
  assert.equal(await working.size(), "0");
  await closedByServer(silent);
  // Well past the handshake timeout, the connection that made a call is open.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  assert.equal(working.gotGoaway, false);
  assert.equal(await working.size(), "0");
});

Deno.test("queue-server closes a TLS connection that never handshakes within --handshake-timeout", async () => {
  await using pki = await makeTestPki();
  await using started = await startQueueServer(
    3,
    ...["--tls-cert", pki.cert, "--tls-key", pki.key],
    ...["--handshake-timeout", "1"],
  );
  await using silent = await connectRaw(started.port);
  await using halfHello = await connectRaw(started.port, "\x16\x03\x01\x02");
  await closedByServer(silent);
  await closedByServer(halfHello);
});

Deno.test("queue-server with --max-connections 5 closes the 6th connection at once and accepts again when one closes", async () => {
  await using started = await startQueueServer(
    3,
    ...["--max-connections", "5", "--handshake-timeout", "60"],
  );
  const held: RawClient[] = [];
  for (let i = 0; i < 5; i++) held.push(await connectRaw(started.port));
  try {
    await using sixth = await connectRaw(started.port);
    await closedByServer(sixth);
    assert.ok(await stillOpenAfter(held[0]!, 500), "the first one stays open");
  } finally {
    for (const client of held) await client[Symbol.asyncDispose]();
  }
  await assertSize(started.port, 0);
});

Deno.test("queue-server sends GOAWAY to a connection idle past --idle-timeout, not to a busy one", async () => {
  await using started = await startQueueServer(3, "--idle-timeout", "2");
  using idle = new Http2Connection(started.port);
  using busy = new Http2Connection(started.port);
  assert.equal(await idle.size(), "0");
  const until = Date.now() + 3000;
  while (Date.now() < until) {
    assert.equal(await busy.size(), "0");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await within(idle.goaway, "a GOAWAY on the idle connection");
  await within(idle.closed, "the idle connection to close");
  assert.equal(busy.gotGoaway, false);
});
