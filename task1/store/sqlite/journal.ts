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
import { Utf8Queue } from "../../utf8_queue.ts";
import type { Journal, ReturnedItem } from "../engine.ts";
import { type JournalStatus, StoreFailedError } from "../mod.ts";
import { reason, StoreFileError } from "./file.ts";
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

/** Options of {@linkcode SqliteJournal.open}. */
export interface JournalOpenOptions {
  /**
   * The store's capacity: the queue the items are loaded into holds at
   * least that many (and all of the file's).
   *
   * @default {1}
   */
  capacity?: number;
  /** The most bytes the database may grow to; unbounded by default. */
  maxFileBytes?: number;
}

/** What a queue file holds when opened, for the engine. */
export interface OpenedFile {
  /** The items never leased, head first, as UTF-8 off the heap. */
  items: Utf8Queue;
  /** The seq of the first of `items` (or of the next item put). */
  firstSeq: number;
  /** The items leased and not acked, in put order. */
  returned: ReturnedItem[];
}

/** Told of each commit: how long it took in seconds, and its changes. */
export type CommitListener = (seconds: number, changes: number) => void;

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
  readonly #onCommit: CommitListener | undefined;
  /** When the batch being written was sent, from `performance.now()`. */
  #sentAt = 0;

  /**
   * Starts the worker; {@linkcode SqliteJournal.open} gives it the file.
   * `onCommit`, when given, is told of every commit.
   */
  constructor(onCommit?: CommitListener) {
    this.#onCommit = onCommit;
    this.#worker.onmessage = ({ data }: MessageEvent<WorkerReply>) => {
      this.#replies?.(data);
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#workerDied = true;
      this.#fail(`The journal's worker failed: ${reason(event.message)}`);
    };
  }

  /** Aborted with a `StoreFailedError` once a commit or the worker failed. */
  get failed(): AbortSignal {
    return this.#failure.signal;
  }

  /**
   * Has the worker open `path` and resolves to what it holds, read one
   * bounded batch at a time (the items leased and not acked, then the
   * others, head first): the worker reads the next batch only once the last
   * one has arrived. The items never leased come as UTF-8 bytes, moved from
   * the worker and copied into a `Utf8Queue`, so the heap holds at most one
   * batch's lengths while they load, however many the file has.
   *
   * @throws {StoreFileError} when the worker cannot use the file or read an
   * item of it
   */
  async open(
    path: string,
    options: JournalOpenOptions = {},
  ): Promise<OpenedFile> {
    const { capacity = 1, maxFileBytes } = options;
    const returned: ReturnedItem[] = [];
    try {
      const opened = await this.#ask({
        type: "open",
        path,
        ...(maxFileBytes === undefined ? {} : { maxFileBytes }),
      }, "opened");
      for (let from = 0;;) {
        const batch = await this.#ask(
          { type: "readReturned", from },
          "returned",
        );
        if (batch.items.length === 0) break;
        for (const [i, item] of batch.items.entries()) {
          returned.push({
            seq: batch.seqs[i]!,
            item,
            deliveryCount: batch.counts[i]!,
          });
        }
        from = batch.seqs.at(-1)! + 1;
      }
      const items = new Utf8Queue(
        Math.max(capacity, opened.next - opened.head),
      );
      const read = (from: number) => this.#ask({ type: "read", from }, "items");
      let pending: ReturnType<typeof read> | undefined;
      for (let from = opened.head; from < opened.next;) {
        const { bytes, lengths } = await (pending ?? read(from));
        if (lengths.length === 0) {
          throw new StoreFileError(`"${path}" has no item at seq ${from}`);
        }
        from += lengths.length;
        // The worker reads the next batch while this one is copied.
        pending = from < opened.next ? read(from) : undefined;
        items.putUtf8(bytes, lengths);
      }
      this.#replies = (reply) => this.#onReply(reply);
      return { items, firstSeq: opened.head, returned };
    } catch (error: unknown) {
      this.#worker.terminate();
      throw error;
    }
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
    this.#sentAt = performance.now();
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
      const changes = batch.items.length + batch.counts.size + batch.removed;
      this.#stats.operations += changes;
      this.#onCommit?.((performance.now() - this.#sentAt) / 1000, changes);
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

  /**
   * Sends `request` and resolves to the worker's reply if it is of type
   * `expected`; rejects with a `StoreFileError` if the worker refuses or dies.
   */
  #ask<T extends WorkerReply["type"]>(
    request: WorkerRequest,
    expected: T,
  ): Promise<Extract<WorkerReply, { type: T }>> {
    const answer = Promise.withResolvers<Extract<WorkerReply, { type: T }>>();
    this.#replies = (reply) => {
      if (reply.type === expected) {
        answer.resolve(reply as Extract<WorkerReply, { type: T }>);
      } else {
        answer.reject(
          new StoreFileError(
            reply.type === "refused"
              ? reply.message
              : `The journal's worker answered "${reply.type}" to "${request.type}"`,
          ),
        );
      }
    };
    const onFailure = () => {
      answer.reject(
        new StoreFileError(String(this.#failure.signal.reason?.message)),
      );
    };
    if (this.#failure.signal.aborted) onFailure();
    this.#failure.signal.addEventListener("abort", onFailure, { once: true });
    this.#post(request);
    return answer.promise.finally(() => {
      this.#failure.signal.removeEventListener("abort", onFailure);
    });
  }

  #post(request: WorkerRequest): void {
    this.#worker.postMessage(request);
  }
}
