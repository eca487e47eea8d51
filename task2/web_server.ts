/**
 * The roster's web side, for `roster-server --web`: HTTP (or HTTPS) with
 * `Deno.serve`, `GET /` the page (`roster_page.html`, from the module graph)
 * and `GET /roster` upgraded to a WebSocket whose client joins the same
 * roster as the TCP clients, through the {@linkcode RosterHub}.
 *
 * An upgrade whose `Origin` is neither the page's own origin nor allowed is
 * refused with 403, so another site cannot join on a visitor's behalf; an
 * upgrade without `Origin` (not a browser) is allowed.
 *
 * @module
 */
import { formatHostPort } from "../lib/address.ts";
import { Deadlines } from "../lib/deadlines.ts";
import type { ServerTls } from "../lib/tls.ts";
import type { TokenGate } from "../lib/token.ts";
import ROSTER_PAGE from "./roster_page.html" with { type: "text" };
import type { RosterHub } from "./roster_server.ts";
import { DrainWatch, runWebSession } from "./web_connection.ts";
import { GOING_AWAY, LineMessages, ROSTER_PATH } from "./web_protocol.ts";

/** Options of {@linkcode openWebServer}. */
export interface WebServerOptions {
  /** The address to listen on. */
  hostname: string;
  /** The port to listen on; 0 picks a free one. */
  port: number;
  /** Aborting it closes the server and every WebSocket (code 1001). */
  signal: AbortSignal;
  /** Serve HTTPS and `wss://` with this certificate and key. */
  tls?: ServerTls | undefined;
  /** Require a `TOKEN` message before the name. */
  token?: TokenGate | undefined;
  /**
   * How long a client may take from the upgrade to its name, in ms.
   *
   * @default {10000}
   */
  handshakeTimeoutMs?: number;
  /**
   * The most unsent bytes kept for one client; past it only the newest roster.
   *
   * @default {65536}
   */
  maxPendingBytes?: number;
  /**
   * Origins allowed besides the page's own (`*` allows every one), as
   * returned by {@linkcode parseOrigin}.
   *
   * @default {[]}
   */
  allowedOrigins?: readonly string[];
}

/**
 * Checks a `--web-origin` value: `*`, or an origin such as
 * `https://example.com` or `http://localhost:8080`, returned normalized.
 *
 * @throws {RangeError} when it is neither
 */
export function parseOrigin(text: string): string {
  if (text === "*") return text;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    // Reported below.
  }
  if (
    url === undefined || !/^https?:$/.test(url.protocol) ||
    url.origin !== text.replace(/\/$/, "").toLowerCase()
  ) {
    throw new RangeError(
      `Invalid origin "${text}": expected "*" or SCHEME://HOST[:PORT], as in https://example.com`,
    );
  }
  return url.origin;
}

/**
 * Whether a WebSocket upgrade with the `Origin` header `origin` (null when
 * absent) may join a page served at `ownOrigin`.
 */
export function isOriginAllowed(
  origin: string | null,
  ownOrigin: string,
  allowed: readonly string[],
): boolean {
  if (origin === null) return true;
  const normalized = origin.toLowerCase();
  return normalized === ownOrigin || allowed.includes("*") ||
    allowed.includes(normalized);
}

/** A running web server; {@linkcode WebServer.attach} gives it the roster. */
export class WebServer {
  /** The page's URL, such as `http://127.0.0.1:8080/`. */
  readonly url: string;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #sockets = new Set<WebSocket>();
  readonly #sessions = new Set<Promise<void>>();
  readonly #options: WebServerOptions;
  readonly #deadlines = new Deadlines();
  readonly #messages = new LineMessages();
  readonly #drain = new DrainWatch();
  #hub: RosterHub | undefined;

  /** Listens as `options` say; throws when it cannot. */
  constructor(options: WebServerOptions) {
    this.#options = options;
    const { hostname, port, tls, signal } = options;
    this.#server = Deno.serve({
      hostname,
      port,
      signal,
      ...(tls ?? {}),
      onListen: () => {},
    }, this.#handle);
    const bound = this.#server.addr;
    this.url = `${tls ? "https" : "http"}://${
      formatHostPort(bound.hostname, bound.port)
    }/`;
    signal.addEventListener("abort", () => this.#closeAll(), { once: true });
  }

  /**
   * Joins the WebSocket clients to `hub`'s roster; resolves once the server
   * has stopped and every WebSocket has closed.
   */
  readonly attach = async (hub: RosterHub): Promise<void> => {
    this.#hub = hub;
    await this.#server.finished;
    while (this.#sessions.size > 0) await Promise.all(this.#sessions);
    this.#deadlines.clear();
    this.#drain.stop();
  };

  #closeAll(): void {
    for (const socket of this.#sockets) {
      try {
        socket.close(GOING_AWAY);
      } catch {
        // Not open yet, or closed already.
      }
    }
  }

  readonly #handle = (
    request: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ): Response => {
    const url = new URL(request.url);
    if (url.pathname === "/") {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return new Response("Method not allowed\n", { status: 405 });
      }
      return new Response(ROSTER_PAGE, {
        headers: {
          "content-type": "text/html; charset=utf-8",
          "cache-control": "no-cache",
        },
      });
    }
    if (url.pathname !== ROSTER_PATH) {
      return new Response("Not found\n", { status: 404 });
    }
    return this.#upgrade(request, url, info.remoteAddr.hostname);
  };

  #upgrade(request: Request, url: URL, remoteHost: string): Response {
    const hub = this.#hub;
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Expected a WebSocket upgrade\n", { status: 426 });
    }
    const allowed = this.#options.allowedOrigins ?? [];
    if (!isOriginAllowed(request.headers.get("origin"), url.origin, allowed)) {
      return new Response("Origin not allowed\n", { status: 403 });
    }
    if (hub === undefined || this.#options.signal.aborted) {
      return new Response("Not serving\n", { status: 503 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    this.#sockets.add(socket);
    const session = runWebSession(socket, remoteHost, {
      hub,
      token: this.#options.token,
      handshakeTimeoutMs: this.#options.handshakeTimeoutMs ?? 10_000,
      maxPendingBytes: this.#options.maxPendingBytes ?? 64 * 1024,
      deadlines: this.#deadlines,
      messages: this.#messages,
      drain: this.#drain,
    }).finally(() => {
      this.#sockets.delete(socket);
      this.#sessions.delete(session);
    });
    this.#sessions.add(session);
    return response;
  }
}
