/**
 * `queue-client HOST:PORT work -- COMMAND`'s core, with no I/O of its own:
 * job slots that each lease an item, run the command on it through an
 * injected runner, extend the lease while it runs, and ack, release or
 * dead-letter it by the command's exit; and the two-step shutdown.
 *
 * @module
 */
import { escapeItem } from "./item_escape.ts";
import type { LeasedItem } from "./queue_client.ts";

/** The lease operations one job slot uses; `lease` gives up when `signal` aborts. */
export interface WorkerQueue {
  /**
   * Leases the head item for `leaseMs`, waiting up to `waitMs` for one;
   * resolves to undefined when none came, or once `signal` is aborted (an
   * item leased by then may still be returned, or given back by the queue).
   */
  lease(
    leaseMs: number,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<LeasedItem | undefined>;
  /** Removes a leased item for good; false when `receipt` holds no lease. */
  ack(receipt: string): Promise<boolean>;
  /** Puts a leased item back at the head; false when `receipt` holds no lease. */
  release(receipt: string): Promise<boolean>;
  /** Ends the lease `leaseMs` from now; false when `receipt` holds no lease. */
  extend(receipt: string, leaseMs: number): Promise<boolean>;
}

/** How a command ended: its exit code, and the signal that ended it, if any. */
export interface JobExit {
  /** The exit code (128 + the signal's number when a signal ended it). */
  code: number;
  /** The signal's name, such as `SIGKILL`, or null when it exited. */
  signal: string | null;
}

/** A command started on one item. */
export interface RunningJob {
  /** Settles when the command has ended. */
  readonly exit: Promise<JobExit>;
  /** Ends the command at once. */
  kill(): void;
}

/** Starts the command on items. */
export interface JobRunner {
  /**
   * Starts the command with `item` on its standard input and
   * `deliveryCount` in its environment.
   *
   * @throws {Error} when the command cannot be started at all
   */
  start(item: string, deliveryCount: number): RunningJob;
}

/** Options of {@linkcode runWorker}. */
export interface WorkOptions {
  /**
   * How long each lease lasts, in milliseconds; it is extended every third
   * of that while the command runs.
   *
   * @default {30000}
   */
  leaseMs?: number;
  /**
   * The delivery on which a failed item is dead-lettered and acked instead
   * of released.
   *
   * @default {5}
   */
  maxAttempts?: number;
  /**
   * How long each Pop waits for an item before it asks again, in
   * milliseconds.
   *
   * @default {3600000}
   */
  waitMs?: number;
  /** Takes one JSON line for each dead-lettered item (no newline). */
  deadLetter(line: string): Promise<void>;
  /** Takes the one line logged per item; nothing is logged when absent. */
  log?(line: string): void;
  /** Takes each `error: ` line. */
  error(line: string): void;
  /** Aborted by the first signal: take no more items, let the commands end. */
  stop: AbortSignal;
  /** Aborted by the second signal: kill the commands, release their items. */
  kill: AbortSignal;
}

/** The default lease of `work`, in milliseconds. */
export const DEFAULT_LEASE_MS = 30_000;

/** The default `--max-attempts`. */
export const DEFAULT_MAX_ATTEMPTS = 5;

/** How many characters of an item a log line shows. */
const LOGGED_ITEM_LENGTH = 60;

/**
 * Runs one job slot per queue in `slots`, each taking one leased item at a
 * time and running `runner`'s command on it, until `options.stop` is aborted
 * and every command has ended, or a call fails. Resolves to the exit code:
 * 0 after a stop, 1 after `options.kill` or a failure (reported as one
 * `error: ` line). Exit 0 acks the item; any other end releases it, except
 * on its `maxAttempts`-th delivery, when it is dead-lettered and acked.
 */
export async function runWorker(
  slots: readonly WorkerQueue[],
  runner: JobRunner,
  options: WorkOptions,
): Promise<number> {
  const failure = new AbortController();
  const worker = new Worker(runner, options, failure);
  await Promise.all(slots.map((queue) => worker.runSlot(queue)));
  return options.kill.aborted || failure.signal.aborted ? 1 : 0;
}

/** The state shared by the job slots of one {@linkcode runWorker}. */
class Worker {
  readonly #runner: JobRunner;
  readonly #options: WorkOptions;
  readonly #leaseMs: number;
  readonly #maxAttempts: number;
  readonly #waitMs: number;
  readonly #failure: AbortController;
  /** Aborted by a stop or a failure: no slot takes another item. */
  readonly #stopTaking: AbortSignal;

  constructor(
    runner: JobRunner,
    options: WorkOptions,
    failure: AbortController,
  ) {
    this.#runner = runner;
    this.#options = options;
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.#maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.#waitMs = options.waitMs ?? 3_600_000;
    this.#failure = failure;
    this.#stopTaking = AbortSignal.any([options.stop, failure.signal]);
  }

  /** One slot: lease, run, settle, until told to stop taking items. */
  async runSlot(queue: WorkerQueue): Promise<void> {
    while (!this.#stopTaking.aborted) {
      let leased: LeasedItem | undefined;
      try {
        leased = await queue.lease(
          this.#leaseMs,
          this.#waitMs,
          this.#stopTaking,
        );
      } catch (error: unknown) {
        if (!this.#stopTaking.aborted) this.#fail(error);
        return;
      }
      if (leased === undefined) continue;
      if (this.#stopTaking.aborted) {
        await this.#settle(queue, leased, "release", "not run (stopping)");
        return;
      }
      await this.#runOne(queue, leased);
    }
  }

  /** Runs the command on `leased`, extending its lease, then settles it. */
  async #runOne(queue: WorkerQueue, leased: LeasedItem): Promise<void> {
    const { item, receipt, deliveryCount } = leased;
    let job: RunningJob;
    try {
      job = this.#runner.start(item, deliveryCount);
    } catch (error: unknown) {
      this.#fail(error);
      await this.#settle(queue, leased, "release", "not run");
      return;
    }
    const kill = () => job.kill();
    this.#options.kill.addEventListener("abort", kill, { once: true });
    if (this.#options.kill.aborted) kill();
    let lost = false;
    const extender = setInterval(() => {
      queue.extend(receipt, this.#leaseMs).then((extended) => {
        if (!extended && !lost) {
          lost = true;
          this.#log(leased, "lease lost while running, it may run again");
        }
      }, (error: unknown) => this.#error(error));
    }, Math.max(1, Math.floor(this.#leaseMs / 3)));
    let exit: JobExit;
    try {
      exit = await job.exit;
    } finally {
      clearInterval(extender);
      this.#options.kill.removeEventListener("abort", kill);
    }
    const how = describeExit(exit);
    if (this.#options.kill.aborted && how !== "ok") {
      await this.#settle(
        queue,
        leased,
        "release",
        `${how} (stopping), released`,
      );
    } else if (how === "ok") {
      await this.#settle(queue, leased, "ack", "ok");
    } else if (deliveryCount >= this.#maxAttempts) {
      await this.#deadLetter(queue, leased, exit, how);
    } else {
      await this.#settle(queue, leased, "release", `failed (${how}), released`);
    }
  }

  /** Writes `leased` to the dead letters, then acks it (releases on failure). */
  async #deadLetter(
    queue: WorkerQueue,
    leased: LeasedItem,
    exit: JobExit,
    how: string,
  ): Promise<void> {
    const line = JSON.stringify({
      item: leased.item,
      delivery_count: leased.deliveryCount,
      exit_status: exit.code,
    });
    try {
      await this.#options.deadLetter(line);
    } catch (error: unknown) {
      this.#error(error);
      await this.#settle(
        queue,
        leased,
        "release",
        `failed (${how}), released (the dead letter was not written)`,
      );
      return;
    }
    await this.#settle(queue, leased, "ack", `failed (${how}), dead-lettered`);
  }

  /** Acks or releases `leased` and logs `what` happened to it. */
  async #settle(
    queue: WorkerQueue,
    leased: LeasedItem,
    action: "ack" | "release",
    what: string,
  ): Promise<void> {
    try {
      const done = await queue[action](leased.receipt);
      this.#log(
        leased,
        done ? what : `${what}, but the lease was lost (it may run again)`,
      );
    } catch (error: unknown) {
      this.#log(leased, `${what}, but the ${action} failed`);
      this.#error(error);
    }
  }

  #log(leased: LeasedItem, what: string): void {
    this.#options.log?.(
      `${what} (delivery ${leased.deliveryCount}): ${shortItem(leased.item)}`,
    );
  }

  #error(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.#options.error(`error: ${message.split("\n", 1)[0]}`);
  }

  /** A call failed: report it and take no more items; exit 1 at the end. */
  #fail(error: unknown): void {
    if (this.#failure.signal.aborted) return;
    this.#error(error);
    this.#failure.abort();
  }
}

/** `ok`, `exit N`, or `killed by SIGNAL`. */
function describeExit({ code, signal }: JobExit): string {
  if (signal !== null) return `killed by ${signal}`;
  return code === 0 ? "ok" : `exit ${code}`;
}

/** The item as a log line shows it: escaped, and cut after a few words. */
function shortItem(item: string): string {
  const escaped = escapeItem(item);
  return escaped.length <= LOGGED_ITEM_LENGTH
    ? escaped
    : `${escaped.slice(0, LOGGED_ITEM_LENGTH)}...`;
}
