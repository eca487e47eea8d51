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
 * `locking_mode=EXCLUSIVE`, so a second server cannot open it. A new file is
 * created readable by its owner only (0600), and SQLite gives `FILE-wal` the
 * file's mode.
 *
 * Items are read back as bytes, never as SQLite text: `node:sqlite` cuts a
 * text value at its first NUL, repairs invalid UTF-8 silently, and panics on
 * a string longer than V8 allows. The items never leased stay bytes (checked
 * to be UTF-8) all the way into the engine's `Utf8Queue`; only the items
 * leased and not acked are decoded, since the engine holds those as strings.
 *
 * @module
 */
import { isAscii } from "node:buffer";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { invalidUtf8Item } from "../../utf8_queue.ts";

/** `PRAGMA application_id` of a queue file: "QUE1" in ASCII. */
export const APPLICATION_ID = 0x51554531;

/** `PRAGMA user_version`: the version of the file's layout (2: leases). */
const SCHEMA_VERSION = 2;

/** The layout before leases, which {@linkcode QueueFile} migrates. */
const SCHEMA_VERSION_BEFORE_LEASES = 1;

/** SQLite's result code for a file locked by another connection. */
const SQLITE_BUSY = 5;

/** How many items one batch of {@linkcode QueueFile.read} holds at most. */
const BATCH_ITEMS = 65_536;

/**
 * How many UTF-8 bytes of items one batch of {@linkcode QueueFile.read}
 * holds at most, unless its one item is larger.
 */
const BATCH_BYTES = 16 * 1024 * 1024;

/**
 * An item's length in bytes in SQL, or its type if it is not text (then
 * `octet_length` would read it).
 */
const LENGTH =
  "CASE typeof(item) WHEN 'text' THEN octet_length(item) ELSE typeof(item) END";

/** Decodes items already checked to be UTF-8; a leading U+FEFF is kept. */
const UTF8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** A queue file that cannot be used: the message says why, in one line. */
export class StoreFileError extends Error {
  /** The class name, for messages and logs. */
  override name = "StoreFileError";
}

/**
 * A batch of the items never leased, as UTF-8 checked to be valid: item `i`
 * is the next `lengths[i]` bytes of `bytes`.
 */
export interface ItemBatch {
  /** The items' bytes, back to back, in seq order. */
  bytes: Uint8Array;
  /** Each item's length in bytes. */
  lengths: Uint32Array<ArrayBuffer>;
}

/** A batch of the items leased and not acked, as the file holds them. */
export interface ReturnedBatch {
  /** Each item's seq, ascending. */
  seqs: number[];
  /** Each item's delivery count. */
  counts: number[];
  /** The items. */
  items: string[];
}

/** An open, locked queue file. */
export class QueueFile {
  #db: DatabaseSync;
  #path: string;
  #insert: StatementSync;
  #deleteRange: StatementSync;
  #setCount: StatementSync;
  #lengths: StatementSync;
  #bytes: StatementSync;
  #returnedRows: StatementSync;
  #returnedBytes: StatementSync;
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
      // The length of each item in bytes (or its type, if not text), and all
      // of them as one blob; both in seq order (a subquery's ORDER BY on the
      // key is kept and needs no sort). octet_length() on the column itself
      // reads no item's content.
      this.#lengths = this.#db.prepare(
        "SELECT json_group_array(length) AS lengths FROM (" +
          `SELECT ${LENGTH} AS length FROM items ` +
          "WHERE seq >= ? AND seq < ? AND delivery_count = 0 ORDER BY seq)",
      );
      this.#bytes = this.#db.prepare(
        "SELECT CAST(group_concat(item, '') AS BLOB) AS bytes FROM (" +
          "SELECT item FROM items " +
          "WHERE seq >= ? AND seq < ? AND delivery_count = 0 ORDER BY seq)",
      );
      // The same for the items leased and not acked, which are not numbered
      // in sequence: each row's seq and delivery count come with its length.
      this.#returnedRows = this.#db.prepare(
        "SELECT json_group_array(json_array(seq, delivery_count, length)) " +
          `AS rows FROM (SELECT seq, delivery_count, ${LENGTH} AS length ` +
          "FROM items WHERE seq >= ? AND delivery_count > 0 ORDER BY seq " +
          `LIMIT ${BATCH_ITEMS})`,
      );
      this.#returnedBytes = this.#db.prepare(
        "SELECT CAST(group_concat(item, '') AS BLOB) AS bytes FROM (" +
          "SELECT item FROM items " +
          "WHERE seq >= ? AND seq <= ? AND delivery_count > 0 ORDER BY seq)",
      );
    } catch (error: unknown) {
      this.#db.close();
      throw error;
    }
  }

  /**
   * The items never leased from seq `from` on, in order, of those the file
   * held when it was opened: at most 65,536 of them and 16 MiB of UTF-8
   * together, but at least one while any is left (an item larger than
   * 16 MiB comes alone). Each batch takes two statements, its items' lengths
   * and their bytes. The items come as bytes, each checked to be UTF-8 and
   * none decoded.
   *
   * @throws {StoreFileError} when an item is missing, is not text or not
   * valid UTF-8, or SQLite cannot read it (a corrupt page, an I/O error)
   */
  read(from: number): ItemBatch {
    if (from >= this.next) {
      return { bytes: new Uint8Array(0), lengths: new Uint32Array(0) };
    }
    const to = Math.min(this.next, from + BATCH_ITEMS);
    try {
      const lengths = JSON.parse(
        String(this.#lengths.get(from, to)?.lengths),
      ) as (number | string)[];
      if (lengths.length !== to - from) {
        throw this.#corrupt("its items are not numbered in sequence");
      }
      const seqs = lengths.map((_, i) => from + i);
      const count = this.#fit(lengths, seqs);
      const fitting = lengths.slice(0, count) as number[];
      const bytes = this.#bytes.get(from, from + count)?.bytes;
      return {
        bytes: this.#check(bytes, fitting, seqs),
        lengths: Uint32Array.from(fitting),
      };
    } catch (error: unknown) {
      throw this.#unreadable(error);
    }
  }

  /**
   * The items leased and not acked from seq `from` on, in put order, with
   * their seqs and delivery counts, bounded like {@linkcode QueueFile.read}'s
   * batches; empty once none is left.
   *
   * @throws {StoreFileError} as {@linkcode QueueFile.read} does
   */
  readReturned(from: number): ReturnedBatch {
    try {
      const rows = JSON.parse(
        String(this.#returnedRows.get(from)?.rows),
      ) as [number, number, number | string][];
      if (rows.length === 0) return { seqs: [], counts: [], items: [] };
      const lengths = rows.map(([, , length]) => length);
      const seqs = rows.map(([seq]) => seq);
      const count = this.#fit(lengths, seqs);
      const fitting = lengths.slice(0, count) as number[];
      const bytes = this.#returnedBytes.get(from, seqs[count - 1]!)?.bytes;
      return {
        seqs: seqs.slice(0, count),
        counts: rows.slice(0, count).map(([, deliveryCount]) => deliveryCount),
        items: decode(this.#check(bytes, fitting, seqs), fitting),
      };
    } catch (error: unknown) {
      throw this.#unreadable(error);
    }
  }

  /**
   * How many of the items of `lengths` (named by `seqs`) one batch takes:
   * as many as fit in 16 MiB, but at least one.
   *
   * @throws {StoreFileError} when one of them is not text
   */
  #fit(lengths: (number | string)[], seqs: number[]): number {
    let count = 0;
    let total = 0;
    for (const length of lengths) {
      if (typeof length === "string") {
        throw this.#corrupt(
          `the item at seq ${seqs[count]} is of type ${length}, not text`,
        );
      }
      if (count > 0 && total + length > BATCH_BYTES) break;
      total += length;
      count++;
    }
    return count;
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

  /**
   * Returns `bytes` once checked to be items of `lengths` bytes, named by
   * `seqs`, each valid UTF-8.
   *
   * @throws {StoreFileError} when `bytes` are not those lengths together, or
   * an item is not UTF-8
   */
  #check(bytes: unknown, lengths: number[], seqs: number[]): Uint8Array {
    const total = lengths.reduce((sum, length) => sum + length, 0);
    if (!(bytes instanceof Uint8Array) || bytes.length !== total) {
      throw this.#corrupt(`the items from seq ${seqs[0]} on do not add up`);
    }
    const invalid = invalidUtf8Item(bytes, lengths);
    if (invalid >= 0) {
      throw this.#corrupt(
        `the item at seq ${seqs[invalid]} is not valid UTF-8`,
      );
    }
    return bytes;
  }

  /** `error` as a `StoreFileError` saying the file cannot be read. */
  #unreadable(error: unknown): StoreFileError {
    if (error instanceof StoreFileError) return error;
    return new StoreFileError(`Cannot read "${this.#path}": ${reason(error)}`);
  }

  #corrupt(what: string): StoreFileError {
    return new StoreFileError(`"${this.#path}" is corrupt: ${what}`);
  }
}

/**
 * Splits `bytes`, already checked to be UTF-8, into the items of `lengths`
 * bytes: decoded all at once when they are ASCII, else one by one.
 */
function decode(bytes: Uint8Array, lengths: number[]): string[] {
  const items: string[] = [];
  let at = 0;
  if (isAscii(bytes)) {
    const text = UTF8.decode(bytes);
    for (const length of lengths) items.push(text.slice(at, at += length));
    return items;
  }
  for (const length of lengths) {
    items.push(UTF8.decode(bytes.subarray(at, at += length)));
  }
  return items;
}

/** Opens `path`, locks it, checks it is a queue file or makes it one. */
function openQueueFile(path: string): DatabaseSync {
  createPrivate(path);
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

/**
 * Creates `path` empty with mode 0600 unless it exists, before SQLite opens
 * it: SQLite would create it 0644 (less the umask), and it creates `-wal`
 * with the mode of the file. An existing file keeps its mode. Any other
 * failure (a missing folder) is left for SQLite's open to report.
 */
function createPrivate(path: string): void {
  try {
    Deno.openSync(path, { write: true, createNew: true, mode: 0o600 }).close();
  } catch {
    // It exists, or SQLite's open fails just after and says why.
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

/** The first line of an error's message, for a one-line `error:`. */
export function reason(error: unknown): string {
  return (error instanceof Error ? error.message : String(error))
    .split("\n")[0] ?? "";
}
