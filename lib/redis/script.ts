/**
 * Server-side Redis scripts run by their SHA-1 (`EVALSHA`), sent whole
 * (`EVAL`, which also caches them) only when Redis does not know them yet,
 * after a start or a restart. Each script lives in its own `.lua` file,
 * imported as text so the programs carry it in their module graph.
 *
 * @module
 */
import type { RedisClient } from "./client.ts";

/** One Lua script; {@linkcode RedisScript.run} runs it on a client. */
export class RedisScript {
  readonly #source: string;
  /** One promise, so that calls made before it resolves keep their order. */
  #sha: Promise<string> | undefined;

  /** Wraps the script's Lua `source`. */
  constructor(source: string) {
    this.#source = source;
  }

  /**
   * Runs the script with `keys` and `args` by hash, falling back to sending
   * it whole when Redis answers `NOSCRIPT`, and resolves to its reply as
   * Redis sent it (a number, a string, null or an array of them).
   */
  async run(
    client: RedisClient,
    keys: string[],
    args: (string | number)[],
  ): Promise<unknown> {
    // The command as Redis reads it, without the client's command parsers:
    // those cost about as much again per call as the command itself.
    const command = ["EVALSHA", "", String(keys.length)];
    for (const key of keys) command.push(key);
    for (const arg of args) command.push(String(arg));
    command[1] = await (this.#sha ??= sha1(this.#source));
    try {
      return await client.sendCommand(command);
    } catch (error: unknown) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) {
        throw error;
      }
      command[0] = "EVAL";
      command[1] = this.#source;
      return await client.sendCommand(command);
    }
  }
}

/** The hexadecimal SHA-1 of `text`, as Redis names scripts. */
async function sha1(text: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-1",
    new TextEncoder().encode(text),
  );
  return Array.from(
    new Uint8Array(digest),
    (byte) => byte.toString(16).padStart(2, "0"),
  ).join("");
}
