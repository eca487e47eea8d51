/**
 * `roster-client HOST:PORT NAME`: the roster client's command line.
 *
 * @module
 */
import {
  formatHostPort,
  type HostPort,
  parseHostPort,
} from "../lib/address.ts";
import {
  expectPositionals,
  parseArgument,
  parseCommandLine,
  type Program,
  type ProgramContext,
  runProgram,
  UsageError,
} from "../lib/cli.ts";
import { readLines } from "../lib/lines.ts";
import {
  CLIENT_SECURITY_OPTIONS,
  type ClientSecurity,
  clientSecurityUsage,
  readClientSecurity,
} from "../lib/flags/security.ts";
import { closeQuietly } from "./_close_quietly.ts";
import { ERROR_LINE_PREFIX, isValidName, NAME_RULE } from "./protocol.ts";
import { connectRoster } from "./roster_client.ts";
import { followRoster } from "./reconnecting_client.ts";

const USAGE = `Usage: roster-client HOST:PORT[,HOST:PORT...] NAME [--reconnect]
         [--tls | --ca FILE] [--server-name NAME] [--token-file FILE]

Joins the roster server under NAME and prints every roster it sends: the
sorted names of all connected clients, one line each time the roster changes.

Arguments:
  HOST:PORT    the server; HOST is an IPv4 address, a host name or [IPv6];
               with --reconnect, a comma-separated list of servers
  NAME         1 to 20 letters or digits, unique on the server

Options:
  --reconnect         when the connection drops, join again with the same
                      name through the next server of the list (waiting
                      0.1 s, doubling to 2 s, after a failed connection; every
                      0.5 s while the name is still held); one line on stderr
                      per reconnect
${clientSecurityUsage("ROSTER_TOKEN", 22)}
  -h, --help          show this help

Exits 0 on SIGINT or SIGTERM, 1 if the server refuses the name or closes the
connection (with --reconnect: if the first connection is refused, or no
server answers it), 2 on a usage error.`;

/**
 * Whether `line` starts like a TLS record (an alert or a handshake, then
 * version 3.x), which a roster line never does.
 */
function isTlsRecord(line: string): boolean {
  const type = line.charCodeAt(0);
  return (type === 0x15 || type === 0x16) && line.charCodeAt(1) === 0x03;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function main(
  args: string[],
  { signal }: ProgramContext,
): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    reconnect: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
    ...CLIENT_SECURITY_OPTIONS,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  expectPositionals(positionals, ["HOST:PORT", "NAME"]);
  const addresses = positionals[0]!.split(",").map((text) =>
    parseArgument(text, parseHostPort)
  );
  const name = positionals[1]!;
  if (!isValidName(name)) {
    throw new UsageError(`Invalid name "${name}": ${NAME_RULE}`);
  }
  if (addresses.length > 1 && !values.reconnect) {
    throw new UsageError("A list of servers needs --reconnect");
  }
  const security = await readClientSecurity(values, "ROSTER_TOKEN");
  if (values.reconnect) {
    return await reconnecting(addresses, name, { signal, security });
  }
  const address = addresses[0]!;
  const where = formatHostPort(address.hostname, address.port);

  let conn: Deno.Conn;
  try {
    conn = await connectRoster(address, name, { signal, ...security });
  } catch (error: unknown) {
    if (signal.aborted) return 0;
    console.error(`error: Cannot connect to "${where}": ${describe(error)}`);
    return 1;
  }
  const close = () => closeQuietly(conn);
  signal.addEventListener("abort", close, { once: true });
  try {
    for await (const line of readLines(conn.readable)) {
      if (line.startsWith(ERROR_LINE_PREFIX)) {
        console.error(line);
        return 1;
      }
      if (isTlsRecord(line)) {
        console.error(
          `error: Server "${where}" speaks TLS: connect with --tls or --ca`,
        );
        return 1;
      }
      console.log(line);
    }
    console.error(`error: Server "${where}" closed the connection`);
  } catch (error: unknown) {
    if (signal.aborted) return 0;
    console.error(
      `error: Lost the connection to "${where}": ${describe(error)}`,
    );
  } finally {
    signal.removeEventListener("abort", close);
    close();
  }
  return 1;
}

/** Runs `--reconnect`, printing as the plain client does. */
async function reconnecting(
  addresses: HostPort[],
  name: string,
  { signal, security }: { signal: AbortSignal; security: ClientSecurity },
): Promise<number> {
  const outcome = await followRoster(addresses, name, {
    signal,
    connect: security,
    onRoster: (line) => console.log(line),
    onRejoin: (message) => console.error(`roster-client: ${message}`),
  });
  switch (outcome.kind) {
    case "stopped":
      return 0;
    case "refused":
      console.error(outcome.line);
      return 1;
    case "unreachable":
      console.error(
        `error: Cannot connect to "${outcome.where}": ${outcome.reason}`,
      );
      return 1;
  }
}

/** The roster client program. */
export const rosterClient: Program = { usage: USAGE, main };

if (import.meta.main) await runProgram(rosterClient);
