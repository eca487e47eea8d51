/**
 * One line of the queue client's input, parsed into the command it names,
 * with no I/O: the words, the item and `--wait SECONDS`.
 *
 * @module
 */

/**
 * One command of the queue client. `waitMs` is how long the server may wait
 * for room (put) or for an item (pop), from `--wait SECONDS`.
 */
export type ReplCommand =
  | { name: "put"; item: string; waitMs?: number }
  | { name: "peek" }
  | { name: "pop"; waitMs?: number }
  | { name: "size" }
  | { name: "help" };

/** What a line of input means: nothing, a command, or a mistake. */
export type ParsedLine =
  | { kind: "blank" }
  | { kind: "command"; command: ReplCommand }
  | { kind: "invalid"; message: string };

/** The longest `--wait`, in seconds: one hour, as the server allows. */
export const MAX_WAIT_SECONDS = 3600;

const NO_ARGUMENT_COMMANDS: ReadonlyMap<string, ReplCommand> = new Map(
  (["peek", "pop", "size", "help"] as const).map((name) => [name, { name }]),
);

/**
 * Parses a `--wait` value: a number of seconds from 0 to
 * {@linkcode MAX_WAIT_SECONDS}, decimals allowed, returned in whole
 * milliseconds.
 *
 * @throws {RangeError} when the text is not such a number
 */
export function parseWait(text: string): number {
  const seconds = /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : NaN;
  if (!(seconds <= MAX_WAIT_SECONDS)) {
    throw new RangeError(
      `Invalid wait "${text}": expected a number of seconds from 0 to ${MAX_WAIT_SECONDS}`,
    );
  }
  return Math.round(seconds * 1000);
}

/** Parses one line of input; words are separated by any whitespace. */
export function parseCommand(line: string): ParsedLine {
  return parseWords(line.trim().split(/\s+/));
}

/**
 * Parses a command given as words: its name, then its arguments, where
 * `--wait SECONDS` may appear after `put` or `pop`.
 */
function parseWords(words: readonly string[]): ParsedLine {
  const [name = "", ...afterName] = words;
  if (name === "") return { kind: "blank" };
  const waitAt = afterName.indexOf("--wait");
  let waitMs: number | undefined;
  let rest = afterName;
  if (waitAt >= 0 && (name === "put" || name === "pop")) {
    const value = afterName[waitAt + 1];
    if (value === undefined) {
      return invalid('Missing value after "--wait": expected SECONDS');
    }
    try {
      waitMs = parseWait(value);
    } catch (error: unknown) {
      return invalid((error as RangeError).message);
    }
    rest = afterName.toSpliced(waitAt, 2);
  }
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
    const item = rest[0] ?? "";
    return {
      kind: "command",
      command: waitMs === undefined ? { name, item } : { name, item, waitMs },
    };
  }
  const command = NO_ARGUMENT_COMMANDS.get(name);
  if (command !== undefined) {
    if (rest.length > 0) {
      const takes = name === "pop" ? "only --wait SECONDS" : "none";
      return invalid(
        `Unexpected argument "${rest[0]}": "${name}" takes ${takes}`,
      );
    }
    if (waitMs !== undefined) {
      return { kind: "command", command: { name: "pop", waitMs } };
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
