/**
 * `queue-server PORT SIZE [--data FILE | --redis URL [--redis-key NAME]]
 * [--max-bytes BYTES]`: the queue server's command line.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { formatHostPort, parsePort } from "../lib/address.ts";
import {
  expectPositionals,
  parseArgument,
  parseCommandLine,
  parsePositiveInteger,
  type Program,
  type ProgramContext,
  runProgram,
  UsageError,
} from "../lib/cli.ts";
import {
  readServerSecurity,
  SERVER_SECURITY_OPTIONS,
  serverSecurityUsage,
} from "../lib/flags/security.ts";
import {
  type MetricsServer,
  parseMetricsAddress,
  serveMetrics,
} from "../lib/metrics_http.ts";
import { QueueMetrics } from "./metrics.ts";
import { DEFAULT_MAX_ITEM_BYTES } from "./operations.ts";
import { createQueueServer } from "./queue_server.ts";
import { MemoryStore } from "./store/memory.ts";
import {
  DEFAULT_MAX_BYTES,
  MAX_WAIT_MS,
  type QueueStore,
} from "./store/mod.ts";
import { readRedisTarget } from "../lib/flags/redis.ts";
import { openRedisStore } from "./store/redis/mod.ts";
import { openSqliteStore } from "./store/sqlite/mod.ts";

const USAGE =
  `Usage: queue-server PORT SIZE [--data FILE | --redis URL [--redis-key NAME]
                                                  [--redis-ca FILE]]
                    [--max-bytes BYTES] [--host ADDR] [--quiet]
                    [--tls-cert FILE --tls-key FILE] [--token-file FILE]
                    [--max-connections N] [--handshake-timeout SECONDS]
                    [--idle-timeout SECONDS] [--metrics [HOST:]PORT]

Serves a bounded first-in, first-out queue over gRPC (queue.v1.QueueService),
shared by every client, with the gRPC health service and server reflection.

Arguments:
  PORT               TCP port to listen on; 0 picks a free one
  SIZE               capacity of the queue, an integer from 1 to 4294967295

Options:
  --data FILE        keep the queue in FILE, an SQLite database created if
                     missing (mode 0600); without it the queue lives in
                     memory only
  --redis URL        keep the queue in Redis, shared by every queue-server
                     given the same URL and key; URL is
                     redis://[:PASSWORD@]HOST:PORT[/DB], or rediss:// for TLS
  --redis-key NAME   the queue's name in Redis (default queue)
  --redis-ca FILE    trust the CA certificates (PEM) in FILE for a rediss://
                     Redis's certificate, instead of the system's
  --max-bytes BYTES  the most bytes of items queued, counted as the UTF-8
                     bytes of the items (default 1GiB; suffixes KiB, MiB, GiB)
  --host ADDR        address to listen on (default 0.0.0.0; :: for IPv6)
  --quiet            do not log the shutdown on stderr
  --metrics [HOST:]PORT
                     serve Prometheus metrics on http://HOST:PORT/metrics and
                     health on /healthz (HOST defaults to 127.0.0.1; no TLS,
                     no token: keep it on a private address)
${serverSecurityUsage(21)}
  --max-connections N
                     most connections open at once; one more is closed as
                     soon as it is accepted (default 10000)
  --handshake-timeout SECONDS
                     close a connection that has not started a call this
                     long after it was accepted, TLS handshake included
                     (default 10)
  --idle-timeout SECONDS
                     send GOAWAY to, and close, a connection that has had no
                     call in progress for this long (default 300)
  -h, --help         show this help

A Put answers False when the queue holds SIZE items or when its item would
take the queue past BYTES, and stores nothing. Items larger than
${DEFAULT_MAX_ITEM_BYTES} bytes (1 MiB) of UTF-8 are refused with status
INVALID_ARGUMENT. With --data, True means the item is on disk (fsync'd), and
an item a Pop returned is off the disk: a crash loses nothing acknowledged.
A Put or Pop with wait_ms waits, in the order the calls came, for room or
for an item, for at most wait_ms (at most ${MAX_WAIT_MS} ms, 1 hour) and
never past the call's deadline.

With --redis, SIZE and BYTES are stored with a new queue; a server started
with other values uses the stored ones and says so on stderr. True means
Redis has the item; it survives a Redis crash only if Redis runs with
appendonly yes and appendfsync always (the server warns at start otherwise).
While Redis is unreachable, calls fail at once with UNAVAILABLE, health
reports NOT_SERVING, and the server serves again when Redis is back.

The first line on stderr says where the server listens. SIGINT or SIGTERM
stops accepting calls, ends the waiting ones, lets the others finish for up
to 2 seconds, writes what they decided, and exits 0. If FILE cannot be
written (disk full, I/O error), the server answers nothing more as done,
says why on stderr and exits 1. With --token-file, every call but the health
check (Health/Check) and reflection needs "authorization: Bearer <token>"
metadata. A request over 1 MiB + 1 KiB is refused with RESOURCE_EXHAUSTED, and
so is a call past 128 server-wide whose request is still arriving.`;

/** The largest capacity: the wire reports the size as a `uint32`. */
export const MAX_CAPACITY = 2 ** 32 - 1;

/**
 * Parses the capacity argument: an integer from 1 to {@linkcode MAX_CAPACITY}.
 *
 * @throws {RangeError} when the text is not such an integer
 */
export function parseCapacity(text: string): number {
  const capacity = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(capacity >= 1 && capacity <= MAX_CAPACITY)) {
    throw new RangeError(
      `Invalid size "${text}": expected an integer from 1 to ${MAX_CAPACITY}`,
    );
  }
  return capacity;
}

const BYTE_UNITS: Record<string, number> = {
  "": 1,
  "B": 1,
  "KiB": 1024,
  "MiB": 1024 ** 2,
  "GiB": 1024 ** 3,
  "TiB": 1024 ** 4,
};

/**
 * Parses a byte count: a whole number, optionally followed by B, KiB, MiB,
 * GiB or TiB (`512MiB`, `2GiB`, `1073741824`).
 *
 * @throws {RangeError} when the text is not such a count of at least 1
 */
export function parseByteSize(text: string): number {
  const match = /^(\d{1,16})(B|KiB|MiB|GiB|TiB)?$/.exec(text);
  const bytes = match ? Number(match[1]) * BYTE_UNITS[match[2] ?? ""]! : NaN;
  if (!(bytes >= 1 && Number.isSafeInteger(bytes))) {
    throw new RangeError(
      `Invalid byte count "${text}": expected a whole number of bytes, ` +
        `optionally with KiB, MiB, GiB or TiB, such as 512MiB`,
    );
  }
  return bytes;
}

async function main(
  args: string[],
  { signal }: ProgramContext,
): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    host: { type: "string", default: "0.0.0.0" },
    data: { type: "string" },
    redis: { type: "string" },
    "redis-key": { type: "string" },
    "redis-ca": { type: "string" },
    "max-bytes": { type: "string", default: String(DEFAULT_MAX_BYTES) },
    quiet: { type: "boolean", default: false },
    metrics: { type: "string" },
    "max-connections": { type: "string", default: "10000" },
    "handshake-timeout": { type: "string", default: "10" },
    "idle-timeout": { type: "string", default: "300" },
    help: { type: "boolean", short: "h", default: false },
    ...SERVER_SECURITY_OPTIONS,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  expectPositionals(positionals, ["PORT", "SIZE"]);
  const [portText = "", sizeText = ""] = positionals;
  const port = parseArgument(portText, parsePort);
  const capacity = parseArgument(sizeText, parseCapacity);
  const maxBytes = parseArgument(values["max-bytes"], parseByteSize);
  const limits = {
    maxConnections: parsePositiveInteger(
      values["max-connections"],
      "--max-connections",
    ),
    handshakeTimeoutMs: 1000 *
      parsePositiveInteger(values["handshake-timeout"], "--handshake-timeout"),
    idleTimeoutMs: 1000 *
      parsePositiveInteger(values["idle-timeout"], "--idle-timeout"),
  };
  const { host, quiet, data } = values;
  if (values.redis !== undefined && data !== undefined) {
    throw new UsageError("--data and --redis cannot be used together");
  }
  const redis = await readRedisTarget(values);
  if (values["redis-key"] !== undefined && redis === undefined) {
    throw new UsageError("--redis-key needs --redis");
  }
  const { warning, ...security } = await readServerSecurity(values, host);
  const metricsAddress = values.metrics === undefined
    ? undefined
    : parseArgument(values.metrics, parseMetricsAddress);
  const metrics = metricsAddress === undefined ? undefined : new QueueMetrics(
    redis ? "redis" : data === undefined ? "memory" : "sqlite",
  );

  // This program reports its own errors, one line each; grpc-js's log would
  // repeat them with less context.
  grpc.setLogVerbosity(grpc.logVerbosity.NONE);
  let store: QueueStore;
  const notes: string[] = [];
  if (redis !== undefined) {
    const key = values["redis-key"] ?? "queue";
    const opened = await openRedisStore(redis.url, capacity, {
      maxBytes,
      key,
      ca: redis.ca,
    });
    store = opened.store;
    const { report } = opened;
    if (report.capacity !== capacity || report.maxBytes !== maxBytes) {
      notes.push(
        `queue-server: the queue "${key}" in Redis has SIZE ${report.capacity} ` +
          `and --max-bytes ${report.maxBytes}, which it keeps (not ${capacity} and ${maxBytes})`,
      );
    }
    if (report.durabilityWarning) notes.push(report.durabilityWarning);
  } else {
    store = data === undefined
      ? new MemoryStore(capacity, { maxBytes })
      : await openSqliteStore(data, capacity, {
        maxBytes,
        ...(metrics ? { onCommit: metrics.committed } : {}),
      });
  }
  metrics?.watchStore(store);
  const server = createQueueServer(store, {
    ...security,
    ...limits,
    ...(metrics ? { metrics } : {}),
  });
  let boundPort: number;
  let metricsServer: MetricsServer | undefined;
  try {
    boundPort = await server.listen(host, port);
    if (metrics && metricsAddress) {
      metricsServer = serveMetrics(
        metrics.registry,
        () => metrics.health(),
        metricsAddress,
      );
    }
  } catch (error: unknown) {
    await server.shutdown({ graceMs: 0 });
    throw error;
  }
  await using _metricsServer = metricsServer;
  console.error(`queue-server listening on ${formatHostPort(host, boundPort)}`);
  if (metricsServer) {
    console.error(`queue-server metrics on ${metricsServer.url}`);
  }
  if (warning !== undefined) console.error(warning);
  for (const note of notes) console.error(note);
  const { size, bytes } = store.status();
  if (data !== undefined && size > capacity || bytes > maxBytes) {
    console.error(
      `queue-server: ${data} holds ${size} items (${bytes} bytes), more than ` +
        `SIZE ${capacity} or --max-bytes ${maxBytes}; Puts answer False until there is room`,
    );
  }

  const stop = AbortSignal.any([signal, store.failed]);
  await new Promise<void>((resolve) => {
    if (stop.aborted) resolve();
    stop.addEventListener("abort", () => resolve(), { once: true });
  });
  if (store.failed.aborted) {
    await server.shutdown({ graceMs: 0 });
    throw store.failed.reason;
  }
  if (!quiet) console.error("queue-server shutting down");
  const graceful = await server.shutdown({ graceMs: 2000 });
  if (!quiet && !graceful) {
    console.error("queue-server cancelled the calls still running after 2 s");
  }
  const { journal } = store.status();
  if (!quiet && journal) {
    console.error(
      `queue-server wrote ${journal.operations} changes in ${journal.commits} commits`,
    );
  }
  return 0;
}

/** The queue server program. */
export const queueServer: Program = { usage: USAGE, main };

if (import.meta.main) await runProgram(queueServer);
