/**
 * TLS for both servers and both clients: reading and checking the PEM files
 * named by `--tls-cert`, `--tls-key` and `--ca`, and turning a failed
 * handshake into a sentence that says what to do.
 *
 * @module
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readNamedFile } from "./files.ts";

/** A server's certificate chain and private key, as PEM text. */
export interface ServerTls {
  /** The certificate chain, server certificate first. */
  cert: string;
  /** The private key of the server certificate. */
  key: string;
}

/** How a client verifies the server. */
export interface ClientTls {
  /** PEM CA certificates trusted besides the default roots (from `--ca`). */
  caCerts: string[];
  /**
   * The name the server's certificate must carry, when it differs from the
   * host connected to (`--server-name`).
   */
  serverName?: string;
}

const CERTIFICATE_PEM = "-----BEGIN CERTIFICATE-----";
const PRIVATE_KEY_PEM = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

/**
 * Reads a server's certificate chain and private key from the PEM files at
 * `certPath` and `keyPath`, named in messages by their flags `--tls-cert`
 * and `--tls-key`.
 *
 * @throws {Error} when a file cannot be read or holds no PEM of its kind, or
 * the key is not the certificate's
 */
export async function readServerTls(
  certPath: string,
  keyPath: string,
): Promise<ServerTls> {
  const cert = await readNamedFile(certPath, "--tls-cert");
  if (!cert.includes(CERTIFICATE_PEM)) {
    throw new Error(`--tls-cert "${certPath}" holds no PEM certificate`);
  }
  const key = await readNamedFile(keyPath, "--tls-key");
  if (!PRIVATE_KEY_PEM.test(key)) {
    throw new Error(`--tls-key "${keyPath}" holds no PEM private key`);
  }
  // Checked here because grpc-js would listen anyway and fail every
  // handshake later.
  let certificate: X509Certificate;
  let privateKey: KeyObject;
  try {
    certificate = new X509Certificate(cert);
  } catch (error: unknown) {
    throw new Error(
      `--tls-cert "${certPath}" holds no valid certificate: ${message(error)}`,
    );
  }
  try {
    privateKey = createPrivateKey(key);
  } catch (error: unknown) {
    throw new Error(
      `--tls-key "${keyPath}" holds no valid private key: ${message(error)}`,
    );
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new Error(
      `--tls-key "${keyPath}" is not the key of the certificate in --tls-cert "${certPath}"`,
    );
  }
  return { cert, key };
}

/**
 * Reads the CA certificates (PEM) in the file at `path`, given by `flag`.
 *
 * @throws {Error} when the file cannot be read or holds no PEM certificate
 */
export async function readCaCertificates(
  path: string,
  flag: string,
): Promise<string> {
  const pem = await readNamedFile(path, flag);
  if (!pem.includes(CERTIFICATE_PEM)) {
    throw new Error(`${flag} "${path}" holds no PEM certificate`);
  }
  return pem;
}

/**
 * Explains why a TLS connection failed, for a client's `error:` line, with
 * what to do about it; returns undefined when `message` is not about TLS.
 */
export function explainTlsFailure(message: string): string | undefined {
  if (/UnknownIssuer|unable to (get|verify)|self[- ]signed/i.test(message)) {
    return "the server's certificate is not signed by a trusted CA (use --ca FILE)";
  }
  const names = message.match(/.*(?:only valid for|altnames:) (.*)$/)?.[1];
  if (names !== undefined || /not valid for name/.test(message)) {
    return `the server's certificate is not valid for this host name${
      names === undefined ? "" : ` (it names ${names})`
    }: connect by a name it carries or use --server-name NAME`;
  }
  if (
    /InvalidContentType|corrupt message|wrong version number/i.test(message)
  ) {
    return "the server does not speak TLS (connect without --tls and --ca, or start the server with --tls-cert and --tls-key)";
  }
  return undefined;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
