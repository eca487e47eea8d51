/**
 * The durable store: the queue engine (`../engine.ts`) makes every decision
 * in memory, synchronously and in arrival order, and answers Peek and Size;
 * its journal (`journal.ts`) group-commits every change to an SQLite file,
 * and each answer is released only once the change it reports is durable.
 *
 * @module
 */
import { QueueEngine, type QueueEngineOptions } from "../engine.ts";
import type { QueueStore } from "../mod.ts";
import { type CommitListener, SqliteJournal } from "./journal.ts";

export { StoreFileError } from "./file.ts";

/** Options of {@linkcode openSqliteStore}. */
export interface SqliteStoreOptions
  extends
    Omit<QueueEngineOptions, "items" | "firstSeq" | "returned" | "journal"> {
  /**
   * The most bytes the database may grow to (SQLite's `max_page_count`); a
   * commit that would pass it fails like a full disk. Unbounded by default.
   */
  maxFileBytes?: number;
  /** Called after each commit with its time in seconds and its changes. */
  onCommit?: CommitListener;
}

/**
 * Opens (or creates) the queue file `path` and loads its items, in order,
 * into a store of `capacity` items (keeping them all if there are more). Its
 * status reports what the journal wrote so far.
 *
 * @throws {StoreFileError} when the file cannot be opened, is not a queue
 * file, is corrupt, is locked by another server, or does not keep
 * `synchronous=FULL`; the file is then left as it was
 */
export async function openSqliteStore(
  path: string,
  capacity: number,
  options: SqliteStoreOptions = {},
): Promise<QueueStore> {
  const { maxFileBytes, onCommit, ...engineOptions } = options;
  const journal = new SqliteJournal(onCommit);
  const { items, firstSeq, returned } = await journal.open(path, {
    capacity,
    ...(maxFileBytes === undefined ? {} : { maxFileBytes }),
  });
  return new QueueEngine(capacity, {
    ...engineOptions,
    items,
    firstSeq,
    returned,
    journal,
  });
}
