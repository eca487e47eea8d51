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
 * @throws {RangeError} when it is not such a URL (the message never shows a
 * password)
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
      `Invalid Redis URL "${url ? describeUrl(text) : text}": expected ` +
        `redis://[:PASSWORD@]HOST:PORT[/DB] or rediss://...`,
    );
  }
  return text;
}

/** The URL without its password, for messages: `redis://host:port/db`. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${
      parsed.pathname === "/" ? "" : parsed.pathname
    }`;
  } catch {
    return "(an invalid URL)";
  }
}
