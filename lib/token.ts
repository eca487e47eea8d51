/**
 * Shared-secret tokens for both servers and both clients: reading one from a
 * file or an environment variable, comparing in constant time, and the
 * servers' gate that slows wrong tokens down. No message ever contains a
 * token.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readNamedFile } from "./files.ts";
import { AttemptLimit, type AttemptLimitOptions } from "./throttle.ts";

/**
 * The shortest token accepted, in characters: short enough for a 128-bit
 * random token in hex, long enough that no short password fits.
 */
export const MIN_TOKEN_LENGTH = 32;

/** The longest token accepted, in characters. */
export const MAX_TOKEN_LENGTH = 256;

/** What a token may contain, for messages. */
export const TOKEN_RULE =
  `${MIN_TOKEN_LENGTH} to ${MAX_TOKEN_LENGTH} visible ASCII characters (no spaces)`;

/** How to make a good token, for messages. */
const TOKEN_ADVICE = "make one with: openssl rand -hex 32";

/** Visible ASCII only: it must fit in an HTTP/2 header and in one text line. */
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

/**
 * Checks that `text` is a valid token and returns it; `source` says where it
 * came from (a file or a variable) in the error, which never quotes the token.
 *
 * @throws {RangeError} when the token is shorter than
 * {@linkcode MIN_TOKEN_LENGTH}, too long, or holds spaces, control or
 * non-ASCII characters
 */
export function parseToken(text: string, source: string): string {
  if (text.length > MAX_TOKEN_LENGTH || !TOKEN_PATTERN.test(text)) {
    throw new RangeError(`Invalid token in ${source}: expected ${TOKEN_RULE}`);
  }
  if (text.length < MIN_TOKEN_LENGTH) {
    throw new RangeError(
      `Invalid token in ${source}: too short, expected ${TOKEN_RULE} (${TOKEN_ADVICE})`,
    );
  }
  return text;
}

/**
 * Reads the token from the first line of the file at `path` (without its
 * "\n" or "\r\n"; the rest of the file is ignored).
 *
 * @throws {Error} when the file cannot be read or its first line is not a
 * valid token
 */
export async function readTokenFile(path: string): Promise<string> {
  const text = await readNamedFile(path, "token file");
  const firstLine = text.split("\n", 1)[0]!.replace(/\r$/, "");
  return parseToken(firstLine, `token file "${path}"`);
}

/**
 * The client's token: from the file at `tokenFile` when given, else from the
 * environment variable `variable` when set and not empty, else undefined.
 *
 * @throws {Error} when the file cannot be read or the token is invalid
 */
export async function clientToken(
  tokenFile: string | undefined,
  variable: string,
): Promise<string | undefined> {
  if (tokenFile !== undefined) return await readTokenFile(tokenFile);
  const text = Deno.env.get(variable);
  if (text === undefined || text === "") return undefined;
  return parseToken(text, `environment variable ${variable}`);
}

/**
 * Whether `presented` equals `expected`, in time that depends on neither:
 * both are hashed with SHA-256 first, so even their lengths stay hidden.
 */
export function tokensEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

function digest(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

/** The outcome of {@linkcode TokenGate.check}: let in, or why not. */
export type TokenVerdict = { ok: true } | { ok: false; reason: string };

/** Options of {@linkcode TokenGate}. */
export interface TokenGateOptions extends AttemptLimitOptions {
  /**
   * How long a wrong token's refusal is held, in milliseconds.
   *
   * @default {1000}
   */
  delayMs?: number;
}

/**
 * A server's token check. The right token is let in at once, whoever else
 * fails. A wrong one is refused only after `delayMs`, so guesses are slow;
 * the refusals being held are bounded per address and in all
 * ({@linkcode AttemptLimit}), and a wrong token past that bound is refused at
 * once, so waiting refusals cannot pile up.
 */
export class TokenGate {
  /** The expected token's digest, computed once for every check. */
  readonly #digest: Uint8Array;
  readonly #delayMs: number;
  readonly #waiting: AttemptLimit;

  /** A gate that lets in clients presenting `token`. */
  constructor(token: string, options: TokenGateOptions = {}) {
    this.#digest = digest(token);
    this.#delayMs = options.delayMs ?? 1000;
    this.#waiting = new AttemptLimit(options);
  }

  /** The number of wrong tokens whose refusal is being held. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /**
   * Checks the token a client at `address` presented (undefined when it
   * presented none). Resolves at once for the right token or a missing one
   * (a mistake, not a guess), and after the delay for a wrong one, unless
   * too many refusals are already held.
   */
  async check(
    address: string,
    presented: string | undefined,
  ): Promise<TokenVerdict> {
    if (presented === undefined) return { ok: false, reason: "missing token" };
    if (timingSafeEqual(digest(presented), this.#digest)) return { ok: true };
    if (!this.#waiting.tryStart(address)) {
      return {
        ok: false,
        reason: "wrong token (refused at once: too many wrong tokens waiting)",
      };
    }
    await new Promise((resolve) => setTimeout(resolve, this.#delayMs));
    this.#waiting.finish(address);
    return { ok: false, reason: "wrong token" };
  }
}
