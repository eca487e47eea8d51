/**
 * The metrics port both servers open with `--metrics [HOST:]PORT`: plain
 * HTTP served by `Deno.serve`, with `GET /metrics` (one server's registry in
 * Prometheus's text format 0.0.4) and `GET /healthz` (200 `ok`, or 503 and
 * one line saying why not); everything else is 404. Also the process
 * metrics that can be read under the programs' permissions.
 *
 * @module
 */
import process from "node:process";
import { Counter, Gauge, type Registry } from "prom-client";
import {
  formatHostPort,
  type HostPort,
  parseHostPort,
  parsePort,
} from "./address.ts";

/** The address `--metrics` listens on when it names only a port. */
export const DEFAULT_METRICS_HOST = "127.0.0.1";

/**
 * Parses `--metrics`'s `[HOST:]PORT`: a port from 0 to 65535 (0 picks a free
 * one), optionally after a host as in `HOST:PORT` (IPv6 in brackets); the
 * host is {@linkcode DEFAULT_METRICS_HOST} when absent.
 *
 * @throws {RangeError} when the text is not of that form
 */
export function parseMetricsAddress(text: string): HostPort {
  const colon = text.lastIndexOf(":");
  if (colon < 0) {
    return { hostname: DEFAULT_METRICS_HOST, port: parsePort(text) };
  }
  const port = parsePort(text.slice(colon + 1));
  // The host is checked as parseHostPort checks it; its port may be 0 here.
  const { hostname } = parseHostPort(`${text.slice(0, colon)}:1`);
  return { hostname, port };
}

/**
 * Why the server does not serve right now (one line), or undefined while it
 * does: what `/healthz` answers.
 */
export type HealthCheck = () => string | undefined;

/**
 * Registers in `registry` the standard process metrics that Deno lets a
 * program read without `--allow-all`: `process_resident_memory_bytes` (from
 * `Deno.memoryUsage().rss`), `process_cpu_seconds_total` (from
 * `process.cpuUsage()`) and `process_start_time_seconds`. Those that read
 * `/proc` (open and maximum file descriptors, virtual memory) are left out
 * rather than exported as a false 0.
 */
export function registerProcessMetrics(registry: Registry): void {
  registerGauge(
    registry,
    "process_resident_memory_bytes",
    "Resident memory size in bytes.",
    () => Deno.memoryUsage().rss,
  );
  registerCounter(
    registry,
    "process_cpu_seconds_total",
    "Total user and system CPU time spent in seconds.",
    () => {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1e6;
    },
  );
  const start = new Gauge({
    name: "process_start_time_seconds",
    help: "Start time of the process since unix epoch in seconds.",
    registers: [registry],
  });
  start.set(Math.round(performance.timeOrigin) / 1000);
}

/**
 * Registers in `registry` a gauge named `name` whose value `read` returns
 * when scraped.
 */
export function registerGauge(
  registry: Registry,
  name: string,
  help: string,
  read: () => number,
): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(read());
    },
  });
}

/**
 * Registers in `registry` a counter named `name` whose value `read` returns
 * when scraped: the count itself is a plain number the caller increments,
 * so counting costs no more than that.
 */
export function registerCounter(
  registry: Registry,
  name: string,
  help: string,
  read: () => number,
): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/**
 * Registers in `registry` a counter named `name` with one series per entry
 * of `series` (its labels), whose value is the same index of `counts` when
 * scraped: the caller increments a slot of a typed array, no label lookup.
 */
export function registerLabelledCounter(
  registry: Registry,
  name: string,
  help: string,
  series: readonly Readonly<Record<string, string>>[],
  counts: Float64Array,
): void {
  new Counter({
    name,
    help,
    labelNames: Object.keys(series[0] ?? {}),
    registers: [registry],
    collect() {
      this.reset();
      series.forEach((labels, i) => this.inc(labels, counts[i]!));
    },
  });
}

/**
 * Histogram buckets in seconds from `from` to `to`, three per decade (1, 2.5
 * and 5 times a power of ten), for latencies that span several decades.
 */
export function secondsBuckets(from: number, to: number): number[] {
  const buckets: number[] = [];
  for (let decade = 1e-6; decade <= to; decade *= 10) {
    for (const step of [1, 2.5, 5]) {
      const bound = Number((decade * step).toPrecision(2));
      if (bound >= from && bound <= to) buckets.push(bound);
    }
  }
  return buckets;
}

/** Options of {@linkcode serveMetrics}. */
export interface MetricsServerOptions {
  /**
   * The address to listen on.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The port to listen on; 0 picks a free one.
   *
   * @default {0}
   */
  port?: number;
}

/** A listening metrics port; dispose it (or `close()`) to stop it. */
export interface MetricsServer extends AsyncDisposable {
  /** The URL of its `/metrics`, with the port actually listened on. */
  readonly url: string;
  /** The port listened on. */
  readonly port: number;
  /** Stops listening and ends the connections. */
  close(): Promise<void>;
}

/**
 * Serves `registry` on `GET /metrics` and `health` on `GET /healthz` until
 * closed; every other request is answered 404.
 *
 * @throws {Error} when the address cannot be listened on, for example
 * because it is in use
 */
export function serveMetrics(
  registry: Registry,
  health: HealthCheck,
  options: MetricsServerOptions = {},
): MetricsServer {
  const { hostname = DEFAULT_METRICS_HOST, port = 0 } = options;
  const handler = async (request: Request): Promise<Response> => {
    const { pathname } = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return text(404, "not found\n");
    }
    if (pathname === "/metrics") {
      return new Response(await registry.metrics(), {
        headers: { "content-type": registry.contentType },
      });
    }
    if (pathname === "/healthz") {
      const why = health();
      return why === undefined ? text(200, "ok\n") : text(503, `${why}\n`);
    }
    return text(404, "not found\n");
  };
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname, port, onListen() {} }, handler);
  } catch (error: unknown) {
    const reason = error instanceof Deno.errors.AddrInUse
      ? "address already in use"
      : String(error instanceof Error ? error.message : error);
    throw new Error(
      `Cannot listen on "${
        formatHostPort(hostname, port)
      }" for metrics: ${reason}`,
    );
  }
  const bound = server.addr.port;
  const close = async () => {
    await server.shutdown().catch(() => {});
  };
  return {
    url: `http://${formatHostPort(hostname, bound)}/metrics`,
    port: bound,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function text(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}
