/**
 * The scripts that read the items list, whose entries may carry a lease's
 * details (`entries.lua`): each is run with those helpers in front of it.
 *
 * @module
 */
import { RedisScript } from "../../../lib/redis/mod.ts";
import ENTRIES from "./entries.lua" with { type: "text" };

/** A script whose Lua `source` uses the helpers of `entries.lua`. */
export function entryScript(source: string): RedisScript {
  return new RedisScript(ENTRIES + source);
}
