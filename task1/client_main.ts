/**
 * `queue-client HOST:PORT [COMMAND [ITEM]]`: the queue client's command line,
 * an interactive REPL or one command.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { isIP } from "node:net";
import { parseHostPort } from "../lib/address.ts";
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
import { readLines } from "../lib/lines.ts";
import {
  CLIENT_SECURITY_OPTIONS,
  clientSecurityUsage,
  readClientSecurity,
} from "../lib/flags/security.ts";
import { QueueClient } from "./queue_client.ts";
import {
  executeCommand,
  formatError,
  type ReplOutput,
  runRepl,
} from "./repl.ts";
import { parseCommand } from "./repl_command.ts";
import { SessionClient } from "./session_client.ts";
import {
  readWork,
  refuseWorkOptions,
  runWork,
  WORK_OPTIONS,
} from "./work_main.ts";

/** Commands in flight when standard input is not a terminal. */
const DEFAULT_WINDOW = 256;

const USAGE =
  `Usage: queue-client HOST:PORT [COMMAND [ARG...]] [--wait SECONDS] [--lease SECONDS]
         [--timeout SECONDS] [--window N] [--raw] [--tls | --ca FILE]
         [--server-name NAME] [--token-file FILE]
       queue-client HOST:PORT work [--jobs N] [--lease SECONDS] [--max-attempts N]
         [--dead-letter FILE] [--quiet] [--timeout SECONDS] [--tls | --ca FILE]
         [--server-name NAME] [--token-file FILE] -- COMMAND [ARG...]

Talks to a queue-server. Without COMMAND, reads commands line by line from
standard input (showing the prompt "> " when it is a terminal) and prints each
answer; with COMMAND, runs that one command and exits.

Commands:
  put ITEM [--wait SECONDS]   append ITEM (one word); prints True, or False if
                              the queue is full (after waiting up to SECONDS
                              for room)
  peek                        print the head item, or "Queue is empty"
  pop [--wait SECONDS]        remove and print the head item, or "Queue is
                              empty" (after waiting up to SECONDS for an item)
  pop --lease SECONDS [--wait SECONDS]
                              lease the head item: print it, then the line
                              "delivery N receipt RECEIPT"; it comes back
                              unless acked within SECONDS
  ack RECEIPT                 done with a leased item: remove it (True/False)
  release RECEIPT             put a leased item back at the head (True/False)
  extend RECEIPT SECONDS      keep a lease SECONDS from now (True/False)
  size                        print the number of items queued, and
                              " (N leased)" when N items are under lease
  help                        list the commands

SECONDS may have decimals and is at most 3600; the default 0 answers at once.
The lease commands need a server with leases (queue.proto version 3).

work runs COMMAND once per item, as a reliable consumer: N at a time
(--jobs, default 1), each with one leased item on its standard input (as
stored) and QUEUE_DELIVERY_COUNT in its environment; the lease (--lease,
default 30) is extended every third of it while COMMAND runs. Exit 0 acks
the item; any other end releases it, except on delivery --max-attempts
(default 5), when the item is written as one JSON line {"item",
"delivery_count", "exit_status"} to --dead-letter FILE (appended; default
standard error) and acked. One line per item on standard error unless
--quiet. SIGINT or SIGTERM: take no more items, let the commands finish,
exit 0; a second signal kills them, releases their items, exits 1.

Arguments:
  HOST:PORT     the server; HOST is an IPv4 address, a host name or [IPv6]

Options:
  --timeout SECONDS   deadline of each command, added to its wait (default 5)
  --window N          commands sent ahead of their answers when standard input
                      is not a terminal (default ${DEFAULT_WINDOW}; 1 sends
                      one at a time)
  --raw               print items as stored; by default a backslash, control
                      characters (C0, DEL, C1) and U+2028/U+2029 in an item
                      are escaped (\\\\ \\n \\r \\t \\xHH \\uHHHH) so that each
                      answer is one line
${clientSecurityUsage("QUEUE_TOKEN", 22)}
  -h, --help          show this help

The REPL sends its commands over one Session stream, or as one call each to
a server without Session. Errors are printed as one "error: " line on stderr,
in order with the answers; they never end the REPL, and they make a single
COMMAND exit 1. SIGINT prints "Shutting down" and exits 0, as does the end of
input. With TLS, HOST must be the name in the server's certificate; to connect
to an IP address, give that name with --server-name.`;

/**
 * Parses the `--timeout` value: a number of seconds above 0 and at most a
 * day, returned in milliseconds.
 *
 * @throws {RangeError} when the text is not such a number
 */
function parseTimeout(text: string): number {
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(seconds > 0 && seconds <= 86400)) {
    throw new RangeError(
      `Invalid timeout "${text}": expected a number of seconds above 0, at most 86400`,
    );
  }
  return seconds * 1000;
}

const encoder = new TextEncoder();

/** Writes `text` to standard output at once, whole. */
function writeOut(text: string): void {
  const bytes = encoder.encode(text);
  for (let written = 0; written < bytes.length;) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}

/** The most answer text held before it is written out, in UTF-16 units. */
const MAX_BUFFERED = 64 * 1024;

/** How long answers may wait to be written out together, in milliseconds. */
const FLUSH_DELAY_MS = 2;

/** The REPL's output, and a way to write out what it still holds. */
interface TerminalOutput extends ReplOutput {
  /** Writes out the answers held, at once. */
  drain(): void;
}

/**
 * The REPL's output: answer lines are gathered and written to standard
 * output together, a moment after a flush, so that the answers of a
 * pipelined run cost a few writes rather than one each; an error line or
 * the prompt first writes out the answers before it, so the order is kept.
 */
function terminalOutput(): TerminalOutput {
  let buffered = "";
  let scheduled = false;
  const drain = () => {
    scheduled = false;
    if (buffered !== "") writeOut(buffered);
    buffered = "";
  };
  return {
    line: (text) => {
      buffered += `${text}\n`;
      if (buffered.length > MAX_BUFFERED) drain();
    },
    error: (text) => {
      drain();
      console.error(text);
    },
    prompt: (text) => {
      drain();
      writeOut(text);
    },
    flush: () => {
      if (scheduled) return;
      scheduled = true;
      setTimeout(drain, FLUSH_DELAY_MS);
    },
    drain,
  };
}

async function main(
  allArgs: string[],
  context: ProgramContext,
): Promise<number> {
  const { signal } = context;
  // Everything after "--" is work's COMMAND, flags included.
  const dash = allArgs.indexOf("--");
  const args = dash < 0 ? allArgs : allArgs.slice(0, dash);
  const { values, positionals } = parseCommandLine(args, {
    timeout: { type: "string", default: "5" },
    wait: { type: "string" },
    lease: { type: "string" },
    ...WORK_OPTIONS,
    window: { type: "string", default: String(DEFAULT_WINDOW) },
    raw: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
    ...CLIENT_SECURITY_OPTIONS,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [addressText = "", ...commandWords] = positionals;
  const working = commandWords[0] === "work";
  if (working) expectPositionals(positionals, ["HOST:PORT", "work"]);
  else {
    // Only extend takes two words after its name.
    const words = commandWords[0] === "extend"
      ? ["COMMAND", "RECEIPT", "SECONDS"]
      : ["COMMAND", "ITEM"];
    expectPositionals(positionals, ["HOST:PORT"], words);
  }
  const work = working
    ? readWork(values, dash < 0 ? [] : allArgs.slice(dash + 1))
    : undefined;
  if (!working) refuseWorkOptions(values, dash >= 0);
  const address = parseArgument(addressText, parseHostPort);
  const timeoutMs = parseArgument(values.timeout, parseTimeout);
  const window = parsePositiveInteger(values.window, "window");
  const oneShot = commandWords.length > 0 && !working
    ? parseCommand(
      [
        ...commandWords,
        ...(values.wait === undefined ? [] : ["--wait", values.wait]),
        ...(values.lease === undefined ? [] : ["--lease", values.lease]),
      ].join(" "),
    )
    : undefined;
  if (oneShot?.kind === "blank") throw new UsageError("Missing command");
  if (oneShot === undefined && !working && values.wait !== undefined) {
    throw new UsageError(
      "--wait goes with a put or pop COMMAND; in the REPL, type it after the command",
    );
  }
  if (oneShot === undefined && !working && values.lease !== undefined) {
    throw new UsageError(
      "--lease goes with a pop COMMAND or work; in the REPL, type it after pop",
    );
  }
  const security = await readClientSecurity(values, "QUEUE_TOKEN");
  if (
    security.tls !== undefined && security.tls.serverName === undefined &&
    isIP(address.hostname) !== 0
  ) {
    // grpc-js under Deno refuses an IP address as the TLS server name.
    throw new UsageError(
      `TLS needs the host name in the server's certificate, not the IP address "${address.hostname}": connect by that name, or add --server-name NAME`,
    );
  }

  // Call failures are reported as one line each; grpc-js's log would add
  // its own lines for the same failures.
  grpc.setLogVerbosity(grpc.logVerbosity.NONE);
  using client = new QueueClient(address, { timeoutMs, ...security });
  if (work !== undefined) return await runWork(client, work, context);
  if (oneShot === undefined) {
    const prompt = Deno.stdin.isTerminal();
    using session = new SessionClient(client);
    const output = terminalOutput();
    const end = await runRepl(
      readLines(Deno.stdin.readable),
      session,
      output,
      { prompt, signal, window: prompt ? 1 : window, raw: values.raw },
    );
    output.drain();
    if (end === "aborted") writeOut("Shutting down\n");
    else if (prompt) writeOut("\n"); // End the prompt's line after Ctrl+D.
    return 0;
  }
  if (oneShot.kind === "invalid") {
    console.error(formatError(oneShot.message));
    return 1;
  }
  const answer = await Promise.race([
    executeCommand(oneShot.command, client, { raw: values.raw }).then(
      (text) => ({ text }),
      (error: unknown) => ({ error }),
    ),
    new Promise<"aborted">((resolve) =>
      signal.addEventListener("abort", () => resolve("aborted"), { once: true })
    ),
  ]);
  if (answer === "aborted") {
    writeOut("Shutting down\n");
    return 0;
  }
  if ("error" in answer) {
    console.error(formatError(answer.error));
    return 1;
  }
  writeOut(`${answer.text}\n`);
  return 0;
}

/** The queue client program. */
export const queueClient: Program = { usage: USAGE, main };

if (import.meta.main) await runProgram(queueClient);
