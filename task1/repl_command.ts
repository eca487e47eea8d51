/**
 * One line of the queue client's input, parsed into the command it names,
 * with no I/O: the words, the item and `--wait SECONDS`.
 *
 * @module
 */

/**
 * One command of the queue client. `waitMs` is how long the server may wait
 * for room (put) or for an item (pop), from `--wait SECONDS`; `leaseMs` is
 * how long a leasing pop (`--lease SECONDS`) or an extend holds the item.
 */
export type ReplCommand =
  | { name: "put"; item: string; waitMs?: number }
  | { name: "peek" }
  | { name: "pop"; waitMs?: number; leaseMs?: number }
  | { name: "size" }
  | { name: "ack"; receipt: string }
  | { name: "release"; receipt: string }
  | { name: "extend"; receipt: string; leaseMs: number }
  | { name: "help" };

/** What a line of input means: nothing, a command, or a mistake. */
export type ParsedLine =
  | { kind: "blank" }
  | { kind: "command"; command: ReplCommand }
  | { kind: "invalid"; message: string };

/** The longest `--wait`, in seconds: one hour, as the server allows. */
export const MAX_WAIT_SECONDS = 3600;

/** The longest lease, in seconds: one hour, as the server allows. */
export const MAX_LEASE_SECONDS = 3600;

const SECONDS = /^(\d+(\.\d*)?|\.\d+)$/;

/**
 * Parses a `--wait` value: a number of seconds from 0 to
 * {@linkcode MAX_WAIT_SECONDS}, decimals allowed, returned in whole
 * milliseconds.
 *
 * @throws {RangeError} when the text is not such a number
 */
export function parseWait(text: string): number {
  const seconds = SECONDS.test(text) ? Number(text) : NaN;
  if (!(seconds <= MAX_WAIT_SECONDS)) {
    throw new RangeError(
      `Invalid wait "${text}": expected a number of seconds from 0 to ${MAX_WAIT_SECONDS}`,
    );
  }
  return Math.round(seconds * 1000);
}

/**
 * Parses a lease's length (`--lease`, extend's SECONDS): a number of seconds
 * above 0 and at most {@linkcode MAX_LEASE_SECONDS}, decimals allowed,
 * returned in whole milliseconds (at least 1).
 *
 * @throws {RangeError} when the text is not such a number
 */
export function parseLease(text: string): number {
  const seconds = SECONDS.test(text) ? Number(text) : NaN;
  const ms = Math.round(seconds * 1000);
  if (!(ms >= 1 && seconds <= MAX_LEASE_SECONDS)) {
    throw new RangeError(
      `Invalid lease "${text}": expected a number of seconds above 0, at most ${MAX_LEASE_SECONDS}`,
    );
  }
  return ms;
}

/** Parses one line of input; words are separated by any whitespace. */
export function parseCommand(line: string): ParsedLine {
  return parseWords(line.trim().split(/\s+/));
}

/** The words after a command's name, with its options taken out. */
interface Arguments {
  rest: string[];
  waitMs?: number;
  leaseMs?: number;
}

/**
 * Parses a command given as words: its name, then its arguments, where
 * `--wait SECONDS` may appear after `put` or `pop`, and `--lease SECONDS`
 * after `pop`.
 */
function parseWords(words: readonly string[]): ParsedLine {
  const [name = "", ...afterName] = words;
  if (name === "") return { kind: "blank" };
  let args: Arguments;
  try {
    args = takeOptions(name, afterName);
  } catch (error: unknown) {
    return invalid((error as RangeError).message);
  }
  const { rest, waitMs, leaseMs } = args;
  const command = commandOf(name, rest);
  if (typeof command === "string") return invalid(command);
  if (command.name === "put" && waitMs !== undefined) {
    return { kind: "command", command: { ...command, waitMs } };
  }
  if (command.name === "pop") {
    return {
      kind: "command",
      command: {
        name: "pop",
        ...(waitMs === undefined ? {} : { waitMs }),
        ...(leaseMs === undefined ? {} : { leaseMs }),
      },
    };
  }
  return { kind: "command", command };
}

/** Takes `--wait` (put, pop) and `--lease` (pop) out of `words`. */
function takeOptions(name: string, words: readonly string[]): Arguments {
  let rest = [...words];
  const take = (option: string, parse: (text: string) => number) => {
    const at = rest.indexOf(option);
    if (at < 0) return undefined;
    const value = rest[at + 1];
    if (value === undefined) {
      throw new RangeError(
        `Missing value after "${option}": expected SECONDS`,
      );
    }
    rest = rest.toSpliced(at, 2);
    return parse(value);
  };
  const waitMs = name === "put" || name === "pop"
    ? take("--wait", parseWait)
    : undefined;
  const leaseMs = name === "pop" ? take("--lease", parseLease) : undefined;
  return {
    rest,
    ...(waitMs === undefined ? {} : { waitMs }),
    ...(leaseMs === undefined ? {} : { leaseMs }),
  };
}

/** What each command takes, for the message about an unexpected word. */
const TAKES: Readonly<Record<string, string>> = {
  peek: "none",
  pop: "only --wait SECONDS and --lease SECONDS",
  size: "none",
  help: "none",
};

/** The command `name` with its plain arguments, or why they are wrong. */
function commandOf(
  name: string,
  rest: readonly string[],
): ReplCommand | string {
  switch (name) {
    case "put":
      if (rest.length === 0) return 'Missing item: usage is "put ITEM"';
      if (rest.length > 1) {
        return `Too many words after "put": an item is one word, got "${
          rest.join(" ")
        }"`;
      }
      return { name, item: rest[0] ?? "" };
    case "ack":
    case "release":
      if (rest.length !== 1) {
        return `Expected one receipt: usage is "${name} RECEIPT"`;
      }
      return { name, receipt: rest[0] ?? "" };
    case "extend": {
      const [receipt, seconds] = rest;
      if (rest.length !== 2 || receipt === undefined || seconds === undefined) {
        return 'Expected a receipt and SECONDS: usage is "extend RECEIPT SECONDS"';
      }
      try {
        return { name, receipt, leaseMs: parseLease(seconds) };
      } catch (error: unknown) {
        return (error as RangeError).message;
      }
    }
    case "peek":
    case "pop":
    case "size":
    case "help":
      if (rest.length > 0) {
        return `Unexpected argument "${rest[0]}": "${name}" takes ${
          TAKES[name]
        }`;
      }
      return { name };
    default:
      return `Unknown command "${name}": expected put ITEM, peek, pop, size, ack RECEIPT, release RECEIPT, extend RECEIPT SECONDS or help`;
  }
}

function invalid(message: string): ParsedLine {
  return { kind: "invalid", message };
}
