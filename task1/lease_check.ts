/**
 * Commands in order around a one-time check that the server has leases:
 * the first lease command waits for the check, and every command after it
 * waits behind, so none overtakes it. No I/O of its own.
 *
 * @module
 */
import { LeasesUnsupportedError } from "./queue_client.ts";

/**
 * Runs sends in the order given, checking once (with `check`) that the
 * server has leases before the first send that needs them. A send that needs
 * leases rejects with {@linkcode LeasesUnsupportedError} when the server has
 * none, or with the check's error when the check failed (the next one checks
 * again). A server without leases would ignore a leasing Pop's lease and
 * remove the item for good, so the check must come first.
 */
export class LeaseCheck<T> {
  readonly #check: () => Promise<boolean>;
  /** Whether the server has leases, once checked. */
  #leases: boolean | undefined;
  /** Sends held back while the check runs, in order; else undefined. */
  #held: (() => void)[] | undefined;

  /** Checks with `check`, which resolves to whether the server has leases. */
  constructor(check: () => Promise<boolean>) {
    this.#check = check;
  }

  /**
   * Calls `send` once every earlier send has been made, and, if `leasing`,
   * once the server is known to have leases; resolves to its result.
   */
  run(leasing: boolean, send: () => Promise<T>): Promise<T> {
    const held = this.#held;
    if (held !== undefined) {
      const { promise, resolve } = Promise.withResolvers<T>();
      held.push(() => resolve(this.run(leasing, send)));
      return promise;
    }
    if (!leasing || this.#leases === true) return send();
    if (this.#leases === false) {
      return Promise.reject(new LeasesUnsupportedError());
    }
    return this.#checkThen(send);
  }

  /** Checks, holding back the sends made meanwhile, then makes them all. */
  async #checkThen(send: () => Promise<T>): Promise<T> {
    const held: (() => void)[] = [];
    this.#held = held;
    let failure: { error: unknown } | undefined;
    try {
      this.#leases = await this.#check();
    } catch (error: unknown) {
      failure = { error };
    }
    this.#held = undefined;
    const result = failure === undefined
      ? this.run(true, send)
      : Promise.reject(failure.error);
    for (const next of held) next();
    return await result;
  }
}
