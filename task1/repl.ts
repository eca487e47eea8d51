/**
 * The queue client's interactive part, with no I/O of its own: parsing a
 * command line, running it against {@linkcode QueueOperations}, formatting
 * the answer, and the read-eval-print loop over an injected line source.
 *
 * @module
 */
import type { QueueOperations } from "./queue_client.ts";

/** One command of the queue client. */
export type Command =
  | { name: "put"; item: string }
  | { name: "peek" }
  | { name: "pop" }
  | { name: "size" }
  | { name: "help" };

/** What a line of input means: nothing, a command, or a mistake. */
export type ParsedLine =
  | { kind: "blank" }
  | { kind: "command"; command: Command }
  | { kind: "invalid"; message: string };

/** The answer to `help`. */
export const HELP_TEXT: string =
  "Commands: put ITEM (append ITEM, one word), peek (show the head), " +
  "pop (remove and show the head), size (count the items), help";

/** What `peek` and `pop` print when the queue is empty. */
export const EMPTY_TEXT = "Queue is empty";

const NO_ARGUMENT_COMMANDS: ReadonlyMap<string, Command> = new Map(
  (["peek", "pop", "size", "help"] as const).map((name) => [name, { name }]),
);

/** Parses one line of input; words are separated by any whitespace. */
export function parseCommand(line: string): ParsedLine {
  const words = line.trim().split(/\s+/);
  const [name = "", ...rest] = words;
  if (name === "") return { kind: "blank" };
  if (name === "put") {
    if (rest.length === 0) {
      return invalid('Missing item: usage is "put ITEM"');
    }
    if (rest.length > 1) {
      return invalid(
        `Too many words after "put": an item is one word, got "${
          rest.join(" ")
        }"`,
      );
    }
    return { kind: "command", command: { name, item: rest[0] ?? "" } };
  }
  const command = NO_ARGUMENT_COMMANDS.get(name);
  if (command !== undefined) {
    if (rest.length > 0) {
      return invalid(`Unexpected argument "${rest[0]}": "${name}" takes none`);
    }
    return { kind: "command", command };
  }
  return invalid(
    `Unknown command "${name}": expected put ITEM, peek, pop, size or help`,
  );
}

function invalid(message: string): ParsedLine {
  return { kind: "invalid", message };
}

/**
 * Runs `command` against `queue` and resolves to the line to print:
 * `True`/`False` for put, the item or {@linkcode EMPTY_TEXT} for peek and
 * pop, the number for size, {@linkcode HELP_TEXT} for help. Rejects with the
 * queue's error when the call fails.
 */
export async function executeCommand(
  command: Command,
  queue: QueueOperations,
): Promise<string> {
  switch (command.name) {
    case "put":
      return (await queue.put(command.item)) ? "True" : "False";
    case "peek":
      return (await queue.peek()) ?? EMPTY_TEXT;
    case "pop":
      return (await queue.pop()) ?? EMPTY_TEXT;
    case "size":
      return String(await queue.size());
    case "help":
      return HELP_TEXT;
  }
}

/** Formats an error as the one line the client prints for it. */
export function formatError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return `error: ${message.split("\n", 1)[0]}`;
}

/** Where the REPL writes; each call is one whole line, or the prompt. */
export interface ReplOutput {
  /** Writes an answer line (standard output). */
  line(text: string): void;
  /** Writes an `error: ` line (standard error). */
  error(text: string): void;
  /** Writes the prompt, `> `, without a newline. */
  prompt(text: string): void;
}

/** Options of {@linkcode runRepl}. */
export interface ReplOptions {
  /**
   * Whether to show the prompt before each line (only when a person types).
   *
   * @default {false}
   */
  prompt?: boolean;
  /** Ends the loop at once, even while waiting for a line or an answer. */
  signal?: AbortSignal;
}

/** Why {@linkcode runRepl} ended. */
export type ReplEnd = "end of input" | "aborted";

/** The prompt shown before each line when reading from a terminal. */
export const PROMPT = "> ";

/**
 * The read-eval-print loop: reads each line from `lines`, runs it against
 * `queue` and writes the answer or one `error: ` line to `output`. Blank
 * lines are ignored, and no error ends the loop; it ends at the end of
 * `lines` or when `signal` is aborted, resolving to which.
 */
export async function runRepl(
  lines: AsyncIterable<string>,
  queue: QueueOperations,
  output: ReplOutput,
  options: ReplOptions = {},
): Promise<ReplEnd> {
  const { prompt = false, signal } = options;
  const aborted = abortPromise(signal);
  const iterator = lines[Symbol.asyncIterator]();
  while (!signal?.aborted) {
    if (prompt) output.prompt(PROMPT);
    const next = await Promise.race([iterator.next(), aborted]);
    if (next === "aborted") return "aborted";
    if (next.done) return "end of input";
    const parsed = parseCommand(next.value);
    if (parsed.kind === "blank") continue;
    if (parsed.kind === "invalid") {
      output.error(formatError(parsed.message));
      continue;
    }
    const answer = await Promise.race([
      executeCommand(parsed.command, queue).then(
        (text) => ({ text }),
        (error: unknown) => ({ error }),
      ),
      aborted,
    ]);
    if (answer === "aborted") return "aborted";
    if ("text" in answer) output.line(answer.text);
    else output.error(formatError(answer.error));
  }
  return "aborted";
}

/** Resolves to "aborted" once `signal` is aborted; never if there is none. */
function abortPromise(signal: AbortSignal | undefined): Promise<"aborted"> {
  return new Promise((resolve) => {
    if (signal?.aborted) resolve("aborted");
    signal?.addEventListener("abort", () => resolve("aborted"), {
      once: true,
    });
  });
}
