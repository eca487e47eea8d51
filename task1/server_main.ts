/**
 * `queue-server PORT SIZE [--data FILE] [--max-bytes BYTES]`: the queue
 * server's command line.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { formatHostPort, parsePort } from "../lib/address.ts";
import {
  expectPositionals,
  parseArgument,
  parseCommandLine,
  type Program,
  type ProgramContext,
  runProgram,
} from "../lib/cli.ts";
import v8 from "node:v8";
import {
  readServerSecurity,
  SERVER_SECURITY_OPTIONS,
  serverSecurityUsage,
} from "../lib/security.ts";
import {
  createQueueServer,
  DEFAULT_MAX_ITEM_BYTES,
  parseByteSize,
  parseCapacity,
} from "./queue_server.ts";
import { MemoryStore } from "./store/memory.ts";
import {
  DEFAULT_MAX_BYTES,
  MAX_WAIT_MS,
  type QueueStore,
} from "./store/mod.ts";
import { openSqliteStore, type SqliteStore } from "./store/sqlite.ts";

const USAGE = `Usage: queue-server PORT SIZE [--data FILE] [--max-bytes BYTES]
                    [--host ADDR] [--quiet]
                    [--tls-cert FILE --tls-key FILE] [--token-file FILE]

Serves a bounded first-in, first-out queue over gRPC (queue.v1.QueueService),
shared by every client, with the gRPC health service and server reflection.

Arguments:
  PORT               TCP port to listen on; 0 picks a free one
  SIZE               capacity of the queue, an integer from 1 to 4294967295

Options:
  --data FILE        keep the queue in FILE, an SQLite database created if
                     missing; without it the queue lives in memory only
  --max-bytes BYTES  the most bytes of items queued, counted as the UTF-8
                     bytes of the items (default 1GiB; suffixes KiB, MiB, GiB)
  --host ADDR        address to listen on (default 0.0.0.0; :: for IPv6)
  --quiet            do not log the shutdown on stderr
${serverSecurityUsage(21)}
  -h, --help         show this help

A Put answers False when the queue holds SIZE items or when its item would
take the queue past BYTES, and stores nothing. Items larger than
${DEFAULT_MAX_ITEM_BYTES} bytes (1 MiB) of UTF-8 are refused with status
INVALID_ARGUMENT. With --data, True means the item is on disk (fsync'd), and
an item a Pop returned is off the disk: a crash loses nothing acknowledged.
A Put or Pop with wait_ms waits, in the order the calls came, for room or
for an item, for at most wait_ms (at most ${MAX_WAIT_MS} ms, 1 hour) and
never past the call's deadline.

The first line on stderr says where the server listens. SIGINT or SIGTERM
stops accepting calls, ends the waiting ones, lets the others finish for up
to 2 seconds, writes what they decided, and exits 0. If FILE cannot be
written (disk full, I/O error), the server answers nothing more as done,
says why on stderr and exits 1. With --token-file, every call but the health
and reflection services needs "authorization: Bearer <token>" metadata.`;

/**
 * What the heap must keep free besides the items: grpc-js, calls in flight,
 * the items of waiting puts and the garbage of a busy server.
 */
const HEAP_RESERVE_BYTES = 512 * 1024 * 1024;

async function main(
  args: string[],
  { signal }: ProgramContext,
): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    host: { type: "string", default: "0.0.0.0" },
    data: { type: "string" },
    "max-bytes": { type: "string", default: String(DEFAULT_MAX_BYTES) },
    quiet: { type: "boolean", default: false },
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
  const { host, quiet, data } = values;
  checkHeapHolds(maxBytes);
  const { warning, ...security } = await readServerSecurity(values, host);

  // This program reports its own errors, one line each; grpc-js's log would
  // repeat them with less context.
  grpc.setLogVerbosity(grpc.logVerbosity.NONE);
  const store: QueueStore & Partial<Pick<SqliteStore, "journalStats">> =
    data === undefined
      ? new MemoryStore(capacity, { maxBytes })
      : await openSqliteStore(data, capacity, { maxBytes });
  const server = createQueueServer(capacity, { store, ...security });
  let boundPort: number;
  try {
    boundPort = await server.listen(host, port);
  } catch (error: unknown) {
    await server.shutdown({ graceMs: 0 });
    throw error;
  }
  console.error(`queue-server listening on ${formatHostPort(host, boundPort)}`);
  if (warning !== undefined) console.error(warning);
  const { size, bytes } = store.status();
  if (size > capacity || bytes > maxBytes) {
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
  const stats = store.journalStats?.();
  if (!quiet && stats) {
    console.error(
      `queue-server wrote ${stats.operations} changes in ${stats.commits} commits`,
    );
  }
  return 0;
}

/**
 * Refuses a `--max-bytes` that the JavaScript heap cannot hold: items are
 * strings on the heap, which take up to 2 bytes per UTF-8 byte (a string
 * with one character past U+00FF is stored as UTF-16), plus a reserve.
 *
 * @throws {Error} when twice `maxBytes` and the reserve pass the heap limit
 */
function checkHeapHolds(maxBytes: number): void {
  const limit = v8.getHeapStatistics().heap_size_limit;
  const most = Math.floor((limit - HEAP_RESERVE_BYTES) / 2);
  if (maxBytes > most) {
    throw new Error(
      `--max-bytes ${maxBytes} is more than this process can hold: ` +
        `its heap limit of ${limit} bytes allows at most ${most}`,
    );
  }
}

/** The queue server program. */
export const queueServer: Program = { usage: USAGE, main };

if (import.meta.main) await runProgram(queueServer);
