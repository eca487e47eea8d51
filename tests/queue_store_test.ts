/**
 * End-to-end tests of `queue-server --data FILE` and `--max-bytes` as real
 * processes on real files: kill -9 in the middle of concurrent puts and pops,
 * restarts, files that cannot be used, and the byte bound.
 */
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { QueueClient } from "../task1/queue_client.ts";
import { SessionClient } from "../task1/session_client.ts";
import { APPLICATION_ID, QueueFile } from "../task1/store/sqlite/file.ts";
import {
  processStats,
  type RunningProgram,
  spawnProgram,
  startQueueServer,
  tempDir,
  within,
} from "./harness.ts";
import { crashRound, drain } from "./queue_crash.ts";
import { QUEUE_SEED_SESSION } from "./seed_sessions.ts";
import { WaitingClient } from "./waiting_client.ts";

function clientOf(port: number): QueueClient {
  return new QueueClient({ hostname: "127.0.0.1", port });
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
  await using dir = await tempDir("queue-data-");
  for (let round = 0; round < 4; round++) {
    const result = await crashRound(`${dir.path}/queue.db`, round);
    assert.deepEqual(result.problems, [], `round ${round}`);
    assert.ok(result.acknowledged > 0, `round ${round} acknowledged none`);
  }
});

Deno.test("queue-server --data keeps the seed's example session's state across a restart", async () => {
  await using dir = await tempDir("queue-data-");
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
  await using dir = await tempDir("queue-data-");
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
  await using dir = await tempDir("queue-data-");
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
  await using dir = await tempDir("queue-data-");
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
  await using dir = await tempDir("queue-data-");
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

const MIB = 1024 * 1024;

/**
 * Item `i` of the 1 GiB file: exactly 1 MiB of UTF-8, its number in 4 digits,
 * then control characters (even `i`) or U+1F600, 4 bytes each (odd `i`).
 */
function bigItem(i: number): string {
  const tag = String(i).padStart(4, "0");
  return i % 2 === 0
    ? tag + String.fromCharCode(1 + i % 31).repeat(MIB - 4)
    : tag + "\u{1F600}".repeat((MIB - 4) / 4);
}

/** Waits for queue-server's "listening" line, within `ms`; its port. */
async function listeningPort(server: RunningProgram, ms: number) {
  const first = await server.stderr.next(ms);
  const port = Number(first?.match(/listening on .*:(\d+)$/)?.[1]);
  assert.ok(port, `queue-server said: ${first}`);
  return port;
}

Deno.test("queue-server --data restarted on a 1 GiB file of 1 MiB items of control characters and of 4-byte UTF-8 characters serves every item, in order, byte for byte", async () => {
  await using dir = await tempDir("queue-data-");
  const file = `${dir.path}/queue.db`;
  const count = 1024;
  // Made a queue file by the store itself, then filled in one transaction
  // with each item's UTF-8 bytes stored as text: the store's own commits
  // would take a minute here (node:sqlite converts a 1 MiB string slowly).
  new QueueFile(file).close();
  const db = new DatabaseSync(file);
  try {
    db.exec("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN");
    const insert = db.prepare(
      "INSERT INTO items (seq, item) VALUES (?, CAST(? AS TEXT))",
    );
    const utf8 = new TextEncoder();
    for (let i = 0; i < count; i++) insert.run(i + 1, utf8.encode(bigItem(i)));
    db.exec("COMMIT");
  } finally {
    db.close();
  }
  await using server = spawnProgram("queue-server", [
    ...["0", String(count), "--host", "127.0.0.1", "--data", file],
    ...["--max-bytes", "2GiB"],
  ]);
  const port = await listeningPort(server, 300_000);
  using client = new QueueClient({ hostname: "127.0.0.1", port }, {
    timeoutMs: 120_000,
  });
  assert.equal(await client.size(), count);
  assert.ok((await client.peek()) === bigItem(0), "peek: item 0");
  // Popped 16 at a time over one Session, answered in order; compared in
  // place (a failed assertion would print 1 MiB strings).
  using session = new SessionClient(client);
  const wrong: number[] = [];
  await within(
    (async () => {
      for (let i = 0; i < count; i += 16) {
        const items = await Promise.all(
          Array.from({ length: 16 }, () => session.pop()),
        );
        items.forEach((item, j) => {
          if (
            item?.length !== bigItem(i + j).length || item !== bigItem(i + j)
          ) {
            wrong.push(i + j);
          }
        });
      }
    })(),
    "1024 pops of 1 MiB",
    300_000,
  );
  assert.deepEqual(wrong, [], "items popped not as written");
  assert.equal(await client.size(), 0);
  server.kill("SIGTERM");
  assert.equal((await server.exit(60_000)).code, 0);
});

Deno.test("queue-server refuses a data file holding an item it cannot read (not UTF-8, not text): one error line naming the file and the item, exit 1", async () => {
  await using dir = await tempDir("queue-data-");
  const invalid = `${dir.path}/invalid.db`;
  const queueFile = new QueueFile(invalid);
  queueFile.commit(1, ["a", "b", "c"]);
  queueFile.close();
  let db = new DatabaseSync(invalid);
  db.exec("UPDATE items SET item = CAST(x'41ff42' AS TEXT) WHERE seq = 2");
  db.close();
  // The store's table is STRICT, so `item` holds only text; one made by
  // hand without STRICT can hold anything.
  const blob = `${dir.path}/blob.db`;
  db = new DatabaseSync(blob);
  db.exec(`PRAGMA application_id=${APPLICATION_ID}; PRAGMA user_version=1;
    CREATE TABLE items (seq INTEGER PRIMARY KEY, item TEXT NOT NULL);
    INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, x'00ff');`);
  db.close();
  const cases: [string, RegExp][] = [
    [
      invalid,
      /^error: ".*invalid\.db" is corrupt: the item at seq 2 is not valid UTF-8$/,
    ],
    [
      blob,
      /^error: ".*blob\.db" is corrupt: the item at seq 3 is of type blob, not text$/,
    ],
  ];
  for (const [file, message] of cases) {
    const { code, stderr } = await runServer(["0", "3", "--data", file]);
    assert.equal(code, 1, file);
    assert.equal(stderr.length, 1, JSON.stringify(stderr));
    assert.match(stderr[0]!, message);
  }
});

Deno.test("queue-server --data creates its file and the file's -wal readable by their owner only (0600), and leaves an existing file's mode as it is", async () => {
  await using dir = await tempDir("queue-data-");
  const file = `${dir.path}/queue.db`;
  const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o777;
  {
    await using started = await startQueueServer(3, "--data", file);
    using client = clientOf(started.port);
    assert.equal(await client.put("kept"), true);
    assert.equal((await mode(file)).toString(8), "600");
    assert.equal((await mode(`${file}-wal`)).toString(8), "600");
    started.server.kill("SIGTERM");
    assert.equal((await started.server.exit()).code, 0);
  }
  assert.equal((await mode(file)).toString(8), "600");
  await Deno.chmod(file, 0o640);
  await using started = await startQueueServer(3, "--data", file);
  using client = clientOf(started.port);
  assert.equal(await client.put("more"), true);
  assert.equal((await mode(file)).toString(8), "640");
  assert.equal((await mode(`${file}-wal`)).toString(8), "640");
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

Deno.test("queue-server exits 2 with the usage for a bad --max-bytes", async () => {
  for (const bad of ["0", "12XB", "1.5GiB", "lots", "2 GiB"]) {
    const { code, stderr } = await runServer(["0", "3", "--max-bytes", bad]);
    assert.equal(code, 2, bad);
    assert.match(stderr[0]!, /^error: Invalid byte count/);
  }
});

Deno.test("queue-server in memory and with --data takes a --max-bytes past its heap limit: its items are UTF-8 bytes off the V8 heap, and a file's are loaded as such", async () => {
  await using dir = await tempDir("queue-data-");
  for (const data of [[], ["--data", `${dir.path}/queue.db`]]) {
    await using started = await startQueueServer(
      3,
      ...["--max-bytes", "1TiB", ...data],
    );
    using client = clientOf(started.port);
    assert.equal(await client.put("an item"), true);
    assert.equal(await client.pop(), "an item");
  }
});
