/**
 * The queue file itself: opening, checking and locking it, reading its items
 * and writing one batch of changes, all synchronously on one
 * `node:sqlite` connection. The journal's worker (`worker.ts`) is
 * the only caller, so none of this runs on the server's event loop.
 *
 * The file holds one table, `items (seq INTEGER PRIMARY KEY, item TEXT,
 * delivery_count INTEGER)`; `seq` grows by one per append and never goes
 * back, so the order survives restarts, and the items queued are exactly the
 * rows. The items never leased (`delivery_count` 0) are numbered without
 * gaps; an item leased and not acked keeps its row, with how many times it
 * was leased, and is back at the head when the file is opened again. A
 * file of layout 1 (before leases, without the column) is given the column
 * when it is opened. It is marked as ours with `PRAGMA application_id`, kept in WAL mode
 * with `synchronous=FULL`, and locked for the life of the connection with
 * `locking_mode=EXCLUSIVE`, so a second server cannot open it.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";

/** `PRAGMA application_id` of a queue file: "QUE1" in ASCII. */
export const APPLICATION_ID = 0x51554531;

/** `PRAGMA user_version`: the version of the file's layout (2: leases). */
const SCHEMA_VERSION = 2;

/** The layout before leases, which {@linkcode QueueFile} migrates. */
const SCHEMA_VERSION_BEFORE_LEASES = 1;

/** SQLite's result code for a file locked by another connection. */
const SQLITE_BUSY = 5;

/** How many items one chunk of {@linkcode QueueFile.chunks} holds at most. */
const CHUNK_ITEMS = 65_536;

/** A queue file that cannot be used: the message says why, in one line. */
export class StoreFileError extends Error {
  /** The class name, for messages and logs. */
  override name = "StoreFileError";
}

/** An open, locked queue file. */
export class QueueFile {
  #db: DatabaseSync;
  #path: string;
  #insert: StatementSync;
  #deleteRange: StatementSync;
  #setCount: StatementSync;
  /**
   * The seq of the first item never leased (the next one after the last
   * when there is none).
   */
  readonly head: number;
  /** The seq the next item appended gets. */
  readonly next: number;

  /**
   * Opens (or creates) `path` and locks it. A new or empty file is made a
   * queue file; any other file must already be one and is never written
   * before that is checked. `maxFileBytes` caps the database's size
   * (SQLite's `max_page_count`): a commit past it fails like a full disk.
   *
   * @throws {StoreFileError} when the file cannot be opened, is not a queue
   * file, is corrupt, is locked by another server, or does not keep
   * `synchronous=FULL`
   */
  constructor(path: string, maxFileBytes?: number) {
    this.#path = path;
    this.#db = openQueueFile(path);
    try {
      if (maxFileBytes !== undefined) {
        const pages = Math.floor(maxFileBytes / pragma(this.#db, "page_size"));
        this.#db.exec(`PRAGMA max_page_count=${Math.max(1, pages)}`);
      }
      const ready = this.#db.prepare(
        "SELECT min(seq) AS head, max(seq) AS last, count(*) AS count " +
          "FROM items WHERE delivery_count = 0",
      ).get();
      const count = Number(ready?.count ?? 0);
      const last = Number(
        this.#db.prepare("SELECT max(seq) AS last FROM items").get()?.last ??
          0,
      );
      this.next = last + 1;
      this.head = count > 0 ? Number(ready?.head) : this.next;
      if (count > 0 && Number(ready?.last) - this.head + 1 !== count) {
        throw new StoreFileError(
          `"${path}" is corrupt: its items are not numbered in sequence`,
        );
      }
      this.#insert = this.#db.prepare(
        "INSERT INTO items (seq, item) VALUES (?, ?)",
      );
      this.#deleteRange = this.#db.prepare(
        "DELETE FROM items WHERE seq >= ? AND seq < ?",
      );
      this.#setCount = this.#db.prepare(
        "UPDATE items SET delivery_count = ? WHERE seq = ?",
      );
    } catch (error: unknown) {
      this.#db.close();
      throw error;
    }
  }

  /**
   * The items leased and not acked, in put order, as one JSON array of
   * `[seq, item, delivery_count]`.
   */
  returned(): string {
    return String(
      this.#db.prepare(
        "SELECT json_group_array(json_array(seq, item, delivery_count) " +
          "ORDER BY seq) AS items FROM items WHERE delivery_count > 0",
      ).get()?.items,
    );
  }

  /**
   * The items never leased, head first, as JSON arrays of at most 65,536 items each:
   * SQLite builds each array in one call, which reads a million items in a
   * fraction of the time that a row at a time takes.
   */
  *chunks(): Generator<string> {
    const chunk = this.#db.prepare(
      "SELECT json_group_array(item ORDER BY seq) AS items FROM items " +
        "WHERE seq >= ? AND seq < ? AND delivery_count = 0",
    );
    for (let from = this.head; from < this.next; from += CHUNK_ITEMS) {
      yield String(chunk.get(from, from + CHUNK_ITEMS)?.items);
    }
  }

  /**
   * Writes, in one transaction, `items` appended from seq `firstSeq` on, the
   * delivery counts `counts` (`[seq, count]`) and the removal of the items
   * in each of `removals` (`[from, to)` ranges of seq), in that order.
   *
   * @throws {Error} when the transaction fails; nothing of it is written
   */
  commit(
    firstSeq: number,
    items: string[],
    counts: [number, number][] = [],
    removals: [number, number][] = [],
  ): void {
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      for (const [i, item] of items.entries()) {
        this.#insert.run(firstSeq + i, item);
      }
      for (const [seq, count] of counts) this.#setCount.run(count, seq);
      for (const [from, to] of removals) this.#deleteRange.run(from, to);
      this.#db.exec("COMMIT");
    } catch (error: unknown) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw new Error(`Cannot write "${this.#path}": ${reason(error)}`);
    }
  }

  /** Closes the file, releasing its lock. */
  close(): void {
    this.#db.close();
  }
}

/** Opens `path`, locks it, checks it is a queue file or makes it one. */
function openQueueFile(path: string): DatabaseSync {
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(path);
  } catch (error: unknown) {
    throw new StoreFileError(`Cannot open "${path}": ${reason(error)}`);
  }
  try {
    db.exec("PRAGMA locking_mode=EXCLUSIVE");
    // Reading first: a file that is not a database, or one locked by another
    // server, fails here, before anything is written.
    const id = pragma(db, "application_id");
    const tables = db.prepare(
      "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
    ).all().map((row) => String(row.name));
    if (id === 0 && tables.length === 0) {
      db.exec("PRAGMA journal_mode=WAL");
      db.exec(`BEGIN IMMEDIATE;
        CREATE TABLE items (seq INTEGER PRIMARY KEY, item TEXT NOT NULL,
          delivery_count INTEGER NOT NULL DEFAULT 0) STRICT;
        PRAGMA application_id=${APPLICATION_ID};
        PRAGMA user_version=${SCHEMA_VERSION};
        COMMIT;`);
    } else if (
      id !== APPLICATION_ID || tables.join() !== "items" ||
      ![SCHEMA_VERSION, SCHEMA_VERSION_BEFORE_LEASES].includes(
        pragma(db, "user_version"),
      )
    ) {
      throw new StoreFileError(`"${path}" is not a queue-server data file`);
    } else {
      db.exec("PRAGMA journal_mode=WAL");
      if (pragma(db, "user_version") === SCHEMA_VERSION_BEFORE_LEASES) {
        db.exec(`BEGIN IMMEDIATE;
          ALTER TABLE items
            ADD COLUMN delivery_count INTEGER NOT NULL DEFAULT 0;
          PRAGMA user_version=${SCHEMA_VERSION};
          COMMIT;`);
      }
    }
    db.exec("PRAGMA synchronous=FULL");
    if (pragma(db, "synchronous") !== 2) {
      throw new StoreFileError(`"${path}" does not keep synchronous=FULL`);
    }
    // Take the exclusive lock now, for the life of the connection.
    db.exec("BEGIN IMMEDIATE; COMMIT;");
    return db;
  } catch (error: unknown) {
    db.close();
    if (error instanceof StoreFileError) throw error;
    if (errcode(error) === SQLITE_BUSY) {
      throw new StoreFileError(
        `"${path}" is in use by another queue-server (it is locked)`,
      );
    }
    throw new StoreFileError(`Cannot use "${path}": ${reason(error)}`);
  }
}

function pragma(db: DatabaseSync, name: string): number {
  const row = db.prepare(`PRAGMA ${name}`).get();
  return Number(row?.[name]);
}

function errcode(error: unknown): number | undefined {
  return typeof error === "object" && error !== null && "errcode" in error
    ? Number(error.errcode)
    : undefined;
}

function reason(error: unknown): string {
  return (error instanceof Error ? error.message : String(error))
    .split("\n")[0] ?? "";
}
