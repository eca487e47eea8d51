/**
 * The queue client's interactive part, with no I/O of its own: running a
 * command (parsed by {@linkcode parseCommand}) against
 * {@linkcode RemoteQueue}, formatting the answer, and the read-eval-print
 * loop over an injected line source.
 *
 * @module
 */
import { escapeItem } from "./item_escape.ts";
import type { LeasedItem, QueueCount, RemoteQueue } from "./queue_client.ts";
import { parseCommand, type ReplCommand } from "./repl_command.ts";

/** The answer to `help`. */
export const HELP_TEXT: string =
  "Commands: put ITEM [--wait SECONDS] (append ITEM, one word; wait up to " +
  "SECONDS for room), peek (show the head), pop [--wait SECONDS] (remove " +
  "and show the head; wait up to SECONDS for an item), size (count the " +
  "items and the leased ones), help; with a lease: pop --lease SECONDS [--wait SECONDS] (show the head and " +
  "then, on a line of its own, delivery N receipt RECEIPT; the item comes " +
  "back unless acked within SECONDS), ack RECEIPT (done: remove it), " +
  "release RECEIPT (put it back now), extend RECEIPT SECONDS (keep it " +
  "SECONDS from now)";

/** What `peek` and `pop` print when the queue is empty. */
export const EMPTY_TEXT = "Queue is empty";

/** Options of {@linkcode executeCommand}. */
export interface ExecuteOptions {
  /**
   * Print items as stored rather than escaped by {@linkcode escapeItem}
   * (which keeps every answer one line).
   *
   * @default {false}
   */
  raw?: boolean;
}

/**
 * Runs `command` against `queue` and resolves to the text to print:
 * `True`/`False` for put, ack, release and extend, the item (escaped unless
 * `raw`) or {@linkcode EMPTY_TEXT} for peek and pop (a leasing pop adds a
 * second line, {@linkcode formatLease}), the number for size (with
 * ` (N leased)` when N is not 0), {@linkcode HELP_TEXT} for help. Rejects
 * with the queue's error when the call fails.
 */
export async function executeCommand(
  command: ReplCommand,
  queue: RemoteQueue,
  options: ExecuteOptions = {},
): Promise<string> {
  const show = options.raw ? (item: string) => item : escapeItem;
  switch (command.name) {
    case "put":
      return (await queue.put(command.item, command.waitMs)) ? "True" : "False";
    case "peek":
      return showItem(await queue.peek(), show);
    case "pop": {
      if (command.leaseMs === undefined) {
        return showItem(await queue.pop(command.waitMs), show);
      }
      const leased = await queue.lease(command.leaseMs, command.waitMs);
      return leased === undefined ? EMPTY_TEXT : formatLease(leased, show);
    }
    case "size":
      return formatCount(await queue.count());
    case "ack":
      return trueFalse(await queue.ack(command.receipt));
    case "release":
      return trueFalse(await queue.release(command.receipt));
    case "extend":
      return trueFalse(await queue.extend(command.receipt, command.leaseMs));
    case "help":
      return HELP_TEXT;
  }
}

/**
 * How a leased item prints: the item as `show` shows it, then on its own
 * line `delivery N receipt RECEIPT`. The receipt comes last, escaped, so it
 * is the rest of that line whatever it holds, and the last line of the
 * answer is always this one, even for a `--raw` item spanning lines.
 */
export function formatLease(
  leased: LeasedItem,
  show: (item: string) => string = escapeItem,
): string {
  const { item, receipt, deliveryCount } = leased;
  return `${show(item)}\ndelivery ${deliveryCount} receipt ${
    escapeItem(receipt)
  }`;
}

/** How size prints: the count, and the leased count when it is not 0. */
export function formatCount({ size, leased }: QueueCount): string {
  return leased === 0 ? String(size) : `${size} (${leased} leased)`;
}

function trueFalse(answer: boolean): string {
  return answer ? "True" : "False";
}

function showItem(
  item: string | undefined,
  show: (item: string) => string,
): string {
  return item === undefined ? EMPTY_TEXT : show(item);
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
  /**
   * Called after each run of lines written together, so that an output that
   * buffers lines can write them out at once.
   */
  flush?(): void;
}

/** Options of {@linkcode runRepl}. */
export interface ReplOptions extends ExecuteOptions {
  /**
   * Whether to show the prompt before each line (only when a person types).
   *
   * @default {false}
   */
  prompt?: boolean;
  /**
   * How many commands may be running at once. Above 1 the REPL pipelines:
   * it reads and sends the next lines without waiting for the answers,
   * which it still writes in the order of the lines. Only useful when the
   * queue runs the commands in the order they are sent (a Session).
   *
   * @default {1}
   */
  window?: number;
  /** Ends the loop at once, even while waiting for a line or an answer. */
  signal?: AbortSignal;
}

/** Why {@linkcode runRepl} ended. */
export type ReplEnd = "end of input" | "aborted";

/** The prompt shown before each line when reading from a terminal. */
export const PROMPT = "> ";

/**
 * The read-eval-print loop: reads each line from `lines`, runs it against
 * `queue` and writes the answer or one `error: ` line to `output`, in the
 * order of the lines. Blank lines are ignored, and no error ends the loop;
 * it ends at the end of `lines` once every answer is written, or when
 * `signal` is aborted, resolving to which.
 */
export async function runRepl(
  lines: AsyncIterable<string>,
  queue: RemoteQueue,
  output: ReplOutput,
  options: ReplOptions = {},
): Promise<ReplEnd> {
  const { prompt = false, window = 1, signal, raw = false } = options;
  const waiting = new AbortableWait(signal);
  const answers = new OrderedAnswers(output);
  const iterator = lines[Symbol.asyncIterator]();
  const execute = { raw };
  try {
    while (!signal?.aborted) {
      if (prompt) output.prompt(PROMPT);
      const next = await waiting.wait(iterator.next());
      if (next === "aborted") return "aborted";
      if (next.done) {
        const drained = await waiting.wait(answers.below(1));
        return drained === "aborted" ? "aborted" : "end of input";
      }
      const parsed = parseCommand(next.value);
      if (parsed.kind === "blank") continue;
      if (parsed.kind === "invalid") {
        answers.add({ error: parsed.message });
      } else {
        answers.add(executeCommand(parsed.command, queue, execute));
      }
      if (
        answers.unwritten >= window &&
        await waiting.wait(answers.below(window)) === "aborted"
      ) {
        return "aborted";
      }
    }
    return "aborted";
  } finally {
    // Answers that arrive after the loop ended (when aborted) are not written.
    answers.stop();
    waiting.close();
  }
}

/** What one line comes to: the text to print, or the error to report. */
type Outcome = { text: string } | { error: unknown };

/**
 * Waits for one promise at a time, giving up with "aborted" once `signal`
 * is aborted. Unlike a race against a promise of the abort, it leaves no
 * reaction behind on each wait, so a long run holds no memory for the
 * waits already done.
 */
class AbortableWait {
  readonly #signal: AbortSignal | undefined;
  /** Ends the current wait with "aborted". */
  #wake: ((value: "aborted") => void) | undefined;
  readonly #onAbort = () => this.#wake?.("aborted");

  constructor(signal: AbortSignal | undefined) {
    this.#signal = signal;
    signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Resolves as `promise` does, or to "aborted" once the signal is. */
  wait<T>(promise: Promise<T>): Promise<T | "aborted"> {
    if (this.#signal?.aborted) return Promise.resolve("aborted");
    return new Promise((resolve, reject) => {
      this.#wake = resolve;
      promise.then(resolve, reject);
    });
  }

  /** Stops listening to the signal. */
  close(): void {
    this.#signal?.removeEventListener("abort", this.#onAbort);
  }
}

/**
 * The answers of the lines read so far, written to the output in the order
 * of the lines as soon as each one and all before it are known.
 */
class OrderedAnswers {
  readonly #output: ReplOutput;
  /** Unwritten answers, oldest first; undefined while still running. */
  readonly #answers: (Outcome | undefined)[] = [];
  /** How many answers were added, including the written ones. */
  #added = 0;
  #written = 0;
  #onWritten: (() => void) | undefined;
  #stopped = false;

  constructor(output: ReplOutput) {
    this.#output = output;
  }

  /** How many answers are not written yet. */
  get unwritten(): number {
    return this.#answers.length;
  }

  /** Adds the next line's answer: its outcome, or its text to come. */
  add(outcome: Outcome | Promise<string>): void {
    const index = this.#added++;
    if (outcome instanceof Promise) {
      this.#answers.push(undefined);
      outcome.then(
        (text) => this.#settle(index, { text }),
        (error: unknown) => this.#settle(index, { error }),
      );
    } else {
      this.#answers.push(outcome);
      this.#writeReady();
    }
  }

  /** Writes nothing more from now on. */
  stop(): void {
    this.#stopped = true;
  }

  /** Resolves once fewer than `count` answers remain unwritten. */
  async below(count: number): Promise<void> {
    while (this.#answers.length >= count) {
      await new Promise<void>((resolve) => this.#onWritten = resolve);
    }
  }

  #settle(index: number, outcome: Outcome): void {
    this.#answers[index - this.#written] = outcome;
    this.#writeReady();
  }

  /** Writes the answers known at the front, in order. */
  #writeReady(): void {
    if (this.#stopped) return;
    const answers = this.#answers;
    let count = 0;
    while (count < answers.length && answers[count] !== undefined) {
      const outcome = answers[count++]!;
      if ("text" in outcome) this.#output.line(outcome.text);
      else this.#output.error(formatError(outcome.error));
    }
    if (count === 0) return;
    answers.splice(0, count);
    this.#written += count;
    this.#output.flush?.();
    const onWritten = this.#onWritten;
    this.#onWritten = undefined;
    onWritten?.();
  }
}
