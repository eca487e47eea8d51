import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  APPLICATION_ID,
  type ItemBatch,
  QueueFile,
  StoreFileError,
} from "./file.ts";

const MIB = 1024 * 1024;

/** A fresh temporary folder, removed on dispose. */
async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "queue-file-" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** The queue file `path` holding `items`, closed. */
function writeItems(path: string, items: string[]): void {
  const file = new QueueFile(path);
  try {
    file.commit(file.next, items);
  } finally {
    file.close();
  }
}

/** The items of `batch`, decoded. */
function decodeBatch({ bytes, lengths }: ItemBatch): string[] {
  const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
  let at = 0;
  return Array.from(
    lengths,
    (length) => utf8.decode(bytes.subarray(at, at += length)),
  );
}

/** Every batch `QueueFile.read` gives for the file at `path`, in order. */
function readBatches(path: string): string[][] {
  const file = new QueueFile(path);
  try {
    const batches: string[][] = [];
    for (let from = file.head; from < file.next;) {
      const batch = decodeBatch(file.read(from));
      batches.push(batch);
      from += batch.length;
    }
    assert.deepEqual(
      decodeBatch(file.read(file.next)),
      [],
      "nothing after the last",
    );
    return batches;
  } finally {
    file.close();
  }
}

/** Asserts that reading the file at `path` fails with `message`. */
function assertUnreadable(path: string, message: RegExp): void {
  assert.throws(() => readBatches(path), (error: unknown) => {
    assert.ok(error instanceof StoreFileError, String(error));
    assert.match(error.message, message);
    assert.doesNotMatch(error.message, /\n/);
    return true;
  });
}

/** The mode bits of `path`, in octal. */
async function modeOf(path: string): Promise<string> {
  return ((await Deno.stat(path)).mode! & 0o777).toString(8);
}

Deno.test("QueueFile.read gives the items in order in batches of at most 65,536 items", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/q.db`;
  const items = Array.from({ length: 70_000 }, (_, i) => `i${i}`);
  writeItems(file, items);
  const batches = readBatches(file);
  assert.deepEqual(batches.map((batch) => batch.length), [65_536, 4_464]);
  assert.deepEqual(batches.flat(), items);
});

Deno.test("QueueFile.read gives batches of at most 16 MiB, and an item larger than that alone", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/q.db`;
  const items = [
    ..."abcd".split("").map((c) => c.repeat(5 * MIB)),
    "e".repeat(17 * MIB),
    "f",
  ];
  writeItems(file, items);
  const batches = readBatches(file);
  assert.deepEqual(
    batches.map((batch) => batch.map((item) => item.length)),
    [[5 * MIB, 5 * MIB, 5 * MIB], [5 * MIB], [17 * MIB], [1]],
  );
  assert.ok(batches.flat().every((item, i) => item === items[i]));
});

Deno.test("QueueFile.read gives back NUL, a leading BOM, control characters, 4-byte characters and empty items byte for byte", async () => {
  await using dir = await tempDir();
  const ascii = ["a\0b", "", "\x01\x1f\x7f", "\0", "plain"];
  const other = ["\uFEFFbom", "😀\0😀", "", "é\x01", "\uFFFD", ...ascii];
  for (const [n, items] of [ascii, other, ["", ""]].entries()) {
    const file = `${dir.path}/q${n}.db`;
    writeItems(file, items);
    assert.deepEqual(readBatches(file), [items]);
  }
});

Deno.test("QueueFile.read refuses an item that is not valid UTF-8, naming the file and its seq", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/q.db`;
  writeItems(file, ["a", "😀", "c"]);
  const db = new DatabaseSync(file);
  // The 4-byte character cut after its third byte.
  db.exec("UPDATE items SET item = CAST(x'f09f98' AS TEXT) WHERE seq = 2");
  db.close();
  assertUnreadable(
    file,
    /^".*q\.db" is corrupt: the item at seq 2 is not valid UTF-8$/,
  );
});

Deno.test("QueueFile.read refuses an item that is not text, naming the file, its seq and its type", async () => {
  await using dir = await tempDir();
  // The store's table is STRICT; one made by hand without STRICT or a type
  // can hold values of any type.
  for (
    const [value, type] of [["x'00'", "blob"], ["7", "integer"], [
      "NULL",
      "null",
    ]]
  ) {
    const file = `${dir.path}/${type}.db`;
    const db = new DatabaseSync(file);
    db.exec(`PRAGMA application_id=${APPLICATION_ID}; PRAGMA user_version=1;
      CREATE TABLE items (seq INTEGER PRIMARY KEY, item);
      INSERT INTO items VALUES (1, 'a'), (2, ${value});`);
    db.close();
    assertUnreadable(
      file,
      new RegExp(
        `^".*${type}\\.db" is corrupt: the item at seq 2 ` +
          `is of type ${type}, not text$`,
      ),
    );
  }
});

Deno.test("QueueFile.read reports a damaged page as one line naming the file", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/q.db`;
  writeItems(file, ["a", "b".repeat(10_000), "c"]);
  // The long item's first overflow page: it starts with the number of the
  // next one, then the item's bytes. Point it past the end of the file.
  const bytes = await Deno.readFile(file);
  const pageSize = 4096;
  let page = 0;
  while (
    new TextDecoder().decode(bytes.subarray(page + 4, page + 8)) !== "bbbb"
  ) page += pageSize;
  new DataView(bytes.buffer).setUint32(page, 0xfffffff0);
  await Deno.writeFile(file, bytes);
  assertUnreadable(
    file,
    /^Cannot read ".*q\.db": database disk image is malformed$/,
  );
});

Deno.test("QueueFile creates a new file and its -wal with mode 0600", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/q.db`;
  const queueFile = new QueueFile(file);
  try {
    queueFile.commit(1, ["a"]);
    assert.equal(await modeOf(file), "600");
    assert.equal(await modeOf(`${file}-wal`), "600");
  } finally {
    queueFile.close();
  }
  assert.equal(await modeOf(file), "600");
});

Deno.test("QueueFile leaves an existing file's mode as it is, and its -wal gets the same", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/q.db`;
  writeItems(file, ["a"]);
  for (const mode of [0o640, 0o604]) {
    await Deno.chmod(file, mode);
    const queueFile = new QueueFile(file);
    try {
      queueFile.commit(queueFile.next, ["b"]);
      assert.equal(await modeOf(file), mode.toString(8));
      assert.equal(await modeOf(`${file}-wal`), mode.toString(8));
    } finally {
      queueFile.close();
    }
  }
});

Deno.test("QueueFile.readReturned gives the items leased and not acked, with seqs and counts, in batches of at most 16 MiB, and read skips them", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/q.db`;
  const big = (c: string) => c.repeat(7 * MIB);
  {
    const file = new QueueFile(path);
    try {
      file.commit(1, [big("a"), "b", big("c"), big("d"), "e"]);
      file.commit(6, [], [[1, 2], [3, 1], [4, 5]], [[2, 3]]);
    } finally {
      file.close();
    }
  }
  const file = new QueueFile(path);
  try {
    assert.deepEqual([file.head, file.next], [5, 6]);
    const batches = [];
    for (let from = 0;;) {
      const batch = file.readReturned(from);
      if (batch.items.length === 0) break;
      batches.push({
        seqs: batch.seqs,
        counts: batch.counts,
        lengths: batch.items.map((item) => item.length),
      });
      from = batch.seqs.at(-1)! + 1;
    }
    assert.deepEqual(batches, [
      { seqs: [1, 3], counts: [2, 1], lengths: [7 * MIB, 7 * MIB] },
      { seqs: [4], counts: [5], lengths: [7 * MIB] },
    ]);
    assert.deepEqual(decodeBatch(file.read(file.head)), ["e"]);
  } finally {
    file.close();
  }
});
