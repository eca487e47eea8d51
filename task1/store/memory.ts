/**
 * The in-memory store: the queue engine with nothing behind it, so its items
 * are gone when the process ends.
 *
 * @module
 */
import { QueueEngine, type QueueEngineOptions } from "./engine.ts";

/** Options of {@linkcode MemoryStore}. */
export type MemoryStoreOptions = Pick<
  QueueEngineOptions,
  "maxBytes" | "maxWaitingBytes"
>;

/**
 * A bounded first-in, first-out queue in memory whose puts and pops may
 * wait, as {@linkcode QueueEngine} describes.
 */
export class MemoryStore extends QueueEngine {
  /**
   * Creates an empty store of at most `capacity` items.
   *
   * @throws {RangeError} when `capacity` or a bound is not a positive integer
   */
  constructor(capacity: number, options: MemoryStoreOptions = {}) {
    super(capacity, options);
  }
}
