/**
 * The durable store: the queue lives in memory (a {@linkcode MemoryStore}
 * makes every decision, synchronously and in arrival order, and answers Peek
 * and Size), and every change goes to a journal in an SQLite file that
 * group-commits: everything decided during one pass of the event loop is
 * written in one transaction with one fsync, and each answer is released
 * only after its transaction is durable (the model of Redis's `appendfsync
 * always` and of denokv's `atomic_write_batch`).
 *
 * The file holds one table, `items (seq INTEGER PRIMARY KEY, item TEXT)`, in
 * order of `seq`, which grows by one per append and never goes back, so the
 * order survives restarts; the items queued are exactly the rows. It is
 * marked as ours with `PRAGMA application_id`, kept in WAL mode with
 * `synchronous=FULL`, and locked for the lifetime of the store with
 * `locking_mode=EXCLUSIVE`, so a second server cannot open it.
 *
 * The commit runs on the main thread: an fsync'd commit of a batch takes
 * about 0.3 ms on these disks, measured by `deno task bench`, which is the
 * time a `Worker` would save and less than the cost of handing it every item.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { setImmediate } from "node:timers";
import {
  type Journal,
  MemoryStore,
  type MemoryStoreOptions,
} from "./memory.ts";
import { StoreFailedError } from "./mod.ts";

/** `PRAGMA application_id` of a queue file: "QUE1" in ASCII. */
export const APPLICATION_ID = 0x51554531;

/** `PRAGMA user_version`: the version of the file's layout. */
const SCHEMA_VERSION = 1;

/** SQLite's result code for a file locked by another connection. */
const SQLITE_BUSY = 5;

/** Options of {@linkcode openSqliteStore}. */
export interface SqliteStoreOptions
  extends Omit<MemoryStoreOptions, "items" | "journal"> {
  /**
   * The most bytes the database may grow to (SQLite's `max_page_count`); a
   * commit that would pass it fails like a full disk. Unbounded by default.
   */
  maxFileBytes?: number;
}

/** What the journal wrote so far, for the benchmark. */
export interface JournalStats {
  /** Transactions committed. */
  commits: number;
  /** Appends and removals written, over all commits. */
  operations: number;
}

/** A durable store over an SQLite file, with its journal's figures. */
export interface SqliteStore extends MemoryStore {
  /** What the journal wrote so far. */
  journalStats(): JournalStats;
}

/** A store file that cannot be used: the message says why, in one line. */
export class StoreFileError extends Error {
  /** The class name, for messages and logs. */
  override name = "StoreFileError";
}

/**
 * Opens (or creates) the queue file `path` and loads its items, in order,
 * into a store of `capacity` items. A new or empty file is made a queue
 * file; any other file must already be one, and is never written otherwise.
 *
 * @throws {StoreFileError} when the file cannot be opened, is not a queue
 * file, is corrupt, is locked by another server, or does not keep
 * `synchronous=FULL`
 */
export function openSqliteStore(
  path: string,
  capacity: number,
  options: SqliteStoreOptions = {},
): SqliteStore {
  const { maxFileBytes, ...storeOptions } = options;
  const db = openQueueFile(path);
  try {
    if (maxFileBytes !== undefined) {
      const pageSize = pragma(db, "page_size");
      db.exec(
        `PRAGMA max_page_count=${
          Math.max(1, Math.floor(maxFileBytes / pageSize))
        }`,
      );
    }
    const journal = new SqliteJournal(db, path);
    const store = new MemoryStore(capacity, {
      ...storeOptions,
      items: journal.load(),
      journal,
    });
    return Object.assign(store, {
      journalStats: () => journal.stats(),
    });
  } catch (error: unknown) {
    db.close();
    throw error;
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

/**
 * The journal: appends and removals recorded in memory and written, one
 * transaction per pass of the event loop, to the `items` table.
 */
class SqliteJournal implements Journal {
  #db: DatabaseSync;
  #path: string;
  #insert: StatementSync;
  #deleteBelow: StatementSync;
  /** The seq of the next item appended. */
  #next = 1;
  /** The seq of the head item. */
  #head = 1;
  #pending: [number, string][] = [];
  #removals = 0;
  #batch: PromiseWithResolvers<void> | undefined;
  #failure = new AbortController();
  #stats: JournalStats = { commits: 0, operations: 0 };
  #closed = false;

  constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    this.#path = path;
    this.#insert = db.prepare("INSERT INTO items (seq, item) VALUES (?, ?)");
    this.#deleteBelow = db.prepare("DELETE FROM items WHERE seq < ?");
  }

  get failed(): AbortSignal {
    return this.#failure.signal;
  }

  /**
   * The items in the file, head first; sets the sequence numbers.
   *
   * @throws {StoreFileError} when the sequence numbers have gaps
   */
  *load(): Generator<string> {
    const range = this.#db.prepare(
      "SELECT min(seq) AS head, max(seq) AS last, count(*) AS count FROM items",
    ).get();
    const count = Number(range?.count ?? 0);
    if (count > 0) {
      const head = Number(range?.head);
      const last = Number(range?.last);
      if (last - head + 1 !== count) {
        throw new StoreFileError(
          `"${this.#path}" is corrupt: its items are not numbered in sequence`,
        );
      }
      this.#head = head;
      this.#next = last + 1;
    }
    const items = this.#db.prepare("SELECT item FROM items ORDER BY seq");
    for (const row of items.iterate()) yield String(row.item);
  }

  appended(item: string): void {
    this.#pending.push([this.#next++, item]);
    this.#schedule();
  }

  removed(count: number): void {
    this.#head += count;
    this.#removals += count;
    this.#schedule();
  }

  durable(): Promise<void> {
    if (this.#failure.signal.aborted) {
      return Promise.reject(this.#failure.signal.reason);
    }
    return this.#batch?.promise ?? Promise.resolve();
  }

  stats(): JournalStats {
    return { ...this.#stats };
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#commit();
    this.#db.close();
    return Promise.resolve();
  }

  /** Opens a batch, committed after the I/O of this event-loop pass. */
  #schedule(): void {
    if (this.#batch) return;
    this.#batch = Promise.withResolvers();
    // Unhandled only when no caller awaits it, e.g. a failure at close.
    this.#batch.promise.catch(() => {});
    setImmediate(() => this.#commit());
  }

  /** Writes the batch in one transaction, then releases its answers. */
  #commit(): void {
    const batch = this.#batch;
    if (!batch || this.#failure.signal.aborted) return;
    this.#batch = undefined;
    const pending = this.#pending;
    const removals = this.#removals;
    this.#pending = [];
    this.#removals = 0;
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      for (const [seq, item] of pending) this.#insert.run(seq, item);
      if (removals > 0) this.#deleteBelow.run(this.#head);
      this.#db.exec("COMMIT");
    } catch (error: unknown) {
      // Never acknowledge what was not written: every answer waiting for this
      // batch or a later one fails, and the store stops.
      const failure = new StoreFailedError(
        `Cannot write "${this.#path}": ${reason(error)}`,
      );
      try {
        if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      } catch {
        // The failure is already reported.
      }
      this.#failure.abort(failure);
      batch.reject(failure);
      return;
    }
    this.#stats.commits++;
    this.#stats.operations += pending.length + removals;
    batch.resolve();
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
