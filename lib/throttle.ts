/**
 * A bound on the attempts in progress per client address and in all, with
 * no I/O and no clock: a server holds each wrong token's refusal for a while
 * (see `TokenGate`), and this counts the refusals being held, so that one
 * address, or all of them together, can hold only a few.
 *
 * @module
 */

/** Options of {@linkcode AttemptLimit}. */
export interface AttemptLimitOptions {
  /**
   * The most attempts in progress from one address at once.
   *
   * @default {4}
   */
  perAddress?: number;
  /**
   * The most attempts in progress from all addresses together.
   *
   * @default {1024}
   */
  total?: number;
}

/**
 * Counts attempts in progress per address. {@linkcode AttemptLimit.tryStart}
 * admits one unless its address, or everyone together, is at the limit;
 * every admitted attempt ends with one {@linkcode AttemptLimit.finish}. Only
 * addresses with attempts in progress are remembered, so memory is bounded
 * by `total`.
 */
export class AttemptLimit {
  readonly #perAddress: number;
  readonly #total: number;
  readonly #inProgress = new Map<string, number>();
  #count = 0;

  /** Creates a limit with no attempts in progress. */
  constructor(options: AttemptLimitOptions = {}) {
    this.#perAddress = options.perAddress ?? 4;
    this.#total = options.total ?? 1024;
  }

  /** The number of attempts in progress, from all addresses. */
  get size(): number {
    return this.#count;
  }

  /**
   * Starts an attempt from `address` and returns true, or returns false (and
   * starts nothing) when `address` or everyone together is at the limit.
   */
  tryStart(address: string): boolean {
    const current = this.#inProgress.get(address) ?? 0;
    if (current >= this.#perAddress || this.#count >= this.#total) {
      return false;
    }
    this.#inProgress.set(address, current + 1);
    this.#count++;
    return true;
  }

  /** Ends an attempt that {@linkcode AttemptLimit.tryStart} started. */
  finish(address: string): void {
    const current = this.#inProgress.get(address);
    if (current === undefined) return;
    if (current <= 1) this.#inProgress.delete(address);
    else this.#inProgress.set(address, current - 1);
    this.#count--;
  }
}
