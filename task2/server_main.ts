/**
 * `roster-server PORT`: the roster server's command line.
 *
 * @module
 */
import {
  formatHostPort,
  type HostPort,
  parseHostPort,
  parsePort,
} from "../lib/address.ts";
import {
  expectPositionals,
  parseArgument,
  parseCommandLine,
  parsePositiveInteger,
  type Program,
  type ProgramContext,
  runProgram,
  UsageError,
} from "../lib/cli.ts";
import {
  readServerSecurity,
  SERVER_SECURITY_OPTIONS,
  serverSecurityUsage,
} from "../lib/flags/security.ts";
import type { ServerTls } from "../lib/tls.ts";
import { readRedisTarget } from "../lib/flags/redis.ts";
import {
  type MetricsServer,
  parseMetricsAddress,
  serveMetrics,
} from "../lib/metrics_http.ts";
import { RedisMembership } from "./cluster/mod.ts";
import type { RosterListener } from "./conn.ts";
import { RosterMetrics } from "./metrics.ts";
import { type RosterChange, serveRoster } from "./roster_server.ts";
import { TlsListener } from "./tls_listener.ts";
import { parseOrigin, WebServer, type WebServerOptions } from "./web_server.ts";

const USAGE =
  `Usage: roster-server PORT [--host ADDR] [--max-clients N] [--max-pending N]
         [--handshake-timeout SECONDS] [--quiet]
         [--tls-cert FILE --tls-key FILE] [--token-file FILE]
                     [--metrics [HOST:]PORT]
                     [--redis URL [--cluster NAME] [--node-ttl SECONDS]
                                  [--redis-ca FILE]]
                     [--web [HOST:]PORT [--web-origin ORIGIN]...]

Tells every connected roster-client the sorted names of all connected clients,
each time one connects or disconnects. Servers given the same --redis and
--cluster share one roster.

Arguments:
  PORT               TCP port to listen on; 0 picks a free one

Options:
  --host ADDR        address to listen on (default 0.0.0.0; :: for IPv6)
  --max-clients N    most clients connected at once (default 10000)
  --max-pending N    most connections still in their handshake (TLS, token,
                     name); one more is closed at once (default 1000)
  --handshake-timeout SECONDS
                     how long a connection may take from its TCP accept to
                     its name, TLS and token included (default 10)
  --quiet            do not log joins and leaves on stderr
  --metrics [HOST:]PORT
                     serve Prometheus metrics on http://HOST:PORT/metrics and
                     health on /healthz (HOST defaults to 127.0.0.1; no TLS,
                     no token: keep it on a private address)
${serverSecurityUsage(21)}
  --redis URL        share the roster with the other servers of the cluster
                     through this Redis (redis://[:PASSWORD@]HOST:PORT[/DB],
                     or rediss:// for TLS)
  --cluster NAME     the cluster's name in Redis (default roster)
  --redis-ca FILE    trust the CA certificates (PEM) in FILE for a rediss://
                     Redis's certificate, instead of the system's
  --node-ttl SECONDS how long a server cut off from Redis stays in the roster;
                     it closes its clients after that long (default 3)
  --web [HOST:]PORT  also serve the roster page and WebSocket clients over
                     HTTP (HTTPS with --tls-cert) on this address; HOST
                     defaults to --host
  --web-origin ORIGIN
                     also let pages from ORIGIN (such as https://example.com)
                     join over WebSocket; repeatable; "*" allows every origin
  -h, --help         show this help

The first line on stderr says where the server listens; with --web, the next
one gives the page's URL. SIGINT or SIGTERM
closes every connection and exits 0. With --token-file, a client sends
"TOKEN <token>" and a newline before its name.`;

const SIGNS = { join: "+", leave: "-", sync: "=" } as const;

function logChange({ kind, name, online }: RosterChange): void {
  const what = kind === "sync" ? "roster read from Redis" : name;
  console.error(`${SIGNS[kind]} ${what} (${online} online)`);
}

function logStatus(message: string): void {
  console.error(`cluster: ${message}`);
}

const CLUSTER_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Checks a cluster name: 1 to 64 letters, digits, "_", "." or "-". */
function parseClusterName(text: string): string {
  if (!CLUSTER_PATTERN.test(text)) {
    throw new RangeError(
      `Invalid cluster name "${text}": expected 1 to 64 letters, digits, "_", "." or "-"`,
    );
  }
  return text;
}

/** Why listening failed, in words. */
function describeListenError(error: unknown): string {
  return error instanceof Deno.errors.AddrInUse
    ? "address already in use"
    : error instanceof Error
    ? error.message
    : String(error);
}

/**
 * Parses `--web`'s value: `HOST:PORT`, or a bare port on `host` (--host).
 */
function parseWebAddress(text: string, host: string): HostPort {
  if (!text.includes(":")) return { hostname: host, port: parsePort(text) };
  const colon = text.lastIndexOf(":");
  // parseHostPort refuses port 0, which picks a free port here.
  const { hostname } = parseHostPort(text.slice(0, colon) + ":1");
  return { hostname, port: parsePort(text.slice(colon + 1)) };
}

/**
 * Listens on `host`:`port`, with TLS when `tls` is given, explaining in one
 * line why it cannot.
 */
function listen(
  host: string,
  port: number,
  tls?: ServerTls,
): RosterListener {
  try {
    return tls === undefined
      ? Deno.listen({ hostname: host, port })
      : new TlsListener(Deno.listen({ hostname: host, port }), tls);
  } catch (error: unknown) {
    const reason = describeListenError(error);
    throw new Error(
      `Cannot listen on "${formatHostPort(host, port)}": ${reason}`,
    );
  }
}

/** Starts the web server, explaining in one line why it cannot. */
function openWeb(options: WebServerOptions): WebServer {
  try {
    return new WebServer(options);
  } catch (error: unknown) {
    const reason = describeListenError(error);
    throw new Error(
      `Cannot serve the web page on "${
        formatHostPort(options.hostname, options.port)
      }": ${reason}`,
    );
  }
}

async function main(
  args: string[],
  { signal }: ProgramContext,
): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    host: { type: "string", default: "0.0.0.0" },
    "max-clients": { type: "string", default: "10000" },
    "max-pending": { type: "string", default: "1000" },
    "handshake-timeout": { type: "string", default: "10" },
    quiet: { type: "boolean", default: false },
    metrics: { type: "string" },
    redis: { type: "string" },
    "redis-ca": { type: "string" },
    cluster: { type: "string" },
    "node-ttl": { type: "string" },
    web: { type: "string" },
    "web-origin": { type: "string", multiple: true },
    help: { type: "boolean", short: "h", default: false },
    ...SERVER_SECURITY_OPTIONS,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  expectPositionals(positionals, ["PORT"]);
  const port = parseArgument(positionals[0]!, parsePort);
  const maxClients = parsePositiveInteger(
    values["max-clients"],
    "--max-clients",
  );
  const maxPending = parsePositiveInteger(
    values["max-pending"],
    "--max-pending",
  );
  const handshakeTimeoutMs = 1000 *
    parsePositiveInteger(values["handshake-timeout"], "--handshake-timeout");
  const { host } = values;
  const { tls, token, warning } = await readServerSecurity(values, host);
  if (values.redis === undefined) {
    if (values.cluster !== undefined || values["node-ttl"] !== undefined) {
      throw new UsageError("--cluster and --node-ttl need --redis");
    }
  }
  const web = values.web === undefined
    ? undefined
    : parseArgument(values.web, (text) => parseWebAddress(text, host));
  const webOrigins = (values["web-origin"] ?? []).map((text) =>
    parseArgument(text, parseOrigin)
  );
  if (web === undefined && webOrigins.length > 0) {
    throw new UsageError("--web-origin needs --web");
  }
  const redis = await readRedisTarget(values);
  const cluster = parseArgument(values.cluster ?? "roster", parseClusterName);
  const nodeTtlMs = 1000 *
    parsePositiveInteger(values["node-ttl"] ?? "3", "--node-ttl");
  const metricsAddress = values.metrics === undefined
    ? undefined
    : parseArgument(values.metrics, parseMetricsAddress);

  const membership = redis === undefined
    ? undefined
    : await RedisMembership.connect(redis.url, {
      cluster,
      nodeTtlMs,
      onStatus: logStatus,
      ca: redis.ca,
    });
  const metrics = metricsAddress === undefined
    ? undefined
    : new RosterMetrics(membership ? { cluster: membership } : {});
  let metricsServer: MetricsServer | undefined;
  try {
    const listener = listen(host, port, tls);
    if (metrics && metricsAddress) {
      try {
        metricsServer = serveMetrics(
          metrics.registry,
          () => metrics.health(),
          metricsAddress,
        );
      } catch (error: unknown) {
        listener.close();
        throw error;
      }
    }
    const { hostname, port: boundPort } = listener.addr as Deno.NetAddr;
    console.error(
      `roster-server listening on ${formatHostPort(hostname, boundPort)}`,
    );
    const webServer = web === undefined ? undefined : openWeb({
      ...web,
      signal,
      tls,
      token,
      handshakeTimeoutMs,
      allowedOrigins: webOrigins,
    });
    if (webServer) console.error(`roster-server web page on ${webServer.url}`);
    if (metricsServer) {
      console.error(`roster-server metrics on ${metricsServer.url}`);
    }
    if (warning !== undefined) console.error(warning);
    await serveRoster(listener, {
      ...(webServer ? { attach: [webServer.attach] } : {}),
      ...(token === undefined ? {} : { token }),
      signal,
      maxClients,
      maxPending,
      handshakeTimeoutMs,
      ...(membership ? { membership } : {}),
      ...(values.quiet ? {} : { onChange: logChange }),
      ...(metrics ? { metrics } : {}),
    });
  } finally {
    await membership?.close();
    await metricsServer?.close();
  }
  return 0;
}

/** The roster server program. */
export const rosterServer: Program = { usage: USAGE, main };

if (import.meta.main) await runProgram(rosterServer);
