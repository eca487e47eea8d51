/**
 * The durable store's journal: every change the engine decides is recorded
 * here and group-commits to the queue file (the model of Redis's
 * `appendfsync always` and of denokv's `atomic_write_batch`): while one
 * transaction is being written and fsync'd, everything decided meanwhile
 * gathers into the next, and {@linkcode Journal.durable} resolves only once
 * the transaction holding a change (and every one before it) is durable.
 *
 * The file is written by a `Worker` that owns the `node:sqlite` connection
 * (`worker.ts`, over `file.ts`), so the event loop goes on serving calls
 * while a commit waits for the disk.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { Journal, ReturnedItem } from "../engine.ts";
import { type JournalStatus, StoreFailedError } from "../mod.ts";
import { StoreFileError } from "./file.ts";
import { WORKER_NAME, type WorkerReply, type WorkerRequest } from "./worker.ts";

/**
 * A batch of changes: appends from `firstSeq` on, new delivery counts by
 * seq, and removals as `[from, to)` ranges of seq.
 */
interface Batch {
  firstSeq: number;
  items: string[];
  counts: Map<number, number>;
  removals: [number, number][];
  removed: number;
  done: PromiseWithResolvers<void>;
}

/** What a queue file holds when opened, for the engine. */
export interface OpenedFile {
  /** The items never leased, head first. */
  items: string[];
  /** The seq of the first of `items` (or of the next item put). */
  firstSeq: number;
  /** The items leased and not acked, in put order. */
  returned: ReturnedItem[];
}

/**
 * The journal of one queue file: changes recorded in memory, sent to the
 * worker one batch at a time; a batch's promise resolves once the worker has
 * committed it. Call {@linkcode SqliteJournal.open} before anything else.
 */
export class SqliteJournal implements Journal {
  #worker = new Worker(new URL("./worker.ts", import.meta.url), {
    type: "module",
    name: WORKER_NAME,
  });
  #replies: ((reply: WorkerReply) => void) | undefined;
  /** The batch being written, if any. */
  #writing: Batch | undefined;
  /** The batch gathering changes, if any. */
  #gathering: Batch | undefined;
  #failure = new AbortController();
  #stats: JournalStatus = { commits: 0, operations: 0 };
  #closed = false;
  #workerDied = false;

  /** Starts the worker; {@linkcode SqliteJournal.open} gives it the file. */
  constructor() {
    this.#worker.onmessage = ({ data }: MessageEvent<WorkerReply>) => {
      this.#replies?.(data);
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#workerDied = true;
      this.#fail(`The journal's worker failed: ${event.message}`);
    };
  }

  /** Aborted with a `StoreFailedError` once a commit or the worker failed. */
  get failed(): AbortSignal {
    return this.#failure.signal;
  }

  /**
   * Has the worker open `path` and resolves to what it holds.
   *
   * @throws {StoreFileError} when the worker cannot use the file
   */
  async open(path: string, maxFileBytes?: number): Promise<OpenedFile> {
    const items: string[] = [];
    const returned: ReturnedItem[] = [];
    let firstSeq = 1;
    const loaded = Promise.withResolvers<void>();
    this.#replies = (reply) => {
      if (reply.type === "opened") {
        firstSeq = reply.head;
      } else if (reply.type === "returned") {
        const rows = JSON.parse(reply.items) as [number, string, number][];
        for (const [seq, item, deliveryCount] of rows) {
          returned.push({ seq, item, deliveryCount });
        }
      } else if (reply.type === "chunk") {
        for (const item of JSON.parse(reply.items) as string[]) {
          items.push(item);
        }
      } else if (reply.type === "loaded") {
        loaded.resolve();
      } else if (reply.type === "refused") {
        loaded.reject(new StoreFileError(reply.message));
      }
    };
    // A worker that dies while opening the file fails the journal.
    this.#failure.signal.addEventListener("abort", () => {
      loaded.reject(
        new StoreFileError(String(this.#failure.signal.reason?.message)),
      );
    }, { once: true });
    this.#post({
      type: "open",
      path,
      ...(maxFileBytes === undefined ? {} : { maxFileBytes }),
    });
    try {
      await loaded.promise;
    } catch (error: unknown) {
      this.#worker.terminate();
      throw error;
    }
    this.#replies = (reply) => this.#onReply(reply);
    return { items, firstSeq, returned };
  }

  /** Records an append in the batch gathering changes. */
  appended(seq: number, item: string): void {
    const batch = this.#batch();
    // The engine appends seqs one after another.
    if (batch.items.length === 0) batch.firstSeq = seq;
    batch.items.push(item);
  }

  /** Records a removal in the batch gathering changes. */
  removed(seq: number): void {
    const batch = this.#batch();
    const last = batch.removals.at(-1);
    if (last !== undefined && last[1] === seq) last[1]++;
    else batch.removals.push([seq, seq + 1]);
    batch.removed++;
  }

  /** Records a new delivery count in the batch gathering changes. */
  leased(seq: number, deliveryCount: number): void {
    this.#batch().counts.set(seq, deliveryCount);
  }

  /** Resolves once the last batch holding a change so far is committed. */
  durable(): Promise<void> {
    if (this.#failure.signal.aborted) {
      return Promise.reject(this.#failure.signal.reason);
    }
    return (this.#gathering ?? this.#writing)?.done.promise ??
      Promise.resolve();
  }

  /** What the journal wrote so far. */
  status(): JournalStatus {
    return { ...this.#stats };
  }

  /** Commits what was recorded, then closes the file and the worker. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      while (
        !this.#failure.signal.aborted && (this.#writing || this.#gathering)
      ) {
        if (!this.#writing) this.#send();
        await this.#writing?.done.promise;
      }
    } catch {
      // The failure is reported through `failed`.
    }
    // After a failed commit the worker still holds the file and its lock:
    // it closes them unless it is the worker itself that died.
    if (!this.#workerDied) {
      const closed = Promise.withResolvers<void>();
      this.#replies = (reply) => {
        if (reply.type === "closed") closed.resolve();
      };
      this.#post({ type: "close" });
      await closed.promise;
    }
    this.#worker.terminate();
  }

  /** The batch gathering changes; a new one is sent at the end of this pass. */
  #batch(): Batch {
    if (!this.#gathering) {
      const done = Promise.withResolvers<void>();
      // Unhandled only when no caller awaits it, e.g. a failure at close.
      done.promise.catch(() => {});
      this.#gathering = {
        firstSeq: 0,
        items: [],
        counts: new Map(),
        removals: [],
        removed: 0,
        done,
      };
      if (!this.#writing) setImmediate(() => this.#send());
    }
    return this.#gathering;
  }

  /** Sends the gathering batch to the worker, unless one is being written. */
  #send(): void {
    const batch = this.#gathering;
    if (!batch || this.#writing || this.#failure.signal.aborted) return;
    this.#gathering = undefined;
    this.#writing = batch;
    this.#post({
      type: "commit",
      firstSeq: batch.firstSeq,
      items: batch.items,
      counts: [...batch.counts],
      removals: batch.removals,
    });
  }

  #onReply(reply: WorkerReply): void {
    const batch = this.#writing;
    if (!batch) return;
    if (reply.type === "committed") {
      this.#writing = undefined;
      this.#stats.commits++;
      this.#stats.operations += batch.items.length + batch.counts.size +
        batch.removed;
      batch.done.resolve();
      // Everything that arrived during this commit goes in the next one.
      this.#send();
    } else if (reply.type === "failed") {
      this.#fail(reply.message);
    }
  }

  /**
   * Never acknowledges what was not written: the batches being written and
   * gathered fail, and so does every later operation.
   */
  #fail(message: string): void {
    if (this.#failure.signal.aborted) return;
    const failure = new StoreFailedError(message);
    this.#failure.abort(failure);
    this.#writing?.done.reject(failure);
    this.#gathering?.done.reject(failure);
    this.#writing = this.#gathering = undefined;
  }

  #post(request: WorkerRequest): void {
    this.#worker.postMessage(request);
  }
}
