/**
 * The cost of TLS and tokens, each against the plain server in the same
 * run: queue put+pop over TLS with a token (h2load), roster churn over TLS,
 * and how many wrong tokens one address gets checked per second.
 *
 * @module
 */
import { TEST_TOKEN, type TestPki } from "../tests/tls_fixtures.ts";
import { connectRaw, startServer } from "../tests/harness.ts";
import {
  type H2loadOptions,
  h2loadRun,
  type LoadResult,
  startQueueServer,
} from "./queue_bench.ts";
import { churn, type ChurnResult } from "./roster_bench.ts";

/** Queue put+pop results with each combination of TLS and a token. */
export interface QueueSecurityResults {
  /** Neither TLS nor a token: the seed's setup. */
  plain: LoadResult;
  /** TLS only. */
  tls: LoadResult;
  /** A token only. */
  token: LoadResult;
  /** TLS and a token. */
  both: LoadResult;
}

/** Queue put+pop at `concurrency`, plain, with TLS, a token, and both. */
export async function queueSecurityRun(
  pki: TestPki,
  concurrency: number,
  calls: number,
): Promise<QueueSecurityResults> {
  const tlsFlags = ["--tls-cert", pki.cert, "--tls-key", pki.key];
  const tokenFlags = ["--token-file", pki.tokenFile];
  const header = [`authorization: Bearer ${TEST_TOKEN}`];
  const run = async (flags: string[], options: H2loadOptions) => {
    await using server = await startQueueServer(1_000_000, [
      "--quiet",
      ...flags,
    ]);
    return await h2loadRun(server, "put+pop", concurrency, calls, options);
  };
  return {
    plain: await run([], {}),
    tls: await run(tlsFlags, { tls: true }),
    token: await run(tokenFlags, { headers: header }),
    both: await run([...tlsFlags, ...tokenFlags], {
      tls: true,
      headers: header,
    }),
  };
}

/** Roster churn with `readers` clients over TLS, then plain. */
export async function rosterTlsPair(
  pki: TestPki,
  readers: number,
  cycles: number,
): Promise<{ secure: ChurnResult; plain: ChurnResult }> {
  const ca = await Deno.readTextFile(pki.ca);
  const secure = await churn(readers, {
    cycles,
    serverArgs: ["--tls-cert", pki.cert, "--tls-key", pki.key],
    connect: (port) =>
      Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [ca] }),
  });
  const plain = await churn(readers, { cycles });
  return { secure, plain };
}

/**
 * One address guessing roster tokens one connection after another for
 * `ms`: resolves to the attempts made and the guesses answered `wrong token`,
 * per second (each after the token gate's delay on wrong tokens).
 */
export async function guessRate(
  pki: TestPki,
  ms: number,
): Promise<{ attempts: number; checked: number }> {
  await using started = await startServer("roster-server", [
    ...["0", "--host", "127.0.0.1", "--quiet", "--token-file", pki.tokenFile],
  ]);
  let attempts = 0;
  let checked = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    await using client = await connectRaw(
      started.port,
      `TOKEN guess${attempts}\nname\n`,
    );
    const answer = await client.lines.next();
    attempts++;
    if (answer === "error: wrong token") checked++;
  }
  return { attempts: attempts * 1000 / ms, checked: checked * 1000 / ms };
}
