/**
 * A throttle of failed attempts per client address, with no I/O and no
 * clock of its own: after each failure an address is blocked for a delay
 * that doubles with every further failure, up to a cap, so a secret cannot
 * be guessed at full speed.
 *
 * @module
 */

/** Options of {@linkcode FailureThrottle}. */
export interface FailureThrottleOptions {
  /**
   * How long an address is blocked after its first failure, in
   * milliseconds; each further failure doubles it.
   *
   * @default {100}
   */
  baseDelayMs?: number;
  /**
   * The longest block, in milliseconds.
   *
   * @default {10000}
   */
  maxDelayMs?: number;
  /**
   * How long after its last failure an address's failures are forgotten, in
   * milliseconds; keep it above `maxDelayMs`.
   *
   * @default {600000}
   */
  forgetAfterMs?: number;
  /**
   * The most addresses remembered at once; past it, the address that failed
   * least recently is forgotten first, so memory stays bounded.
   *
   * @default {10000}
   */
  maxAddresses?: number;
}

interface Failures {
  count: number;
  lastFailureAt: number;
  blockedUntil: number;
}

/**
 * Remembers failures per address. Ask {@linkcode FailureThrottle.retryAfter}
 * before checking an attempt; report the outcome with
 * {@linkcode FailureThrottle.fail} or {@linkcode FailureThrottle.succeed}.
 */
export class FailureThrottle {
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #forgetAfterMs: number;
  readonly #maxAddresses: number;
  /** Ordered by last failure, oldest first (re-inserted on each failure). */
  readonly #failures = new Map<string, Failures>();

  /** Creates a throttle that remembers nothing yet. */
  constructor(options: FailureThrottleOptions = {}) {
    this.#baseDelayMs = options.baseDelayMs ?? 100;
    this.#maxDelayMs = options.maxDelayMs ?? 10_000;
    this.#forgetAfterMs = options.forgetAfterMs ?? 600_000;
    this.#maxAddresses = options.maxAddresses ?? 10_000;
  }

  /** The number of addresses remembered. */
  get size(): number {
    return this.#failures.size;
  }

  /**
   * How long `address` must still wait before its next attempt may be
   * checked, in milliseconds; 0 when it may be checked now.
   */
  retryAfter(address: string, now: number): number {
    const failures = this.#failures.get(address);
    return failures === undefined
      ? 0
      : Math.max(0, failures.blockedUntil - now);
  }

  /**
   * Records a failed attempt from `address` at `now` and returns how long it
   * is blocked from then on, in milliseconds.
   */
  fail(address: string, now: number): number {
    this.#forget(now);
    const previous = this.#failures.get(address);
    const count = (previous?.count ?? 0) + 1;
    const delay = Math.min(
      this.#maxDelayMs,
      this.#baseDelayMs * 2 ** Math.min(count - 1, 30),
    );
    this.#failures.delete(address);
    this.#failures.set(address, {
      count,
      lastFailureAt: now,
      blockedUntil: now + delay,
    });
    for (const oldest of this.#failures.keys()) {
      if (this.#failures.size <= this.#maxAddresses) break;
      this.#failures.delete(oldest);
    }
    return delay;
  }

  /** Records a successful attempt from `address`: its failures are forgotten. */
  succeed(address: string): void {
    this.#failures.delete(address);
  }

  /** Drops the addresses whose last failure is older than the forget period. */
  #forget(now: number): void {
    for (const [address, failures] of this.#failures) {
      if (failures.lastFailureAt + this.#forgetAfterMs > now) break;
      this.#failures.delete(address);
    }
  }
}
