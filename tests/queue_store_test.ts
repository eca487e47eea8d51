/**
 * End-to-end tests of `queue-server --data FILE` and `--max-bytes` as real
 * processes on real files: kill -9 in the middle of concurrent puts and pops,
 * restarts, files that cannot be used, and the byte bound.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { QueueClient } from "../task1/queue_client.ts";
import {
  processStats,
  spawnProgram,
  startQueueServer,
  within,
} from "./harness.ts";
import { crashRound, drain } from "./queue_crash.ts";
import { QUEUE_SEED_SESSION } from "./seed_sessions.ts";
import { WaitingClient } from "./waiting_client.ts";

function clientOf(port: number): QueueClient {
  return new QueueClient({ hostname: "127.0.0.1", port });
}

/** A fresh temporary folder, removed on dispose. */
async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "queue-data-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** Runs queue-server with `args` to its end: its exit code and stderr. */
async function runServer(args: string[]) {
  await using server = spawnProgram("queue-server", args);
  const [status, stderr] = await Promise.all([
    server.exit(),
    server.stderr.rest(),
  ]);
  return { code: status.code, stderr };
}

Deno.test("queue-server --data killed with -9 under 8 concurrent clients loses no acknowledged item (but those a Pop in flight at the kill took), resurrects no popped one, duplicates none and keeps each client's order, round after round", async () => {
  await using dir = await tempDir();
  for (let round = 0; round < 4; round++) {
    const result = await crashRound(`${dir.path}/queue.db`, round);
    assert.deepEqual(result.problems, [], `round ${round}`);
    assert.ok(result.acknowledged > 0, `round ${round} acknowledged none`);
  }
});

Deno.test("queue-server --data keeps the seed's example session's state across a restart", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/queue.db`;
  {
    await using started = await startQueueServer(3, "--data", file);
    using client = clientOf(started.port);
    // The seed session up to its first pop: A, B, C queued, D refused.
    for (const [line, answer] of QUEUE_SEED_SESSION.slice(0, 7)) {
      const [command, item = ""] = line.split(" ");
      const got = command === "put"
        ? ((await client.put(item)) ? "True" : "False")
        : command === "size"
        ? String(await client.size())
        : await client.peek();
      assert.equal(got, answer, line);
    }
    started.server.kill("SIGTERM");
    const { code } = await started.server.exit();
    assert.equal(code, 0);
  }
  await using started = await startQueueServer(3, "--data", file);
  using client = clientOf(started.port);
  assert.equal(await client.size(), 3);
  assert.equal(await client.put("D"), false);
  assert.equal(await client.peek(), "A");
  assert.deepEqual(await drain(client), ["A", "B", "C"]);
});

Deno.test("queue-server --data on SIGTERM ends a waiting Put with UNAVAILABLE, exits 0, and the restarted queue holds only what was acknowledged", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/queue.db`;
  {
    await using started = await startQueueServer(1, "--data", file);
    using client = new WaitingClient(started.port);
    assert.deepEqual(await client.put({ item: "kept" }).answer, {
      added: true,
    });
    const waiting = client.put({ item: "never", wait_ms: 60_000 }).answer
      .then(() => "answered", (error) => grpc.status[error.code]);
    // Make sure the waiting Put has reached the server before the signal.
    await new Promise((resolve) => setTimeout(resolve, 200));
    started.server.kill("SIGTERM");
    assert.equal(await within(waiting, "the waiting Put"), "UNAVAILABLE");
    assert.equal((await started.server.exit()).code, 0);
  }
  await using started = await startQueueServer(1, "--data", file);
  using client = clientOf(started.port);
  assert.deepEqual(await drain(client), ["kept"]);
});

Deno.test("queue-server --data restarted with a smaller SIZE starts, logs one line, tells the true size and refuses puts until there is room", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/queue.db`;
  {
    await using started = await startQueueServer(10, "--data", file);
    using client = clientOf(started.port);
    for (let i = 0; i < 5; i++) assert.equal(await client.put(`i${i}`), true);
  }
  await using started = await startQueueServer(2, "--data", file);
  assert.match(
    (await started.server.stderr.next()) ?? "",
    /holds 5 items .* more than SIZE 2 .*Puts answer False until there is room$/,
  );
  using client = clientOf(started.port);
  assert.equal(await client.size(), 5);
  assert.equal(await client.put("x"), false);
  for (let i = 0; i < 4; i++) assert.equal(await client.pop(), `i${i}`);
  assert.equal(await client.put("x"), true);
  assert.deepEqual(await drain(client), ["i4", "x"]);
});

Deno.test("queue-server refuses a corrupt file, another program's database and a file locked by a running server: one error line, exit 1, the file untouched", async () => {
  await using dir = await tempDir();
  const corrupt = `${dir.path}/corrupt.db`;
  await Deno.writeTextFile(corrupt, "these are not the bytes of a database\n");
  const foreign = `${dir.path}/foreign.db`;
  const db = new DatabaseSync(foreign);
  db.exec(
    "CREATE TABLE accounts (id INTEGER); INSERT INTO accounts VALUES (1)",
  );
  db.close();
  const locked = `${dir.path}/locked.db`;
  await using owner = await startQueueServer(3, "--data", locked);
  using client = clientOf(owner.port);
  assert.equal(await client.put("kept"), true);

  const cases: [string, RegExp][] = [
    [corrupt, /^error: Cannot use ".*corrupt\.db": file is not a database$/],
    [foreign, /^error: ".*foreign\.db" is not a queue-server data file$/],
    [locked, /^error: ".*locked\.db" is in use by another queue-server/],
  ];
  for (const [file, message] of cases) {
    const before = await Deno.readFile(file);
    const { code, stderr } = await runServer(["0", "3", "--data", file]);
    assert.equal(code, 1, file);
    assert.equal(stderr.length, 1, JSON.stringify(stderr));
    assert.match(stderr[0]!, message);
    assert.deepEqual(await Deno.readFile(file), before, `${file} untouched`);
  }
  assert.equal(await client.pop(), "kept", "the running server goes on");
});

Deno.test("queue-server refuses a data file in a folder it cannot create it in (missing, or a file in the way): one error line, exit 1", async () => {
  // Root ignores a folder's write bit, so the folders here are ones that no
  // user can create a file in.
  await using dir = await tempDir();
  await Deno.writeTextFile(`${dir.path}/plain-file`, "not a folder\n");
  for (
    const file of [
      `${dir.path}/no/such/folder/queue.db`,
      `${dir.path}/plain-file/queue.db`,
    ]
  ) {
    const { code, stderr } = await runServer(["0", "3", "--data", file]);
    assert.equal(code, 1, file);
    assert.equal(stderr.length, 1, JSON.stringify(stderr));
    assert.match(stderr[0]!, /^error: Cannot open ".*queue\.db": /);
  }
  assert.equal(
    await Deno.readTextFile(`${dir.path}/plain-file`),
    "not a folder\n",
  );
});

Deno.test("queue-server --max-bytes answers False to 1 MiB puts once the bound is reached, stays up, pops, and keeps its memory bounded", async () => {
  await using started = await startQueueServer(1000, "--max-bytes", "4MiB");
  const mib = 1024 * 1024;
  const clients = Array.from({ length: 4 }, () => clientOf(started.port));
  try {
    const answers: boolean[] = [];
    for (let i = 0; i < 4; i++) {
      answers.push(await clients[0]!.put(String(i).repeat(mib)));
    }
    assert.deepEqual(answers, [true, true, true, true]);
    const before = await processStats(started.server.process.pid);
    // 256 MiB more offered, 4 puts in flight at a time: all refused.
    const refused = await within(
      Promise.all(clients.map(async (client) => {
        let count = 0;
        for (let i = 0; i < 64; i++) {
          if (!(await client.put("z".repeat(mib)))) count++;
        }
        return count;
      })),
      "256 refused puts",
      60_000,
    );
    assert.deepEqual(refused, [64, 64, 64, 64]);
    const after = await processStats(started.server.process.pid);
    assert.ok(
      after.rssBytes - before.rssBytes < 128 * mib,
      `RSS grew by ${(after.rssBytes - before.rssBytes) / mib} MiB`,
    );
    const client = clients[0]!;
    assert.equal(await client.size(), 4);
    assert.equal(await client.pop(), "0".repeat(mib));
    assert.equal(await client.put("y".repeat(mib)), true);
    assert.equal(await client.put("y"), false, "exactly full");
  } finally {
    for (const client of clients) client.close();
  }
});

Deno.test("queue-server exits 2 with the usage for a bad --max-bytes and 1 with one line for one too large for its heap to load with --data", async () => {
  for (const bad of ["0", "12XB", "1.5GiB", "lots", "2 GiB"]) {
    const { code, stderr } = await runServer(["0", "3", "--max-bytes", bad]);
    assert.equal(code, 2, bad);
    assert.match(stderr[0]!, /^error: Invalid byte count/);
  }
  await using dir = await tempDir();
  const file = `${dir.path}/queue.db`;
  const { code, stderr } = await runServer([
    ...["0", "3", "--max-bytes", "1TiB", "--data", file],
  ]);
  assert.equal(code, 1);
  assert.deepEqual(stderr.length, 1);
  assert.match(
    stderr[0]!,
    /^error: --max-bytes 1099511627776 is more than this process can load from --data/,
  );
});

Deno.test("queue-server in memory takes a --max-bytes past its heap limit: its items are UTF-8 bytes off the V8 heap", async () => {
  await using started = await startQueueServer(3, "--max-bytes", "1TiB");
  using client = clientOf(started.port);
  assert.equal(await client.put("an item"), true);
  assert.equal(await client.pop(), "an item");
});
