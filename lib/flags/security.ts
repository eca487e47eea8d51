/**
 * The security flags that the two servers and the two clients share, as
 * `parseArgs` options, usage lines, and one function each that checks they
 * go together and reads the files they name.
 *
 * @module
 */
import { isLoopback } from "../address.ts";
import { UsageError } from "../cli.ts";
import {
  type ClientTls,
  readCaCertificates,
  readServerTls,
  type ServerTls,
} from "../tls.ts";
import { clientToken, readTokenFile, TokenGate } from "../token.ts";

/** The servers' security options, for `parseCommandLine`. */
export const SERVER_SECURITY_OPTIONS = {
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "token-file": { type: "string" },
} as const;

/**
 * The servers' usage lines for {@linkcode SERVER_SECURITY_OPTIONS}, with the
 * descriptions starting at `column` to line up with the program's others.
 */
export function serverSecurityUsage(column: number): string {
  return formatOptions([
    ["--tls-cert FILE", "serve TLS with this PEM certificate chain"],
    ["--tls-key FILE", "the PEM private key of --tls-cert"],
    ["--token-file FILE", "require the token on the first line of FILE"],
  ], column);
}

/** The clients' security options, for `parseCommandLine`. */
export const CLIENT_SECURITY_OPTIONS = {
  tls: { type: "boolean", default: false },
  ca: { type: "string" },
  "server-name": { type: "string" },
  "token-file": { type: "string" },
} as const;

/**
 * The clients' usage lines for {@linkcode CLIENT_SECURITY_OPTIONS}, naming
 * the token's environment variable, with the descriptions starting at
 * `column`.
 */
export function clientSecurityUsage(
  tokenVariable: string,
  column: number,
): string {
  return formatOptions([
    ["--tls", "connect with TLS, trusting the default root CAs"],
    [
      "--ca FILE",
      "also trust the PEM CA certificate(s) in FILE; implies --tls",
    ],
    ["--server-name NAME", "verify the certificate for NAME instead of HOST"],
    ["--token-file FILE", "send the token on the first line of FILE"],
    ["", `(else the environment variable ${tokenVariable}, if set)`],
  ], column);
}

/**
 * Formats option lines: the flag indented by two spaces, its description
 * from `column` on, or on the next line when the flag is too long for that.
 */
function formatOptions(rows: [string, string][], column: number): string {
  const pad = " ".repeat(column);
  return rows.map(([flag, description]) => {
    const head = `  ${flag}`;
    return head.length < column
      ? head.padEnd(column) + description
      : `${head}\n${pad}${description}`;
  }).join("\n");
}

/**
 * Reads a server's `--tls-cert` and `--tls-key` files: both or neither.
 * Resolves to undefined when neither is given.
 *
 * @throws {UsageError} when only one of the two is given
 * @throws {Error} when a file cannot be read or holds no PEM of its kind, or
 * the key is not the certificate's
 */
export async function readServerTlsFlags(
  certPath: string | undefined,
  keyPath: string | undefined,
): Promise<ServerTls | undefined> {
  if (certPath === undefined && keyPath === undefined) return undefined;
  if (certPath === undefined || keyPath === undefined) {
    throw new UsageError("--tls-cert and --tls-key go together: give both");
  }
  return await readServerTls(certPath, keyPath);
}

/** The command-line flags of a client that concern TLS. */
export interface ClientTlsFlags {
  /** `--tls`: use TLS with the default roots. */
  tls: boolean;
  /** `--ca FILE`: trust this CA too; implies `tls`. */
  ca?: string | undefined;
  /** `--server-name NAME`: verify the certificate for NAME. */
  serverName?: string | undefined;
}

/**
 * Reads a client's TLS flags: resolves to undefined for a plain connection,
 * else to the CA certificates to trust and the name to verify.
 *
 * @throws {UsageError} when `--server-name` is given without TLS
 * @throws {Error} when the `--ca` file cannot be read or holds no certificate
 */
export async function readClientTlsFlags(
  flags: ClientTlsFlags,
): Promise<ClientTls | undefined> {
  const { ca, serverName } = flags;
  if (!flags.tls && ca === undefined) {
    if (serverName !== undefined) {
      throw new UsageError("--server-name needs --tls or --ca");
    }
    return undefined;
  }
  const caCerts: string[] = [];
  if (ca !== undefined) caCerts.push(await readCaCertificates(ca, "--ca"));
  return serverName === undefined ? { caCerts } : { caCerts, serverName };
}

/** A server's security settings, read from its flags. */
export interface ServerSecurity {
  /** The certificate and key to serve TLS with, if any. */
  tls?: ServerTls;
  /** The token check, if a token is required. */
  token?: TokenGate;
  /** A line to log at start-up, if the settings are risky. */
  warning?: string;
}

/**
 * Reads the files named by a server's security flags. `host` is the address
 * it listens on: a token without TLS on a non-loopback address gets a
 * warning, since the token would cross the network in clear text.
 *
 * @throws {UsageError} when only one of `--tls-cert` and `--tls-key` is given
 * @throws {Error} when a file cannot be read or is not of its kind
 */
export async function readServerSecurity(
  values: {
    "tls-cert"?: string | undefined;
    "tls-key"?: string | undefined;
    "token-file"?: string | undefined;
  },
  host: string,
): Promise<ServerSecurity> {
  const tls = await readServerTlsFlags(values["tls-cert"], values["tls-key"]);
  const tokenFile = values["token-file"];
  const security: ServerSecurity = {};
  if (tls !== undefined) security.tls = tls;
  if (tokenFile !== undefined) {
    security.token = new TokenGate(await readTokenFile(tokenFile));
    if (tls === undefined && !isLoopback(host)) {
      security.warning =
        `warning: a token without TLS on ${host}: the token crosses the network in clear text (add --tls-cert and --tls-key, or listen on 127.0.0.1)`;
    }
  }
  return security;
}

/** A client's security settings, read from its flags and environment. */
export interface ClientSecurity {
  /** How to verify the server, if the connection uses TLS. */
  tls?: ClientTls;
  /** The token to send, if any. */
  token?: string;
}

/**
 * Reads the files named by a client's security flags, and the token from
 * `--token-file` or else the environment variable `tokenVariable`.
 *
 * @throws {UsageError} when `--server-name` is given without TLS
 * @throws {Error} when a file cannot be read or a token is invalid
 */
export async function readClientSecurity(
  values: {
    tls?: boolean | undefined;
    ca?: string | undefined;
    "server-name"?: string | undefined;
    "token-file"?: string | undefined;
  },
  tokenVariable: string,
): Promise<ClientSecurity> {
  const tls = await readClientTlsFlags({
    tls: values.tls ?? false,
    ca: values.ca,
    serverName: values["server-name"],
  });
  const token = await clientToken(values["token-file"], tokenVariable);
  const security: ClientSecurity = {};
  if (tls !== undefined) security.tls = tls;
  if (token !== undefined) security.token = token;
  return security;
}
