/**
 * Test certificates and tokens, made at run time in a temporary folder with
 * Debian's `openssl` command (already on every machine that runs the tests,
 * so no dependency is added) and removed on dispose. Nothing secret is
 * committed. Every file is written by a subprocess, as the tests have no
 * write permission of their own.
 *
 * @module
 */

/** The files of a test PKI: a CA, a server certificate it signed, and more. */
export interface TestPki extends AsyncDisposable {
  /** The CA certificate that signed the server's certificate. */
  ca: string;
  /** A CA certificate that signed nothing here. */
  otherCa: string;
  /** The private key of {@linkcode TestPki.otherCa}, not the server's. */
  otherKey: string;
  /** The server's certificate, for `localhost` and `127.0.0.1`. */
  cert: string;
  /** The server's private key. */
  key: string;
  /** A file whose first line is {@linkcode TEST_TOKEN}. */
  tokenFile: string;
  /** A file whose first line is a different token. */
  wrongTokenFile: string;
  /** A file whose first line is a token of 31 characters, one too few. */
  shortTokenFile: string;
}

/** The token in {@linkcode TestPki.tokenFile}. */
export const TEST_TOKEN = "t0ken-for-tests-4f9a2c-at-least-32-characters";

/** A token that is not {@linkcode TEST_TOKEN}. */
export const WRONG_TOKEN = "wr0ng-token-77b1e0-at-least-32-characters";

/** Runs `command` with `args` in `cwd` and resolves to its output. */
async function run(
  command: string,
  args: string[],
  cwd?: string,
): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command(command, {
    args,
    ...(cwd === undefined ? {} : { cwd }),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(
      `${command} ${args[0]} failed: ${new TextDecoder().decode(stderr)}`,
    );
  }
  return new TextDecoder().decode(stdout).trim();
}

/** Writes `text` and a newline to `path`, through the shell. */
function writeLine(path: string, text: string): Promise<string> {
  return run("sh", ["-c", 'printf "%s\\n" "$1" > "$2"', "sh", text, path]);
}

/** Makes a CA, a second CA and a server certificate signed by the first. */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await run("mktemp", ["-d", "-t", "roster-queue-tls-XXXXXX"]);
  const openssl = (args: string[]) => run("openssl", args, dir);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
  for (const name of ["ca", "other-ca"]) {
    await openssl([
      "req",
      "-x509",
      ...ec,
      "-nodes",
      ...["-keyout", `${name}.key`, "-out", `${name}.crt`],
      ...["-days", "1", "-subj", `/CN=${name}`],
    ]);
  }
  await openssl([
    "req",
    ...ec,
    "-nodes",
    ...[
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
      "-subj",
      "/CN=localhost",
    ],
  ]);
  await writeLine(
    `${dir}/server.ext`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1",
  );
  await openssl([
    "x509",
    "-req",
    ...["-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key"],
    ...["-CAcreateserial", "-out", "server.crt", "-days", "1"],
    ...["-extfile", "server.ext"],
  ]);
  await writeLine(`${dir}/token`, TEST_TOKEN);
  await writeLine(`${dir}/wrong-token`, WRONG_TOKEN);
  await writeLine(`${dir}/short-token`, "s3cret-but-only-31-characters-x");
  return {
    ca: `${dir}/ca.crt`,
    otherCa: `${dir}/other-ca.crt`,
    otherKey: `${dir}/other-ca.key`,
    cert: `${dir}/server.crt`,
    key: `${dir}/server.key`,
    tokenFile: `${dir}/token`,
    wrongTokenFile: `${dir}/wrong-token`,
    shortTokenFile: `${dir}/short-token`,
    [Symbol.asyncDispose]: async () => {
      await run("rm", ["-rf", dir]);
    },
  };
}
