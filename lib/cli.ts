/**
 * Command-line plumbing shared by the four programs: argument parsing that
 * reports usage errors, and the top-level runner that turns a program's result
 * into an exit code (0 ok, 1 runtime failure, 2 usage error).
 *
 * With the shared flags in `flags/`, this is the command-line layer of
 * `lib/`: the runtime helpers beside it throw ordinary errors and never
 * import it; the flags turn their mistakes into {@linkcode UsageError}s.
 *
 * @module
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

/** A mistake in the command line: reported with the usage, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** What a program's `main` receives besides its arguments. */
export interface ProgramContext {
  /** Aborted by the first SIGINT or SIGTERM: the program should shut down. */
  signal: AbortSignal;
  /** Aborted by a second SIGINT or SIGTERM (only seen after `takeTime`). */
  force: AbortSignal;
  /**
   * Turns off the hard exit after the grace period: the program may take as
   * long as it needs after the first signal, and ends at once on `force`.
   */
  takeTime(): void;
}

/** A command-line program: its usage text and its main function. */
export interface Program {
  /** The text printed for `--help` and after a usage error. */
  usage: string;
  /** Runs the program and resolves to its exit code. */
  main(args: string[], context: ProgramContext): Promise<number>;
}

/**
 * Parses `args` strictly against `options` with `node:util` `parseArgs`,
 * allowing positionals, and rethrows its errors as {@linkcode UsageError}.
 */
export function parseCommandLine<const T extends ParseArgsOptionsConfig>(
  args: string[],
  options: T,
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error: unknown) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(message);
  }
}

/**
 * Throws a {@linkcode UsageError} unless `positionals` holds every argument
 * named in `required` and at most as many more as are named in `optional`.
 */
export function expectPositionals(
  positionals: string[],
  required: string[],
  optional: string[] = [],
): void {
  const missing = required[positionals.length];
  if (missing !== undefined) {
    throw new UsageError(`Missing argument ${missing}`);
  }
  const extra = positionals[required.length + optional.length];
  if (extra !== undefined) {
    throw new UsageError(`Unexpected argument "${extra}"`);
  }
}

/**
 * Runs `value` through `parse`, rethrowing its error as a {@linkcode UsageError}
 * so that a bad argument value exits with code 2.
 */
export function parseArgument<T>(value: string, parse: (text: string) => T): T {
  try {
    return parse(value);
  } catch (error: unknown) {
    throw new UsageError(
      error instanceof Error ? error.message : String(error),
    );
  }
}

/**
 * Parses a whole number from 1 up, for counts and sizes given on the command
 * line; `what` names the argument in the message.
 *
 * @throws {UsageError} when the text is not such a number
 */
export function parsePositiveInteger(text: string, what: string): number {
  const value = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
  if (!(value >= 1)) {
    throw new UsageError(
      `Invalid ${what} "${text}": expected a whole number from 1 up`,
    );
  }
  return value;
}

/** Options of {@linkcode runProgram}. */
export interface RunProgramOptions {
  /**
   * How long after the first shutdown signal the process may still run
   * before it is ended anyway, in milliseconds.
   *
   * @default {3000}
   */
  shutdownGraceMs?: number;
}

/**
 * Runs a program as the process's top level: a SIGINT or SIGTERM aborts the
 * signal handed to `main`; its result becomes the exit code; a
 * {@linkcode UsageError} prints the usage and exits 2; any other error prints
 * one `error: ` line and exits 1. If shutdown takes longer than the grace
 * period after a signal, the process exits 1 anyway, so it never hangs.
 */
export async function runProgram(
  program: Program,
  options: RunProgramOptions = {},
): Promise<never> {
  const { shutdownGraceMs = 3000 } = options;
  const controller = new AbortController();
  const force = new AbortController();
  let hardExit = true;
  const signals = ["SIGINT", "SIGTERM"] as const;
  const onSignal = () => {
    if (controller.signal.aborted) {
      force.abort();
      return;
    }
    controller.abort();
    if (!hardExit) return;
    const timer = setTimeout(() => {
      console.error("error: shutdown took too long; exiting");
      Deno.exit(1);
    }, shutdownGraceMs);
    Deno.unrefTimer(timer);
  };
  for (const name of signals) Deno.addSignalListener(name, onSignal);
  let code: number;
  try {
    code = await program.main(Deno.args, {
      signal: controller.signal,
      force: force.signal,
      takeTime: () => hardExit = false,
    });
  } catch (error: unknown) {
    code = reportError(error, program.usage);
  } finally {
    for (const name of signals) Deno.removeSignalListener(name, onSignal);
  }
  Deno.exit(code);
}

function reportError(error: unknown, usage: string): number {
  if (error instanceof UsageError) {
    console.error(`error: ${error.message}\n\n${usage}`);
    return 2;
  }
  console.error(`error: ${error instanceof Error ? error.message : error}`);
  return 1;
}
