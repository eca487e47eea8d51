/**
 * Outage recovery for the Redis store: whether Redis is reachable, the error
 * every call gets while it is not, and the steps that make the store serve
 * again once the command connection is back.
 *
 * @module
 */
import { describeUrl, type RedisClient } from "../../../lib/redis/mod.ts";
import { StoreClosedError, StoreUnavailableError } from "../mod.ts";

/** What {@linkcode Reachability} watches and what it runs on a change. */
export interface ReachabilityParts {
  /** The Redis URL, for messages (its password is never shown). */
  url: string;
  /** Aborted when the store closes: nothing is recovered after that. */
  closing: AbortSignal;
  /**
   * Makes the store whole again once Redis is back (its settings stored,
   * this server's in-flight item returned); rejects while Redis cannot.
   */
  recover: () => Promise<void>;
  /** Called with the error every waiting call gets when Redis is lost. */
  lost: (error: StoreUnavailableError) => void;
}

/**
 * Whether Redis is reachable, as the command connection sees it: when the
 * connection fails every call fails at once with a
 * {@linkcode StoreUnavailableError}, until the connection is ready again
 * and the store has recovered.
 */
export class Reachability {
  readonly #client: RedisClient;
  readonly #parts: ReachabilityParts;
  readonly #listeners: ((available: boolean) => void)[] = [];
  /** Why Redis is unreachable, while it is; undefined while it serves. */
  #unreachable: string | undefined;
  #recovering = false;

  /** Watches `client` once {@linkcode Reachability.watch} is called. */
  constructor(client: RedisClient, parts: ReachabilityParts) {
    this.#client = client;
    this.#parts = parts;
  }

  /** Why Redis is unreachable, while it is; undefined while it serves. */
  get unreachable(): string | undefined {
    return this.#unreachable;
  }

  /** Starts following the command connection's errors and reconnections. */
  watch(): void {
    this.#client.on("error", (error: Error) => this.#lost(error.message));
    this.#client.on("end", () => this.#lost("connection closed"));
    this.#client.on("ready", () => this.#found());
  }

  /** Calls `listener` when Redis becomes unreachable and when it is back. */
  onChange(listener: (available: boolean) => void): void {
    this.#listeners.push(listener);
  }

  /** Throws a {@linkcode StoreUnavailableError} while Redis is unreachable. */
  check(): void {
    if (this.#unreachable !== undefined) {
      throw new StoreUnavailableError(this.#unreachable);
    }
  }

  /** The one line saying that Redis is unreachable, and why. */
  line(reason: string): string {
    return `Redis at "${
      describeUrl(this.#parts.url)
    }" is unreachable: ${reason}`;
  }

  /** Runs a Redis command; a failure means Redis is unreachable. */
  async command<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error: unknown) {
      if (this.#parts.closing.aborted) {
        throw new StoreClosedError("The queue is shutting down");
      }
      const reason = error instanceof Error ? error.message : String(error);
      // A script's own error (a bug, or a key of the wrong type) is not an
      // outage: it reaches the caller as an internal error.
      if (/^(ERR|WRONGTYPE)/.test(reason)) throw error;
      throw new StoreUnavailableError(this.#unreachable ?? this.line(reason));
    }
  }

  /** Redis is unreachable: every call fails at once until it is back. */
  #lost(reason: string): void {
    if (this.#parts.closing.aborted || this.#unreachable !== undefined) return;
    this.#unreachable = this.line(reason);
    this.#parts.lost(new StoreUnavailableError(this.#unreachable));
    for (const listener of this.#listeners) listener(false);
  }

  /**
   * Redis is back: recovers (the settings stored again if Redis lost them,
   * this server's in-flight item returned), then serves again.
   */
  async #found(): Promise<void> {
    if (this.#recovering) return;
    this.#recovering = true;
    try {
      // A Redis still loading its data answers LOADING for a while: retry
      // while the connection stays up (a new one brings a new "ready").
      while (
        !this.#parts.closing.aborted && this.#unreachable !== undefined &&
        this.#client.isReady
      ) {
        try {
          await this.#parts.recover();
          this.#unreachable = undefined;
          for (const listener of this.#listeners) listener(true);
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    } finally {
      this.#recovering = false;
    }
  }
}
