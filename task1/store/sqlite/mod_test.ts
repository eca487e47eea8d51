import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { QueueFile } from "./file.ts";
import { openSqliteStore, StoreFileError } from "./mod.ts";
import { StoreFailedError } from "../mod.ts";

/** A fresh temporary folder, removed on dispose. */
async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "queue-store-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/**
 * The queue file `path` holding "a", "b", "c" put through the store, then
 * changed by `sql` run on it directly.
 */
async function alteredQueueFile(path: string, sql: string): Promise<void> {
  {
    await using store = await openSqliteStore(path, 10);
    for (const item of ["a", "b", "c"]) await store.put(item);
  }
  const db = new DatabaseSync(path);
  db.exec(sql);
  db.close();
}

Deno.test("SqliteStore keeps items and their order across a close and a reopen", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/q.db`;
  {
    await using store = await openSqliteStore(file, 10);
    for (const item of ["a", "b", "c", "d"]) {
      assert.equal(await store.put(item), true);
    }
    assert.equal(await store.pop(), "a");
  }
  {
    await using store = await openSqliteStore(file, 10);
    assert.equal(await store.size(), 3);
    assert.equal(await store.put("e"), true);
    assert.deepEqual(
      [await store.pop(), await store.pop(), await store.pop()],
      ["b", "c", "d"],
    );
  }
  await using store = await openSqliteStore(file, 10);
  assert.deepEqual([await store.pop(), await store.pop()], ["e", undefined]);
});

Deno.test("SqliteStore group-commits the changes of one event-loop pass in one transaction", async () => {
  await using dir = await tempDir();
  await using store = await openSqliteStore(`${dir.path}/q.db`, 1000);
  const puts = Array.from({ length: 100 }, (_, i) => store.put(`i${i}`));
  assert.deepEqual(await Promise.all(puts), puts.map(() => true));
  assert.deepEqual(store.status().journal, { commits: 1, operations: 100 });
  const pops = Array.from({ length: 50 }, () => store.pop());
  assert.equal((await Promise.all(pops))[49], "i49");
  assert.deepEqual(store.status().journal, { commits: 2, operations: 150 });
});

Deno.test("SqliteStore answers a put only once its row is in the file", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/q.db`;
  await using store = await openSqliteStore(file, 10);
  const put = store.put("durable");
  // The file is locked exclusively, so read what the journal wrote through
  // the answer: once it resolves, the commit that holds it has happened.
  assert.deepEqual(store.status().journal, { commits: 0, operations: 0 });
  assert.equal(await put, true);
  assert.deepEqual(store.status().journal, { commits: 1, operations: 1 });
});

Deno.test("SqliteStore opened with a smaller capacity keeps every item and refuses puts until there is room", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/q.db`;
  {
    await using store = await openSqliteStore(file, 10);
    for (let i = 0; i < 5; i++) await store.put(`i${i}`);
  }
  await using store = await openSqliteStore(file, 3);
  assert.equal(await store.size(), 5);
  assert.equal(await store.put("x"), false);
  await store.pop();
  await store.pop();
  assert.equal(await store.put("x"), false, "3 of 3");
  await store.pop();
  assert.equal(await store.put("x"), true);
});

Deno.test("openSqliteStore refuses a second store on a file that is open, without touching it", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/q.db`;
  await using store = await openSqliteStore(file, 10);
  await store.put("mine");
  const before = await Deno.readFile(file);
  await assert.rejects(
    openSqliteStore(file, 10),
    (error: unknown) => {
      assert.ok(error instanceof StoreFileError);
      assert.match(error.message, /is in use by another queue-server/);
      return true;
    },
  );
  assert.deepEqual(await Deno.readFile(file), before);
  assert.equal(await store.pop(), "mine");
});

Deno.test("openSqliteStore refuses a file that is not a database, or another program's database, and leaves it byte for byte", async () => {
  await using dir = await tempDir();
  const garbage = `${dir.path}/garbage.db`;
  await Deno.writeTextFile(garbage, "not a database, just text\n".repeat(200));
  const foreign = `${dir.path}/foreign.db`;
  const db = new DatabaseSync(foreign);
  db.exec("CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('x')");
  db.close();
  for (const file of [garbage, foreign]) {
    const before = await Deno.readFile(file);
    await assert.rejects(openSqliteStore(file, 10), StoreFileError, file);
    assert.deepEqual(await Deno.readFile(file), before, file);
  }
});

Deno.test("openSqliteStore refuses a queue file whose items are not numbered in sequence", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/q.db`;
  await alteredQueueFile(file, "DELETE FROM items WHERE item = 'b'");
  await assert.rejects(openSqliteStore(file, 10), /is corrupt/);
});

Deno.test("openSqliteStore reports a folder it cannot create the file in", async () => {
  await using dir = await tempDir();
  await assert.rejects(
    openSqliteStore(`${dir.path}/missing/q.db`, 10),
    StoreFileError,
  );
});

Deno.test("SqliteStore whose file is full answers no pending operation as done, fails its waiters, signals failed, and keeps what it acknowledged", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/q.db`;
  const acknowledged: string[] = [];
  {
    await using store = await openSqliteStore(file, 10_000, {
      maxFileBytes: 64 * 1024,
    });
    let failure: unknown;
    for (let i = 0; i < 200 && failure === undefined; i++) {
      const batch = Array.from(
        { length: 10 },
        (_, j) => `${i}-${j}-${"x".repeat(1000)}`,
      );
      const answers = await Promise.allSettled(
        batch.map((item) => store.put(item)),
      );
      answers.forEach((answer, j) => {
        if (answer.status === "fulfilled") {
          assert.equal(answer.value, true);
          acknowledged.push(batch[j]!);
        } else failure = answer.reason;
      });
    }
    assert.ok(failure instanceof StoreFailedError, String(failure));
    assert.match(failure.message, /^Cannot write ".*q\.db": /);
    assert.equal(store.failed.aborted, true);
    await assert.rejects(store.put("after"), StoreFailedError);
    await assert.rejects(store.size(), StoreFailedError);
  }
  assert.ok(acknowledged.length > 0);
  await using store = await openSqliteStore(file, 10_000);
  const survivors: string[] = [];
  for (
    let item = await store.pop();
    item !== undefined;
    item = await store.pop()
  ) {
    survivors.push(item);
  }
  assert.deepEqual(survivors, acknowledged);
});

Deno.test("SqliteStore after a reopen has every item leased and not acked back at the head, in put order, with its delivery count, and no acked one", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/q.db`;
  {
    await using store = await openSqliteStore(file, 10);
    for (const item of ["a", "b", "c", "d", "e"]) await store.put(item);
    const a = await store.lease({ leaseMs: 60_000 });
    const b = await store.lease({ leaseMs: 60_000 });
    const c = await store.lease({ leaseMs: 60_000 });
    assert.equal(await store.release(a!.receipt), true);
    const a2 = await store.lease({ leaseMs: 60_000 });
    assert.deepEqual([a2?.item, a2?.deliveryCount], ["a", 2]);
    assert.equal(await store.ack(b!.receipt), true);
    assert.equal(c?.item, "c");
  }
  await using store = await openSqliteStore(file, 10);
  assert.equal(await store.size(), 4);
  assert.equal(store.status().leased, 0);
  const again = [];
  for (let i = 0; i < 4; i++) {
    const leased = await store.lease({ leaseMs: 60_000 });
    again.push(`${leased?.item}x${leased?.deliveryCount}`);
  }
  assert.deepEqual(again, ["ax3", "cx2", "dx1", "ex1"]);
  assert.equal(await store.pop(), undefined);
});

Deno.test("SqliteStore answers an Ack only once its removal is in the file", async () => {
  await using dir = await tempDir();
  await using store = await openSqliteStore(`${dir.path}/q.db`, 10);
  await store.put("a");
  const leased = await store.lease({ leaseMs: 60_000 });
  const before = store.status().journal!.commits;
  const ack = store.ack(leased!.receipt);
  assert.equal(store.status().journal!.commits, before);
  assert.equal(await ack, true);
  assert.equal(store.status().journal!.commits, before + 1);
});

Deno.test("openSqliteStore opens a file written before leases (no delivery_count) and gives it the column", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/old.db`;
  const db = new DatabaseSync(file);
  db.exec(`PRAGMA journal_mode=WAL;
    CREATE TABLE items (seq INTEGER PRIMARY KEY, item TEXT NOT NULL) STRICT;
    INSERT INTO items VALUES (4, 'x'), (5, 'y');
    PRAGMA application_id=${0x51554531};
    PRAGMA user_version=1;`);
  db.close();
  {
    await using store = await openSqliteStore(file, 10);
    assert.equal(await store.size(), 2);
    const leased = await store.lease({ leaseMs: 60_000 });
    assert.deepEqual([leased?.item, leased?.deliveryCount], ["x", 1]);
  }
  await using store = await openSqliteStore(file, 10);
  const leased = await store.lease({ leaseMs: 60_000 });
  assert.deepEqual([leased?.item, leased?.deliveryCount], ["x", 2]);
  assert.equal(await store.pop(), "y");
});

Deno.test("SqliteStore reads back 100 items of 1 MiB of byte 0x01 (6 MiB each as JSON) after a reopen", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/q.db`;
  const item = (i: number) => `${i}`.padStart(3, "0") + "\x01".repeat(1 << 20);
  {
    await using store = await openSqliteStore(file, 100, { maxBytes: 2 ** 30 });
    for (let i = 0; i < 100; i++) assert.equal(await store.put(item(i)), true);
  }
  await using store = await openSqliteStore(file, 100, { maxBytes: 2 ** 30 });
  assert.equal(await store.size(), 100);
  for (let i = 0; i < 100; i++) {
    assert.ok((await store.pop()) === item(i), `item ${i}`);
  }
});

Deno.test("openSqliteStore refuses a file holding an item that is not UTF-8 with one line naming it, and releases the file", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/q.db`;
  await alteredQueueFile(
    file,
    "UPDATE items SET item = CAST(x'ff' AS TEXT) WHERE seq = 2",
  );
  await assert.rejects(openSqliteStore(file, 10), (error: unknown) => {
    assert.ok(error instanceof StoreFileError);
    assert.match(
      error.message,
      /^".*q\.db" is corrupt: the item at seq 2 is not valid UTF-8$/,
    );
    return true;
  });
  // Not locked any more: the item can be mended and the file used.
  const db = new DatabaseSync(file);
  db.exec("UPDATE items SET item = 'b' WHERE seq = 2");
  db.close();
  await using store = await openSqliteStore(file, 10);
  assert.deepEqual(
    [await store.pop(), await store.pop(), await store.pop()],
    ["a", "b", "c"],
  );
});

Deno.test("SqliteStore loads 300,000 items in bounded batches and hands them back in order, the 63,000 leased and not acked first with their delivery counts", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/q.db`;
  const count = 300_000;
  const leasedUpTo = 70_000;
  const item = (seq: number) => `${seq % 7 === 0 ? "é" : "i"}-${seq}`;
  const deliveries = (seq: number) => 1 + seq % 3;
  const seqs = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => from + i);
  // Seqs 1 to 70,000 were leased (every tenth then acked), the rest not.
  const returned = seqs(1, leasedUpTo).filter((seq) => seq % 10 !== 0);
  {
    // Written straight into the file: 300,000 puts would take minutes.
    const file = new QueueFile(path);
    try {
      file.commit(1, seqs(1, count).map(item));
      file.commit(
        count + 1,
        [],
        seqs(1, leasedUpTo).map((seq) => [seq, deliveries(seq)]),
        seqs(1, leasedUpTo / 10).map((n) => [10 * n, 10 * n + 1]),
      );
    } finally {
      file.close();
    }
  }
  {
    await using store = await openSqliteStore(path, 100_000);
    assert.equal(await store.size(), returned.length + count - leasedUpTo);
    assert.equal(await store.peek(), item(1));
    const leases = await Promise.all(
      returned.map(() => store.lease({ leaseMs: 60_000 })),
    );
    assert.ok(
      leases.every((got, i) =>
        got?.item === item(returned[i]!) &&
        got.deliveryCount === deliveries(returned[i]!) + 1
      ),
      "the returned items first, in put order, with their counts",
    );
    const popped = await Promise.all(
      seqs(leasedUpTo + 1, count).map(() => store.pop()),
    );
    assert.ok(
      popped.every((got, i) => got === item(leasedUpTo + 1 + i)),
      "then the others, in order",
    );
    assert.equal(await store.pop(), undefined);
    // A put gets the seq after the file's last (leased items count against
    // the capacity).
    assert.equal(await store.put("next"), true);
  }
  await using store = await openSqliteStore(path, 100_000);
  assert.equal(await store.size(), returned.length + 1);
  const again = await Promise.all(
    seqs(0, returned.length).map(() => store.lease({ leaseMs: 60_000 })),
  );
  assert.deepEqual([again.at(0)?.item, again.at(0)?.deliveryCount], [
    item(1),
    deliveries(1) + 2,
  ]);
  assert.deepEqual([again.at(-1)?.item, again.at(-1)?.deliveryCount], [
    "next",
    1,
  ]);
});
