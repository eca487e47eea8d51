/**
 * The queue server's metrics: one registry per server, the metric objects,
 * and the small hooks the server calls. Counting on the hot path is a plain
 * array increment and one pre-bound histogram observation per operation;
 * the gauges read the store's {@linkcode QueueStore.status} only when
 * scraped. `lib/metrics_http.ts` serves the registry and {@linkcode
 * QueueMetrics.health}.
 *
 * @module
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import {
  registerGauge,
  registerLabelledCounter,
  registerProcessMetrics,
  secondsBuckets,
} from "../lib/metrics_http.ts";
import type { QueueOperations } from "./operations.ts";
import type { QueueStore } from "./store/mod.ts";

/** Which kind of store the server runs on: it decides the store metrics. */
export type StoreKind = "memory" | "sqlite" | "redis";

/**
 * Every `queue_operations_total` series, by index: an operation's outcome
 * increments one slot of a `Float64Array`, read when scraped.
 */
const SERIES = [
  ["put", "added"],
  ["put", "full"],
  ["put", "error"],
  ["peek", "item"],
  ["peek", "empty"],
  ["peek", "error"],
  ["pop", "item"],
  ["pop", "empty"],
  ["pop", "error"],
  ["size", "ok"],
  ["size", "error"],
  ["ack", "ok"],
  ["ack", "stale"],
  ["ack", "error"],
  ["release", "ok"],
  ["release", "stale"],
  ["release", "error"],
  ["extend", "ok"],
  ["extend", "stale"],
  ["extend", "error"],
] as const;

/** Every `op` of {@linkcode SERIES}, in order. */
const OPS = [...new Set(SERIES.map(([op]) => op))];

/** The index of `op`'s `result` in {@linkcode SERIES}. */
function series(op: string, result: string): number {
  return SERIES.findIndex(([o, r]) => o === op && r === result);
}

/** Buckets of `queue_operation_duration_seconds`: 100 us to 50 s. */
const OPERATION_BUCKETS = secondsBuckets(0.0001, 60);

/** Buckets of `queue_store_commit_duration_seconds`: 250 us to 5 s. */
const COMMIT_BUCKETS = secondsBuckets(0.00025, 5);

/** What one operation's histogram child needs: its observation. */
interface Observer {
  observe(value: number): void;
}

/**
 * The metrics of one queue server: create it with the kind of store, give
 * it the store once open ({@linkcode QueueMetrics.watchStore}), and hand it
 * to `createQueueServer`, which counts through it.
 */
export class QueueMetrics {
  /** The server's own registry (never prom-client's global one). */
  readonly registry: Registry = new Registry();
  readonly #counts = new Float64Array(SERIES.length);
  #store: QueueStore | undefined;
  #sessions = 0;
  #storeUp = true;
  #closing = false;
  readonly #durations: Histogram;
  readonly #commitDuration: Histogram | undefined;
  readonly #committedChanges: Counter | undefined;

  /** Registers the process metrics, the queue metrics and `kind`'s own. */
  constructor(kind: StoreKind) {
    const registers = [this.registry];
    registerProcessMetrics(this.registry);
    const status = () => this.#store?.status();
    const gauge = (name: string, help: string, read: () => number) =>
      registerGauge(this.registry, name, help, read);
    gauge("queue_items", "Items in the queue.", () => status()?.size ?? 0);
    gauge(
      "queue_leased_items",
      "Items popped under a lease, not yet acked.",
      () => status()?.leased ?? 0,
    );
    gauge(
      "queue_bytes",
      "UTF-8 bytes of the items in the queue.",
      () => status()?.bytes ?? 0,
    );
    gauge(
      "queue_capacity_items",
      "The most items the queue holds.",
      () => status()?.capacity ?? 0,
    );
    gauge(
      "queue_capacity_bytes",
      "The most UTF-8 bytes of items the queue holds.",
      () => status()?.maxBytes ?? 0,
    );
    const sessions = () => this.#sessions;
    gauge("queue_sessions", "Open Session streams.", sessions);
    new Gauge({
      name: "queue_waiting_calls",
      help: "Puts waiting for room and pops waiting for an item.",
      labelNames: ["op"],
      registers,
      collect() {
        const now = status();
        this.set({ op: "put" }, now?.waitingPuts ?? 0);
        this.set({ op: "pop" }, now?.waitingPops ?? 0);
      },
    });
    registerLabelledCounter(
      this.registry,
      "queue_operations_total",
      "Queue operations answered, unary calls and Session commands alike.",
      SERIES.map(([op, result]) => ({ op, result })),
      this.#counts,
    );
    this.#durations = new Histogram({
      name: "queue_operation_duration_seconds",
      help: "Server time of a queue operation, from receipt to answer.",
      labelNames: ["op"],
      buckets: OPERATION_BUCKETS,
      registers,
    });
    if (kind === "sqlite") {
      this.#commitDuration = new Histogram({
        name: "queue_store_commit_duration_seconds",
        help: "Time of one group commit to the queue file, fsync included.",
        buckets: COMMIT_BUCKETS,
        registers,
      });
      this.#committedChanges = new Counter({
        name: "queue_store_committed_changes_total",
        help:
          "Changes (a Put, a Pop, a lease, an Ack) written to the queue file.",
        registers,
      });
    }
    if (kind === "redis") {
      gauge(
        "queue_store_up",
        "Whether Redis is reachable (1) or not (0).",
        () => this.#storeUp ? 1 : 0,
      );
    }
  }

  /** Reads the gauges from `store` and follows its availability from now on. */
  watchStore(store: QueueStore): void {
    this.#store = store;
    store.watchAvailability?.((available) => this.#storeUp = available);
  }

  /**
   * The journal's hook: one commit of `changes` changes took `seconds`;
   * a no-op unless the store kind is `sqlite`.
   */
  readonly committed = (seconds: number, changes: number): void => {
    this.#commitDuration?.observe(seconds);
    this.#committedChanges?.inc(changes);
  };

  /** `operations`, counting each answer and timing each from call to answer. */
  instrument(operations: QueueOperations): QueueOperations {
    const counts = this.#counts;
    const durations = this.#durations;
    for (const op of OPS) durations.zero({ op });
    /** `run` as `op`, counted as `results` (yes, no) or `error`. */
    const count = <Request, Response>(
      op: string,
      run: (request: Request, signal: AbortSignal) => Promise<Response>,
      [yes, no]: readonly [string, string],
      isYes: (response: Response) => boolean,
    ) =>
      counted(run, counts, durations.labels({ op }), [
        series(op, yes),
        series(op, no),
        series(op, "error"),
      ], isYes);
    const { put, peek, pop, size, ack, release, extend } = operations;
    return {
      put: count("put", put, ["added", "full"], (r) => r.added),
      peek: count("peek", peek, ["item", "empty"], (r) => r.item !== undefined),
      pop: count("pop", pop, ["item", "empty"], (r) => r.item !== undefined),
      size: count("size", size, ["ok", "ok"], () => true),
      ack: count("ack", ack, ["ok", "stale"], (r) => r.acked === true),
      release: count(
        "release",
        release,
        ["ok", "stale"],
        (r) => r.released === true,
      ),
      extend: count(
        "extend",
        extend,
        ["ok", "stale"],
        (r) => r.extended === true,
      ),
    };
  }

  /** A Session stream opened. */
  sessionOpened(): void {
    this.#sessions++;
  }

  /** A Session stream ended. */
  sessionClosed(): void {
    this.#sessions--;
  }

  /** The server began shutting down: health reports it from now on. */
  shuttingDown(): void {
    this.#closing = true;
  }

  /** Why the server does not serve right now, or undefined while it does. */
  health(): string | undefined {
    if (this.#closing) return "shutting down";
    const failed = this.#store?.failed;
    if (failed?.aborted) {
      const reason = failed.reason instanceof Error
        ? failed.reason.message
        : String(failed.reason);
      return `the queue's store failed: ${reason}`;
    }
    if (!this.#storeUp) return "the queue's Redis is unreachable";
    return undefined;
  }
}

/**
 * Wraps `run`: counts its outcome in `counts` (at `slots[0]` when `yes`
 * holds of the response, `slots[1]` when not, `slots[2]` when it throws) and
 * observes its time in `duration`.
 */
function counted<Request, Response>(
  run: (request: Request, signal: AbortSignal) => Promise<Response>,
  counts: Float64Array,
  duration: Observer,
  slots: readonly [number, number, number],
  yes: (response: Response) => boolean,
): (request: Request, signal: AbortSignal) => Promise<Response> {
  const [yesSlot, noSlot, errorSlot] = slots;
  return async (request, signal) => {
    const start = performance.now();
    try {
      const response = await run(request, signal);
      counts[yes(response) ? yesSlot : noSlot]! += 1;
      return response;
    } catch (error: unknown) {
      counts[errorSlot]! += 1;
      throw error;
    } finally {
      duration.observe((performance.now() - start) / 1000);
    }
  };
}
