/**
 * Shared-secret tokens for both servers and both clients: reading one from a
 * file or an environment variable, comparing in constant time, and the
 * per-address throttle of wrong guesses. No message ever contains a token.
 *
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readNamedFile } from "./files.ts";
import { FailureThrottle, type FailureThrottleOptions } from "./throttle.ts";

/** The longest token accepted, in characters. */
export const MAX_TOKEN_LENGTH = 256;

/** What a token may contain, for messages. */
export const TOKEN_RULE =
  `1 to ${MAX_TOKEN_LENGTH} visible ASCII characters (no spaces)`;

/** Visible ASCII only: it must fit in an HTTP/2 header and in one text line. */
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

/**
 * Checks that `text` is a valid token and returns it; `source` says where it
 * came from (a file or a variable) in the error, which never quotes the token.
 *
 * @throws {RangeError} when the token is empty, too long, or holds spaces,
 * control or non-ASCII characters
 */
export function parseToken(text: string, source: string): string {
  if (text.length > MAX_TOKEN_LENGTH || !TOKEN_PATTERN.test(text)) {
    throw new RangeError(`Invalid token in ${source}: expected ${TOKEN_RULE}`);
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

/**
 * A server's token check: the expected token, compared in constant time, and
 * a {@linkcode FailureThrottle} that blocks an address for a while after each
 * wrong token, so attempts from it are refused unchecked until then.
 */
export class TokenGate {
  /** The expected token's digest, computed once for every check. */
  readonly #digest: Uint8Array;
  readonly #throttle: FailureThrottle;

  /** A gate that lets in clients presenting `token`. */
  constructor(token: string, options: FailureThrottleOptions = {}) {
    this.#digest = digest(token);
    this.#throttle = new FailureThrottle(options);
  }

  /**
   * Checks the token a client at `address` presented (undefined when it
   * presented none) at time `now`. A missing token is a mistake, not a
   * guess, so only a wrong one counts as a failure.
   */
  check(
    address: string,
    presented: string | undefined,
    now: number = Date.now(),
  ): TokenVerdict {
    if (presented === undefined) return { ok: false, reason: "missing token" };
    const wait = this.#throttle.retryAfter(address, now);
    if (wait > 0) {
      return {
        ok: false,
        reason: `too many wrong tokens from this address; retry in ${
          Math.ceil(wait / 100) / 10
        } s`,
      };
    }
    if (timingSafeEqual(digest(presented), this.#digest)) {
      this.#throttle.succeed(address);
      return { ok: true };
    }
    this.#throttle.fail(address, now);
    return { ok: false, reason: "wrong token" };
  }
}
