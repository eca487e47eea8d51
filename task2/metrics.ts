/**
 * The roster server's metrics: one registry per server, the metric objects,
 * and the small hooks the server calls. Every count is a plain number the
 * hooks increment, read by the registry only when scraped; a roster change
 * costs a few additions however many clients it goes to.
 * `lib/metrics_http.ts` serves the registry and {@linkcode
 * RosterMetrics.health}.
 *
 * @module
 */
import { Histogram, Registry } from "prom-client";
import {
  registerCounter,
  registerGauge,
  registerLabelledCounter,
  registerProcessMetrics,
  secondsBuckets,
} from "../lib/metrics_http.ts";
import type { MembershipChange } from "./membership.ts";
import { Refusal } from "./protocol.ts";

/** Why a client was refused, as `roster_refusals_total` labels it. */
export type RefusalReason =
  | "invalid"
  | "duplicate"
  | "full"
  | "token"
  | "timeout"
  | "cut_off";

/** Every {@linkcode RefusalReason}, in the order they are exported. */
export const REFUSAL_REASONS: readonly RefusalReason[] = [
  "invalid",
  "duplicate",
  "full",
  "token",
  "timeout",
  "cut_off",
];

/**
 * The label of an `error:` line's `reason`: a bad name is `invalid`, a name
 * held elsewhere `duplicate`, a full server `full`, a token stage's refusal
 * `token`, a cluster that cannot take the join `cut_off`; undefined for a
 * refusal while shutting down (and for a reason this does not know).
 */
export function refusalReason(reason: string): RefusalReason | undefined {
  if (reason.startsWith("invalid name ")) return "invalid";
  if (/^name ".*" (is already connected|was taken meanwhile)$/s.test(reason)) {
    return "duplicate";
  }
  if (reason.startsWith("server is full ")) return "full";
  if (
    reason === Refusal.cutOff || reason === Refusal.clusterLost ||
    reason === Refusal.clusterUnreachable ||
    reason === Refusal.clusterRestarting
  ) {
    return "cut_off";
  }
  if (
    reason === Refusal.unexpectedToken || reason === Refusal.missingToken ||
    /^(missing token|wrong token|too many wrong tokens)/.test(reason)
  ) {
    return "token";
  }
  return undefined;
}

/** What the metrics read of a cluster node: whether it serves joins. */
export interface ClusterStanding {
  /** False while the node is cut off from its cluster (or closed). */
  readonly serving: boolean;
}

/** Options of {@linkcode RosterMetrics}. */
export interface RosterMetricsOptions {
  /** The cluster node, in cluster mode: adds the cluster metrics and health. */
  cluster?: ClusterStanding;
}

/** Buckets of `roster_change_duration_seconds`: 50 us to 5 s. */
const CHANGE_BUCKETS = secondsBuckets(0.00005, 5);

/**
 * The metrics of one roster server: hand it to `serveRoster`, which counts
 * through its hooks.
 */
export class RosterMetrics {
  /** The server's own registry (never prom-client's global one). */
  readonly registry: Registry = new Registry();
  readonly #cluster: ClusterStanding | undefined;
  readonly #refusals = new Float64Array(REFUSAL_REASONS.length);
  readonly #changeDuration: Histogram;
  #clients = 0;
  #names = 0;
  #joins = 0;
  #leaves = 0;
  #linesSent = 0;
  #bytesSent = 0;
  #linesDropped = 0;
  #resyncs = 0;
  #closing = false;

  /** Registers the process metrics, the roster metrics and, in a cluster, its own. */
  constructor(options: RosterMetricsOptions = {}) {
    const registry = this.registry;
    this.#cluster = options.cluster;
    registerProcessMetrics(registry);
    registerGauge(
      registry,
      "roster_clients",
      "Clients connected to this server and joined.",
      () => this.#clients,
    );
    registerGauge(
      registry,
      "roster_names",
      "Names in the roster (cluster-wide in cluster mode).",
      () => this.#names,
    );
    const counter = (name: string, help: string, read: () => number) =>
      registerCounter(registry, name, help, read);
    counter(
      "roster_joins_total",
      "Clients that joined through this server.",
      () => this.#joins,
    );
    counter(
      "roster_leaves_total",
      "Clients of this server that left or were dropped.",
      () => this.#leaves,
    );
    registerLabelledCounter(
      registry,
      "roster_refusals_total",
      "Connections refused, by reason.",
      REFUSAL_REASONS.map((reason) => ({ reason })),
      this.#refusals,
    );
    counter(
      "roster_lines_sent_total",
      "Roster lines queued for clients (those dropped later included).",
      () => this.#linesSent,
    );
    counter(
      "roster_bytes_sent_total",
      "Bytes of the roster lines queued for clients.",
      () => this.#bytesSent,
    );
    counter(
      "roster_lines_dropped_total",
      "Roster lines dropped unsent, replaced by a newer roster for a slow reader.",
      () => this.#linesDropped,
    );
    this.#changeDuration = new Histogram({
      name: "roster_change_duration_seconds",
      help:
        "From a join or leave to the last client's line handed to its socket.",
      buckets: CHANGE_BUCKETS,
      registers: [registry],
    });
    const cluster = this.#cluster;
    if (cluster !== undefined) {
      registerGauge(
        registry,
        "roster_cluster_up",
        "Whether this node serves in its cluster (1) or is cut off (0).",
        () => cluster.serving ? 1 : 0,
      );
      counter(
        "roster_cluster_resyncs_total",
        "Times this node replaced its roster with a snapshot from Redis.",
        () => this.#resyncs,
      );
    }
  }

  /** A client joined through this server. */
  joined(): void {
    this.#clients++;
    this.#joins++;
  }

  /** A joined client of this server left or was dropped. */
  left(): void {
    this.#clients--;
    this.#leaves++;
  }

  /** A client was refused with `reason` on its `error:` line. */
  refused(reason: string): void {
    const label = refusalReason(reason);
    if (label !== undefined) this.#count(label);
  }

  /** A client sent no handshake within the timeout and was closed. */
  timedOut(): void {
    this.#count("timeout");
  }

  /**
   * The roster changed: its line (`lineBytes` long) was queued for
   * `recipients` clients, which dropped `dropped` older unsent lines.
   */
  changed(
    change: Pick<MembershipChange, "kind" | "online">,
    recipients: number,
    lineBytes: number,
    dropped: number,
  ): void {
    this.#names = change.online;
    if (change.kind === "sync") this.#resyncs++;
    this.#linesSent += recipients;
    this.#bytesSent += recipients * lineBytes;
    this.#linesDropped += dropped;
  }

  /**
   * The lines of the changes that happened at `starts` (from
   * `performance.now()`) were handed to every client's socket just now.
   */
  delivered(starts: readonly number[]): void {
    const now = performance.now();
    for (const start of starts) {
      this.#changeDuration.observe((now - start) / 1000);
    }
  }

  /** The server began shutting down: health reports it from now on. */
  shuttingDown(): void {
    this.#closing = true;
  }

  /** Why the server does not serve right now, or undefined while it does. */
  health(): string | undefined {
    if (this.#closing) return "shutting down";
    if (this.#cluster !== undefined && !this.#cluster.serving) {
      return "cut off from the roster cluster";
    }
    return undefined;
  }

  #count(reason: RefusalReason): void {
    this.#refusals[REFUSAL_REASONS.indexOf(reason)]! += 1;
  }
}
