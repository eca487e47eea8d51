/**
 * End-to-end tests of `Session` through the real programs: piped input
 * pipelined over a Session prints exactly what the unary path prints, the
 * client falls back to unary calls against a version-1 server (the seed's
 * Python server, `../shared/reference/task1/server.py` beside the
 * repository, never copied into it), a waiting command's deadline, and
 * the server's memory against a Session client that never reads.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { FakeQueue } from "../task1/fake_queue.ts";
import { queueServiceDefinition } from "../task1/proto.ts";
import { QueueClient } from "../task1/queue_client.ts";
import { runRepl } from "../task1/repl.ts";
import { SessionClient } from "../task1/session_client.ts";
import {
  commandSucceeds,
  deadPort,
  processStats,
  SilentServer,
  spawnProgram,
  startQueueServer,
  within,
} from "./harness.ts";
import { QUEUE_SEED_SESSION } from "./seed_sessions.ts";

/** The Python the Debian packages python3-grpcio and python3-protobuf use. */
const PYTHON = "/usr/bin/python3";

/** The seed's Python server, kept beside the repository in `shared/`. */
const V1_SERVER = new URL(
  "../../shared/reference/task1/server.py",
  import.meta.url,
).pathname;

/** Whether the seed's Python server can run here. */
const pythonGrpc = commandSucceeds(PYTHON, [
  "-c",
  `import grpc, google.protobuf, os; open(${JSON.stringify(V1_SERVER)})`,
]);
if (!pythonGrpc) {
  console.error(
    "queue_session_test.ts: the tests against the seed's Python server (version 1) did not run: " +
      `they need ${V1_SERVER} and Debian's python3-grpcio and python3-protobuf (apt-get install python3-grpcio python3-protobuf)`,
  );
}

/** The seed's Python server (version 1 of the contract, no Session). */
async function startPythonServer(size: number) {
  const port = deadPort();
  const process = new Deno.Command(PYTHON, {
    args: [V1_SERVER, String(port), String(size)],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    try {
      process.kill("SIGKILL");
    } catch {
      // It has already exited.
    }
    await process.status;
  };
  try {
    await within(
      (async () => {
        for (;;) {
          try {
            (await Deno.connect({ hostname: "127.0.0.1", port })).close();
            return;
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
      })(),
      "the Python server to listen",
    );
  } catch (error: unknown) {
    await stop();
    throw error;
  }
  return { port, [Symbol.asyncDispose]: stop };
}

/**
 * Runs `queue-client` at `port` with `input` piped in and its standard error
 * in its standard output; resolves to every line, in the order written.
 */
async function mergedOutput(
  port: number,
  input: string,
  ...extra: string[]
): Promise<string[]> {
  await using client = spawnProgram(
    "queue-client",
    [`127.0.0.1:${port}`, ...extra],
    { stdin: true, stderrToStdout: true },
  );
  const [lines] = await Promise.all([
    client.stdout.rest(),
    (async () => {
      await client.write(input);
      await client.closeStdin();
    })(),
  ]);
  assert.equal((await client.exit()).code, 0);
  return lines;
}

/** What the REPL prints for `lines` over an in-memory queue of `size`. */
async function modelOutput(lines: string[], size: number): Promise<string[]> {
  const memory = new FakeQueue(size);
  const written: string[] = [];
  async function* source() {
    yield* lines;
  }
  await runRepl(source(), memory, {
    line: (text) => written.push(text),
    error: (text) => written.push(text),
    prompt: () => {},
  });
  return written;
}

/**
 * A script of `count` command lines, the same on every run: puts (some
 * with non-ASCII items), pops, peeks, sizes, blank lines, mistakes and help.
 */
function script(count: number): string[] {
  let state = 12345;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const mistakes = ["frobnicate", "put", "put two words", "peek now", "pop -1"];
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = random();
    if (r < 0.4) lines.push(`put item-${i}${i % 7 === 0 ? "-é😀" : ""}`);
    else if (r < 0.65) lines.push(i % 5 === 0 ? "pop --wait 0" : "pop");
    else if (r < 0.75) lines.push("peek");
    else if (r < 0.85) lines.push("size");
    else if (r < 0.9) lines.push(i % 2 ? "" : "   ");
    else if (r < 0.99) lines.push(mistakes[i % mistakes.length]!);
    else lines.push("help");
  }
  return lines;
}

Deno.test("queue-client piping the seed's example through a Session prints exactly the seed's answers", async () => {
  await using started = await startQueueServer(3);
  const input = QUEUE_SEED_SESSION.map(([line]) => `${line}\n`).join("");
  assert.deepEqual(
    await mergedOutput(started.port, input),
    QUEUE_SEED_SESSION.map(([, answer]) => answer),
  );
});

Deno.test("queue-client piping 10,000 commands through a pipelined Session prints the same lines, errors in place, as one at a time and as the REPL's model", async () => {
  const lines = script(10_000);
  const input = lines.join("\n") + "\n";
  const expected = await modelOutput(lines, 50);
  assert.ok(expected.some((line) => line.startsWith("error: ")));
  assert.ok(expected.includes("False") && expected.includes("Queue is empty"));
  {
    await using started = await startQueueServer(50);
    assert.deepEqual(await mergedOutput(started.port, input), expected);
  }
  {
    await using started = await startQueueServer(50);
    assert.deepEqual(
      await mergedOutput(started.port, input, "--window", "1"),
      expected,
    );
  }
});

if (pythonGrpc) {
  Deno.test("queue-client against the seed's version-1 Python server falls back to unary calls and prints the same 10,000 lines", async () => {
    const lines = script(10_000);
    await using python = await startPythonServer(50);
    assert.deepEqual(
      await mergedOutput(python.port, lines.join("\n") + "\n"),
      await modelOutput(lines, 50),
    );
  });

  Deno.test("queue-client against the seed's version-1 Python server runs the seed's example, --wait commands and one-shot mode", async () => {
    await using python = await startPythonServer(3);
    const input = QUEUE_SEED_SESSION.map(([line]) => `${line}\n`).join("");
    assert.deepEqual(
      await mergedOutput(python.port, input),
      QUEUE_SEED_SESSION.map(([, answer]) => answer),
    );
    assert.deepEqual(
      await mergedOutput(python.port, "put A --wait 0.5\npop --wait 1\n"),
      ["True", "A"],
    );
    for (
      const [args, answer] of [
        [["put", "B", "--wait", "2"], "True"],
        [["pop", "--wait", "0.1"], "B"],
      ] as const
    ) {
      await using client = spawnProgram("queue-client", [
        `127.0.0.1:${python.port}`,
        ...args,
      ]);
      assert.deepEqual(await client.stdout.rest(), [answer]);
      assert.equal((await client.exit()).code, 0);
    }
  });
}

Deno.test("queue-client extends a command's deadline by its --wait, in a Session and in one-shot mode", async () => {
  await using silent = new SilentServer();
  const address = `127.0.0.1:${silent.port}`;
  const line = `error: DEADLINE_EXCEEDED: No answer from "${address}" within`;
  await using oneShot = spawnProgram("queue-client", [
    address,
    "pop",
    "--wait",
    "0.25",
    "--timeout",
    "0.25",
  ]);
  assert.deepEqual(await oneShot.stderr.rest(), [`${line} 0.5 s`]);
  assert.equal((await oneShot.exit()).code, 1);

  await using repl = spawnProgram("queue-client", [
    address,
    "--timeout",
    "0.25",
  ], { stdin: true });
  await repl.write("pop --wait 0.5\nsize\n");
  await repl.closeStdin();
  // The stream is given up when the pop's deadline passes; the size, sent
  // on it too, fails with it.
  assert.deepEqual(await repl.stderr.rest(), [
    `${line} 0.75 s`,
    `${line} 0.25 s`,
  ]);
  assert.equal((await repl.exit()).code, 0);
});

Deno.test("queue-client exits 2 for --wait without a command, and 1 for a bad --wait on one", async () => {
  await using alone = spawnProgram("queue-client", [
    "127.0.0.1:1",
    "--wait",
    "1",
  ]);
  assert.equal((await alone.exit()).code, 2);
  assert.match((await alone.stderr.rest())[0]!, /^error: --wait goes with/);
  for (const wait of ["-1", "soon", "3601"]) {
    await using bad = spawnProgram("queue-client", [
      "127.0.0.1:1",
      "pop",
      `--wait=${wait}`,
    ]);
    assert.equal((await bad.exit()).code, 1, wait);
    assert.deepEqual(await bad.stderr.rest(), [
      `error: Invalid wait "${wait}": expected a number of seconds from 0 to 3600`,
    ]);
  }
});

Deno.test("queue-server keeps its memory bounded for a Session client that sends without reading, and serves other clients meanwhile", async () => {
  await using started = await startQueueServer(10);
  const address = { hostname: "127.0.0.1", port: started.port };
  using unary = new QueueClient(address);
  // Each Peek answers with this 1 MiB item.
  assert.equal(await unary.put("x".repeat(1024 * 1024)), true);
  const before = await processStats(started.server.process.pid);

  // Its own connection, as a real client has: a stream that is not read
  // stalls the HTTP/2 connection it is on, on the client's side.
  const hogChannel = new grpc.Client(
    `127.0.0.1:${started.port}`,
    grpc.credentials.createInsecure(),
    { "grpc.use_local_subchannel_pool": 1 },
  );
  const session = queueServiceDefinition().Session;
  const hog = hogChannel.makeBidiStreamRequest(
    session.path,
    session.requestSerialize,
    session.responseDeserialize,
  );
  hog.on("error", () => {});
  try {
    // 2000 answers of 1 MiB: 2 GiB if the server queued them for a client
    // that never reads them.
    for (let i = 0; i < 2000; i++) hog.write({ peek: {} });

    using otherClient = new QueueClient(address);
    using other = new SessionClient(otherClient);
    for (let i = 0; i < 100; i++) {
      assert.equal(await within(other.size(), "a Session answer"), 1);
      assert.equal(await within(unary.size(), "a unary answer"), 1);
    }
    // Give a server that ignores flow control time to run away.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(await unary.size(), 1);
    const after = await processStats(started.server.process.pid);
    const growthMiB = (after.rssBytes - before.rssBytes) / 2 ** 20;
    assert.ok(growthMiB < 200, `server RSS grew by ${growthMiB} MiB`);
  } finally {
    hog.cancel();
    hogChannel.close();
  }
});
