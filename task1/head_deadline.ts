/**
 * The deadline of the oldest unanswered command of a stream whose answers
 * come in order, kept with one timer: each command has the client's timeout
 * (plus its own wait) from the moment it became the oldest.
 *
 * @module
 */

/**
 * One timer for the oldest unanswered command. {@linkcode start} is called
 * each time a command becomes the oldest; when the timer finds that the
 * oldest command (as `head` tells) has waited too long, it calls `expired`.
 * The timer only ever moves earlier on `start`; firing early, it sleeps
 * again until the current oldest command's deadline.
 */
export class HeadDeadline {
  readonly #timeoutMs: number;
  /** The wait of the oldest unanswered command, or undefined if none. */
  readonly #head: () => number | undefined;
  readonly #expired: () => void;
  /** When the oldest unanswered command became the oldest. */
  #since = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the timer fires, as a `Date.now()` time. */
  #timerAt = 0;

  /**
   * Gives each oldest command `timeoutMs` plus its wait (from `head`), then
   * calls `expired`.
   */
  constructor(
    timeoutMs: number,
    head: () => number | undefined,
    expired: () => void,
  ) {
    this.#timeoutMs = timeoutMs;
    this.#head = head;
    this.#expired = expired;
  }

  /**
   * Starts the clock of a command that has just become the oldest one
   * unanswered, with `waitMs` of its own, moving the timer earlier if it
   * must fire sooner.
   */
  start(waitMs: number): void {
    const now = Date.now();
    this.#since = now;
    const deadline = now + this.#timeoutMs + waitMs;
    if (this.#timer !== undefined && this.#timerAt <= deadline) return;
    clearTimeout(this.#timer);
    this.#timerAt = deadline;
    this.#timer = setTimeout(this.#check, deadline - now);
  }

  /** Stops the timer. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * The timer: calls `expired` if the oldest command has waited too long,
   * else sleeps until that command's deadline.
   */
  #check = (): void => {
    this.#timer = undefined;
    const waitMs = this.#head();
    if (waitMs === undefined) return;
    const left = this.#since + this.#timeoutMs + waitMs - Date.now();
    if (left <= 0) {
      this.#expired();
    } else {
      this.#timerAt = Date.now() + left;
      this.#timer = setTimeout(this.#check, left);
    }
  };
}
