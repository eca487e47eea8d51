/**
 * The seed's example sessions, verbatim, shared by the unit and end-to-end
 * tests.
 *
 * @module
 */

/** The seed's queue session (size 3): each line typed and its answer. */
export const QUEUE_SEED_SESSION: readonly (readonly [string, string])[] = [
  ["put A", "True"],
  ["put B", "True"],
  ["put C", "True"],
  ["put D", "False"],
  ["size", "3"],
  ["peek", "A"],
  ["size", "3"],
  ["pop", "A"],
  ["pop", "B"],
  ["size", "1"],
  ["pop", "C"],
  ["pop", "Queue is empty"],
  ["peek", "Queue is empty"],
];
