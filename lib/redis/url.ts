/**
 * Redis URLs: checking one, and describing one without its password for
 * messages.
 *
 * @module
 */

/**
 * Checks a Redis URL: `redis://` or `rediss://`, a host, and at most a
 * database number as its path; returns it unchanged.
 *
 * @throws {RangeError} when it is not such a URL (the message shows it as
 * {@linkcode describeUrl} does, never with a password)
 */
export function parseRedisUrl(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (
    !url || !["redis:", "rediss:"].includes(url.protocol) || !url.hostname ||
    !/^(\/\d*)?$/.test(url.pathname)
  ) {
    throw new RangeError(
      `Invalid Redis URL "${describeUrl(text)}": expected ` +
        `redis://[:PASSWORD@]HOST:PORT[/DB] or rediss://...`,
    );
  }
  return text;
}

/**
 * The URL without its user name and password, for every message that shows
 * a Redis URL: `redis://host:port/db`. Text that is not a valid URL loses
 * everything from its scheme's `//` up to its last `@`.
 */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${
      parsed.pathname === "/" ? "" : parsed.pathname
    }`;
  } catch {
    return url.replace(/^([^@]*?\/\/)?.*@/s, "$1");
  }
}
