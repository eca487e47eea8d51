/**
 * The queue file itself: opening, checking and locking it, reading its items
 * and writing one batch of changes, all synchronously on one
 * `node:sqlite` connection. The journal's worker (`worker.ts`) is
 * the only caller, so none of this runs on the server's event loop.
 *
 * The file holds one table, `items (seq INTEGER PRIMARY KEY, item TEXT)`;
 * `seq` grows by one per append and never goes back, so the order survives
 * restarts, and the items queued are exactly the rows, numbered without
 * gaps. It is marked as ours with `PRAGMA application_id`, kept in WAL mode
 * with `synchronous=FULL`, and locked for the life of the connection with
 * `locking_mode=EXCLUSIVE`, so a second server cannot open it.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";

/** `PRAGMA application_id` of a queue file: "QUE1" in ASCII. */
export const APPLICATION_ID = 0x51554531;

/** `PRAGMA user_version`: the version of the file's layout. */
const SCHEMA_VERSION = 1;

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
  #deleteBelow: StatementSync;
  /** The seq of the head item (the next one after the last when empty). */
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
      const range = this.#db.prepare(
        "SELECT min(seq) AS head, max(seq) AS last, count(*) AS count FROM items",
      ).get();
      const count = Number(range?.count ?? 0);
      const head = count > 0 ? Number(range?.head) : 1;
      const last = count > 0 ? Number(range?.last) : 0;
      if (last - head + 1 !== count) {
        throw new StoreFileError(
          `"${path}" is corrupt: its items are not numbered in sequence`,
        );
      }
      this.head = head;
      this.next = last + 1;
      this.#insert = this.#db.prepare(
        "INSERT INTO items (seq, item) VALUES (?, ?)",
      );
      this.#deleteBelow = this.#db.prepare("DELETE FROM items WHERE seq < ?");
    } catch (error: unknown) {
      this.#db.close();
      throw error;
    }
  }

  /**
   * The items, head first, as JSON arrays of at most 65,536 items each:
   * SQLite builds each array in one call, which reads a million items in a
   * fraction of the time that a row at a time takes.
   */
  *chunks(): Generator<string> {
    const chunk = this.#db.prepare(
      "SELECT json_group_array(item ORDER BY seq) AS items FROM items " +
        "WHERE seq >= ? AND seq < ?",
    );
    for (let from = this.head; from < this.next; from += CHUNK_ITEMS) {
      yield String(chunk.get(from, from + CHUNK_ITEMS)?.items);
    }
  }

  /**
   * Writes, in one transaction, `items` appended from seq `firstSeq` on and
   * the removal of every item below seq `removeBelow`.
   *
   * @throws {Error} when the transaction fails; nothing of it is written
   */
  commit(firstSeq: number, items: string[], removeBelow?: number): void {
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      for (const [i, item] of items.entries()) {
        this.#insert.run(firstSeq + i, item);
      }
      if (removeBelow !== undefined) this.#deleteBelow.run(removeBelow);
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
        CREATE TABLE items (seq INTEGER PRIMARY KEY, item TEXT NOT NULL) STRICT;
        PRAGMA application_id=${APPLICATION_ID};
        PRAGMA user_version=${SCHEMA_VERSION};
        COMMIT;`);
    } else if (
      id !== APPLICATION_ID || tables.join() !== "items" ||
      pragma(db, "user_version") !== SCHEMA_VERSION
    ) {
      throw new StoreFileError(`"${path}" is not a queue-server data file`);
    } else {
      db.exec("PRAGMA journal_mode=WAL");
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
