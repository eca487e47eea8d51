/**
 * The cost of TLS and tokens, each against the plain server in the same
 * run: queue put+pop over TLS with a token (h2load), roster churn over TLS,
 * and how many wrong tokens one address gets checked per second.
 *
 * @module
 */
import { TEST_TOKEN, type TestPki } from "../tests/tls_fixtures.ts";
import { connectRaw, startServer } from "../tests/harness.ts";
import { h2loadRun, type LoadResult, startQueueServer } from "./queue_bench.ts";
import { churn, type ChurnResult } from "./roster_bench.ts";

/** Queue put+pop at `concurrency` with TLS and a token, then plain. */
export async function queueTlsPair(
  pki: TestPki,
  concurrency: number,
  calls: number,
): Promise<{ secure: LoadResult; plain: LoadResult }> {
  let secure: LoadResult;
  {
    await using server = await startQueueServer(1_000_000, [
      ...["--tls-cert", pki.cert, "--tls-key", pki.key],
      ...["--token-file", pki.tokenFile],
    ]);
    secure = await h2loadRun(server, "put+pop", concurrency, calls, {
      tls: true,
      headers: [`authorization: Bearer ${TEST_TOKEN}`],
    });
  }
  await using server = await startQueueServer(1_000_000);
  const plain = await h2loadRun(server, "put+pop", concurrency, calls);
  return { secure, plain };
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
 * `ms`: resolves to the attempts made and the guesses actually checked (the
 * others were refused unchecked by the throttle), per second.
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
