/**
 * `queue-server PORT SIZE`: the queue server's command line.
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
import {
  readServerSecurity,
  SERVER_SECURITY_OPTIONS,
  serverSecurityUsage,
} from "../lib/security.ts";
import {
  createQueueServer,
  DEFAULT_MAX_ITEM_BYTES,
  parseCapacity,
} from "./queue_server.ts";

const USAGE = `Usage: queue-server PORT SIZE [--host ADDR] [--quiet]
         [--tls-cert FILE --tls-key FILE] [--token-file FILE]

Serves a bounded first-in, first-out queue over gRPC (queue.v1.QueueService),
shared by every client, with the gRPC health service and server reflection.

Arguments:
  PORT          TCP port to listen on; 0 picks a free one
  SIZE          capacity of the queue, an integer from 1 to 4294967295

Options:
  --host ADDR   address to listen on (default 0.0.0.0; :: for IPv6)
  --quiet       do not log the shutdown on stderr
${serverSecurityUsage(16)}
  -h, --help    show this help

Items larger than ${DEFAULT_MAX_ITEM_BYTES} bytes (1 MiB) of UTF-8 are refused
with status INVALID_ARGUMENT. The first line on stderr says where the server
listens. SIGINT or SIGTERM stops accepting calls, lets the calls in flight
finish for up to 2 seconds, and exits 0. With --token-file, every call but the
health and reflection services needs "authorization: Bearer <token>" metadata.`;

async function main(
  args: string[],
  { signal }: ProgramContext,
): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    host: { type: "string", default: "0.0.0.0" },
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
  const { host, quiet } = values;
  const { warning, ...security } = await readServerSecurity(values, host);

  // This program reports its own errors, one line each; grpc-js's log would
  // repeat them with less context.
  grpc.setLogVerbosity(grpc.logVerbosity.NONE);
  const server = createQueueServer(capacity, security);
  const boundPort = await server.listen(host, port);
  console.error(`queue-server listening on ${formatHostPort(host, boundPort)}`);
  if (warning !== undefined) console.error(warning);

  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  if (!quiet) console.error("queue-server shutting down");
  const graceful = await server.shutdown({ graceMs: 2000 });
  if (!quiet && !graceful) {
    console.error("queue-server cancelled the calls still running after 2 s");
  }
  return 0;
}

/** The queue server program. */
export const queueServer: Program = { usage: USAGE, main };

if (import.meta.main) await runProgram(queueServer);
