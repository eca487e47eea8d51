/**
 * Parsing of the `PORT` and `HOST:PORT` arguments that every program takes.
 *
 * @module
 */

/** A host and port to connect to, as parsed from `HOST:PORT`. */
export interface HostPort {
  /** An IPv4 address, a host name, or an IPv6 address without brackets. */
  hostname: string;
  /** A TCP port from 1 to 65535. */
  port: number;
}

const PORT_PATTERN = /^\d{1,5}$/;
const HOST_NAME_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const IPV6_PATTERN = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;

/**
 * Parses a TCP port to listen on: an integer from 0 to 65535, where 0 asks the
 * system for a free port.
 *
 * @throws {RangeError} when the text is not such an integer
 */
export function parsePort(text: string): number {
  const port = PORT_PATTERN.test(text) ? Number(text) : NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new RangeError(
      `Invalid port "${text}": expected an integer from 0 to 65535`,
    );
  }
  return port;
}

/**
 * Parses `HOST:PORT`, where HOST is an IPv4 address, a host name, or an IPv6
 * address in brackets (`[::1]:5555`), and PORT is from 1 to 65535.
 *
 * @throws {RangeError} when the text is not of that form
 */
export function parseHostPort(text: string): HostPort {
  const fail = (why: string): never => {
    throw new RangeError(`Cannot parse address "${text}": ${why}`);
  };
  const colon = text.lastIndexOf(":");
  if (colon < 0) return fail("missing port (expected HOST:PORT)");
  let hostname = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (hostname.startsWith("[") && hostname.endsWith("]")) {
    hostname = hostname.slice(1, -1);
    if (!hostname.includes(":") || !IPV6_PATTERN.test(hostname)) {
      return fail("invalid IPv6 address in brackets");
    }
  } else if (hostname.includes(":")) {
    return fail("an IPv6 address must be in brackets, as in [::1]:5555");
  } else if (hostname === "") {
    return fail("missing host");
  } else if (!HOST_NAME_PATTERN.test(hostname)) {
    return fail("invalid host");
  }
  const port = PORT_PATTERN.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    return fail("port must be an integer from 1 to 65535");
  }
  return { hostname, port };
}

/** Formats a host and port for messages and URLs, bracketing IPv6 addresses. */
export function formatHostPort(hostname: string, port: number): string {
  return hostname.includes(":")
    ? `[${hostname}]:${port}`
    : `${hostname}:${port}`;
}

/**
 * Whether `hostname` only reaches this machine: `localhost`, an address in
 * 127.0.0.0/8, or `::1`. `0.0.0.0` and `::` (every interface) do not count.
 */
export function isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^::ffff:/, "");
  return host === "localhost" || host === "::1" ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
