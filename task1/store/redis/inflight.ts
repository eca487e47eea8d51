/**
 * How the Redis store pops without losing an item to a lost answer: a pop
 * takes the item into this server's hash of taken items (`take.lua`), and
 * removes it from there (`deliver.lua`) only once the server has the item
 * in hand to answer. An item whose take's answer never came (the
 * connection closed, Redis paused) stays taken until the server recovers
 * (`release.lua`: back to the head of the queue, in the order taken) or,
 * if the server died, until its lease runs out (`lease.lua`). Each recovery
 * starts a new epoch, and a take runs only in the epoch it was sent in, so a
 * take written to a paused Redis's socket that runs after the recovery
 * takes nothing.
 *
 * @module
 */
import { type RedisClient, RedisScript } from "../../../lib/redis/mod.ts";
import { StoreUnavailableError } from "../mod.ts";
import { entryScript } from "./entries.ts";
import type { QueueKeys } from "./keys.ts";
import type { Reachability } from "./recovery.ts";
import DELIVER from "./deliver.lua" with { type: "text" };
import RELEASE from "./release.lua" with { type: "text" };
import TAKE from "./take.lua" with { type: "text" };
import UNTAKE from "./untake.lua" with { type: "text" };

/** The error of a pop whose caller was gone before its item was delivered. */
const CALLER_GONE = new DOMException("The caller gave up", "AbortError");

/** This server's items in flight: taken from the queue, not answered yet. */
export class InFlight {
  readonly #client: RedisClient;
  readonly #keys: QueueKeys;
  readonly #reachability: Reachability;
  readonly #id: string;
  readonly #scripts = {
    deliver: entryScript(DELIVER),
    release: new RedisScript(RELEASE),
    take: entryScript(TAKE),
    untake: new RedisScript(UNTAKE),
  };
  #epoch = "";
  #takes = 0;
  /** Takes answered to their callers whose delivery's answer was lost. */
  readonly #answered = new Set<string>();
  /** Takes whose delivery's answer was lost and whose caller was gone. */
  readonly #unanswered = new Map<string, string>();

  /** The items in flight of server `id` on the queue at `keys`. */
  constructor(
    client: RedisClient,
    keys: QueueKeys,
    { id, reachability }: { id: string; reachability: Reachability },
  ) {
    this.#client = client;
    this.#keys = keys;
    this.#id = id;
    this.#reachability = reachability;
  }

  /**
   * Takes the head of `list` (the items, or this server's in-flight list)
   * and delivers it: resolves to the item once it is no longer in Redis, or
   * to undefined when the list is empty. When `gone()` says the caller left
   * before the item was delivered, the item goes back to the head and this
   * rejects with an `AbortError`.
   *
   * @throws {StoreUnavailableError} when Redis is unreachable; an item it
   * took then goes back to the head once Redis is back
   */
  async pop(list: string, gone: () => boolean): Promise<string | undefined> {
    const keys = this.#keys;
    const take = String(++this.#takes);
    const epoch = this.#epoch;
    let taken: unknown;
    try {
      taken = await this.#reachability.command(() =>
        this.#scripts.take.run(
          this.#client,
          [list, keys.taken, keys.epoch],
          [epoch, take],
        )
      );
    } catch (error: unknown) {
      // A stale take in the current epoch: the epoch itself is gone, as
      // another server returned this one's items when its lease ran out
      // (it was stalled that long). A new epoch lets it take again.
      const { message } = error as Error;
      if (message.includes("STALE") && epoch === this.#epoch) {
        this.recover().catch(() => {});
      }
      throw error;
    }
    if (taken === null) return undefined;
    const item = String(taken);
    if (gone()) {
      // If this fails too, the item is still taken: the recovery returns it.
      await this.#scripts.untake.run(
        this.#client,
        [keys.items, keys.taken],
        [take],
      ).catch(() => {});
      throw CALLER_GONE;
    }
    let delivered: unknown;
    try {
      delivered = await this.#reachability.command(() =>
        this.#scripts.deliver.run(
          this.#client,
          [keys.taken, keys.meta, keys.putWait],
          [take, keys.room],
        )
      );
    } catch {
      // Whether the delivery ran is unknown; the recovery settles it.
      if (gone()) {
        this.#unanswered.set(take, item);
        throw CALLER_GONE;
      }
      this.#answered.add(take);
      return item;
    }
    if (delivered === 0) {
      throw new StoreUnavailableError(
        this.#reachability.line("the item went back to the queue"),
      );
    }
    return item;
  }

  /**
   * Returns the items this server's blocking pops moved out of the queue
   * and that nobody waits for any more to the head. Its errors are Redis's.
   */
  async returnMoved(): Promise<void> {
    await this.#client.lMove(
      this.#keys.inflight,
      this.#keys.items,
      "RIGHT",
      "LEFT",
    );
  }

  /**
   * Makes this server's items in flight whole after an outage (or at start):
   * delivers again those already answered, returns every other one to the
   * head of the queue in the order taken, and starts a new epoch. Its errors
   * are Redis's own.
   */
  async recover(): Promise<void> {
    await this.#release(crypto.randomUUID());
  }

  /** Like {@linkcode recover}, then drops this server's lease: it stops. */
  async leave(): Promise<void> {
    await this.#release("");
  }

  async #release(epoch: string): Promise<void> {
    const keys = this.#keys;
    for (const take of this.#answered) {
      await this.#scripts.deliver.run(
        this.#client,
        [keys.taken, keys.meta, keys.putWait],
        [take, keys.room],
      );
      this.#answered.delete(take);
    }
    const unanswered = [...this.#unanswered].flat();
    await this.#scripts.release.run(
      this.#client,
      [
        keys.items,
        keys.taken,
        keys.inflight,
        keys.epoch,
        keys.servers,
        keys.meta,
      ],
      [this.#id, epoch, ...unanswered],
    );
    for (let i = 0; i < unanswered.length; i += 2) {
      this.#unanswered.delete(unanswered[i]!);
    }
    this.#epoch = epoch;
  }
}
