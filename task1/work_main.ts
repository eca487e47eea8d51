/**
 * `queue-client HOST:PORT work ... -- COMMAND [ARG...]`: its flags, and the
 * wiring of `runWorker` to job slots over Sessions, `Deno.Command`, standard
 * error and the dead-letter file. Part of the client's main: it prints.
 *
 * @module
 */
import {
  parseArgument,
  parsePositiveInteger,
  type ProgramContext,
  UsageError,
} from "../lib/cli.ts";
import { LeasesUnsupportedError, type QueueClient } from "./queue_client.ts";
import { parseLease } from "./repl_command.ts";
import {
  DEFAULT_LEASE_MS,
  DEFAULT_MAX_ATTEMPTS,
  runWorker,
  type WorkOptions,
} from "./work.ts";
import { commandRunner, SessionSlot } from "./work_process.ts";

/** The flags only `work` takes (`--lease` is shared with `pop`). */
export const WORK_OPTIONS = {
  jobs: { type: "string" },
  "max-attempts": { type: "string" },
  "dead-letter": { type: "string" },
  quiet: { type: "boolean", default: false },
} as const;

/** The most commands `work` runs at once. */
const MAX_JOBS = 1024;

/** What `work` was asked to do. */
export interface WorkSettings {
  /** COMMAND and its arguments. */
  argv: [string, ...string[]];
  /** How many commands run at once. */
  jobs: number;
  /** The lease of each item, in milliseconds. */
  leaseMs: number;
  /** The delivery on which a failing item is dead-lettered. */
  maxAttempts: number;
  /** The dead-letter file; standard error when absent. */
  deadLetter?: string;
  /** Whether to leave out the line per item. */
  quiet: boolean;
}

/** The parsed flags `work` looks at. */
interface WorkValues {
  jobs?: string | undefined;
  lease?: string | undefined;
  "max-attempts"?: string | undefined;
  "dead-letter"?: string | undefined;
  quiet?: boolean | undefined;
  wait?: string | undefined;
}

/**
 * Reads `work`'s flags and its COMMAND (the words after `--`).
 *
 * @throws {UsageError} when one is wrong or COMMAND is missing
 */
export function readWork(values: WorkValues, argv: string[]): WorkSettings {
  const [command, ...args] = argv;
  if (command === undefined) {
    throw new UsageError('Missing COMMAND: usage is "work [...] -- COMMAND"');
  }
  if (values.wait !== undefined) {
    throw new UsageError("--wait goes with put or pop, not work");
  }
  const jobs = values.jobs === undefined
    ? 1
    : parsePositiveInteger(values.jobs, "jobs");
  if (jobs > MAX_JOBS) {
    throw new UsageError(`Invalid jobs "${jobs}": at most ${MAX_JOBS}`);
  }
  return {
    argv: [command, ...args],
    jobs,
    leaseMs: values.lease === undefined
      ? DEFAULT_LEASE_MS
      : parseArgument(values.lease, parseLease),
    maxAttempts: values["max-attempts"] === undefined
      ? DEFAULT_MAX_ATTEMPTS
      : parsePositiveInteger(values["max-attempts"], "max-attempts"),
    ...(values["dead-letter"] === undefined
      ? {}
      : { deadLetter: values["dead-letter"] }),
    quiet: values.quiet ?? false,
  };
}

/**
 * Refuses `work`'s own flags, and `--`, outside `work`.
 *
 * @throws {UsageError} when one is given
 */
export function refuseWorkOptions(values: WorkValues, dash: boolean): void {
  for (const name of ["jobs", "max-attempts", "dead-letter"] as const) {
    if (values[name] !== undefined) {
      throw new UsageError(`--${name} goes with work`);
    }
  }
  if (values.quiet) throw new UsageError("--quiet goes with work");
  if (dash) throw new UsageError('"--" goes with work, before its COMMAND');
}

const encoder = new TextEncoder();

/**
 * Runs `work` against the server of `client` until a signal: checks that
 * the server has leases, opens the dead-letter file, and runs one job slot
 * per `--jobs`, each over its own Session. Resolves to the exit code.
 */
export async function runWork(
  client: QueueClient,
  work: WorkSettings,
  context: ProgramContext,
): Promise<number> {
  if (!await client.supportsLeases()) throw new LeasesUnsupportedError();
  using deadLetters = work.deadLetter === undefined
    ? undefined
    : await Deno.open(work.deadLetter, { append: true, create: true });
  const slots = Array.from(
    { length: work.jobs },
    () => new SessionSlot(client),
  );
  context.takeTime();
  const options: WorkOptions = {
    leaseMs: work.leaseMs,
    maxAttempts: work.maxAttempts,
    deadLetter: async (line) => {
      if (deadLetters === undefined) console.error(line);
      else await writeAll(deadLetters, encoder.encode(`${line}\n`));
    },
    ...(work.quiet ? {} : { log: (line: string) => console.error(line) }),
    error: (line) => console.error(line),
    stop: context.signal,
    kill: context.force,
  };
  try {
    const [command, ...args] = work.argv;
    return await runWorker(slots, commandRunner(command, args), options);
  } finally {
    for (const slot of slots) slot[Symbol.dispose]();
  }
}

/** Writes all of `bytes` to `file`, in one write when it can. */
async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += await file.write(bytes.subarray(written));
  }
}
