/**
 * End-to-end tests of TLS and token authentication between `roster-server`
 * and `roster-client`, and by hand with `openssl s_client`.
 */
import assert from "node:assert/strict";
import {
  connectRaw,
  runToEnd,
  SilentServer,
  spawnProgram,
  type StartedServer,
  startServer,
  within,
} from "./harness.ts";
import {
  makeTestPki,
  TEST_TOKEN,
  type TestPki,
  WRONG_TOKEN,
} from "./tls_fixtures.ts";

function startRosterServer(...extra: string[]): Promise<StartedServer> {
  return startServer("roster-server", ["0", "--host", "127.0.0.1", ...extra]);
}

function tlsFlags(pki: TestPki): string[] {
  return ["--tls-cert", pki.cert, "--tls-key", pki.key];
}

/** Asserts that no line of `outputs` contains either test token. */
function assertNoToken(...outputs: string[][]): void {
  for (const line of outputs.flat()) {
    assert.ok(
      !line.includes(TEST_TOKEN) && !line.includes(WRONG_TOKEN),
      `a token leaked into: ${line}`,
    );
  }
}

Deno.test("roster programs play the seed's example over TLS with a token: greg, bob, vlad, then bob leaves; a wrong token is refused over TLS", async () => {
  await using pki = await makeTestPki();
  await using started = await startRosterServer(
    ...tlsFlags(pki),
    ...["--token-file", pki.tokenFile],
  );
  const client = (address: string, name: string) =>
    spawnProgram("roster-client", [
      address,
      name,
      ...["--ca", pki.ca, "--token-file", pki.tokenFile],
    ]);
  await using greg = client(`localhost:${started.port}`, "greg");
  assert.deepEqual(await greg.stdout.take(1), ["greg"]);
  // By IP address: rustls verifies the certificate's IP address entry.
  await using bob = client(`127.0.0.1:${started.port}`, "bob");
  assert.deepEqual(await bob.stdout.take(1), ["bob greg"]);
  await using vlad = spawnProgram("roster-client", [
    `localhost:${started.port}`,
    ...["vlad", "--ca", pki.ca],
  ], { env: { ROSTER_TOKEN: TEST_TOKEN } });
  assert.deepEqual(await vlad.stdout.take(1), ["bob greg vlad"]);
  assert.deepEqual(await greg.stdout.take(2), ["bob greg", "bob greg vlad"]);
  bob.kill("SIGINT");
  assert.equal((await bob.exit()).code, 0);
  assert.deepEqual(await greg.stdout.take(1), ["greg vlad"]);
  assert.deepEqual(await vlad.stdout.take(1), ["greg vlad"]);
  // A refusal's error line gets through TLS too.
  const wrong = await runToEnd("roster-client", [
    `localhost:${started.port}`,
    ...["eve", "--ca", pki.ca, "--token-file", pki.wrongTokenFile],
  ]);
  assert.deepEqual(wrong, {
    stdout: [],
    stderr: ["error: wrong token"],
    code: 1,
  });
  assert.deepEqual(await started.server.stderr.take(4), [
    "+ greg (1 online)",
    "+ bob (2 online)",
    "+ vlad (3 online)",
    "- bob (2 online)",
  ]);
});

Deno.test("roster-client refuses an unknown CA, a wrong host name, and says which side lacks TLS; the servers keep serving quietly", async () => {
  await using pki = await makeTestPki();
  await using tls = await startRosterServer(...tlsFlags(pki));
  await using plain = await startRosterServer();
  const cases: [string[], RegExp][] = [
    [
      [`localhost:${tls.port}`, "a", "--ca", pki.otherCa],
      /^error: Cannot connect to "localhost:\d+": the server's certificate is not signed by a trusted CA \(use --ca FILE\)$/,
    ],
    [
      [`localhost:${tls.port}`, "b", "--tls"],
      /not signed by a trusted CA/,
    ],
    [
      [`127.0.0.1:${tls.port}`, "c", "--ca", pki.ca, "--server-name", "x.y"],
      /^error: Cannot connect to "127\.0\.0\.1:\d+": the server's certificate is not valid for this host name .*--server-name NAME$/,
    ],
    [
      [`localhost:${tls.port}`, "d"],
      /^error: Server "localhost:\d+" speaks TLS: connect with --tls or --ca$/,
    ],
    [
      [`localhost:${plain.port}`, "e", "--ca", pki.ca],
      /^error: Cannot connect to "localhost:\d+": the server does not speak TLS/,
    ],
  ];
  for (const [args, why] of cases) {
    const output = await runToEnd("roster-client", args);
    assert.equal(output.code, 1, JSON.stringify(output));
    assert.deepEqual(output.stdout, []);
    assert.equal(output.stderr.length, 1, JSON.stringify(output.stderr));
    assert.match(output.stderr[0]!, why);
  }
  await using good = spawnProgram("roster-client", [
    `localhost:${tls.port}`,
    ...["greg", "--ca", pki.ca],
  ]);
  assert.deepEqual(await good.stdout.take(1), ["greg"]);
  await using raw = await connectRaw(plain.port, "bob\n");
  assert.equal(await raw.lines.next(), "bob");
  for (const started of [tls, plain]) {
    started.server.kill("SIGTERM");
    assert.equal((await started.server.exit()).code, 0);
  }
  // Only joins and leaves, no stack traces or handshake errors.
  assert.deepEqual(await tls.server.stderr.rest(), ["+ greg (1 online)"]);
  assert.deepEqual(await plain.server.stderr.rest(), ["+ bob (1 online)"]);
});

Deno.test("roster-client with --tls gives up on a server that never answers the handshake, in one line", async () => {
  await using silent = new SilentServer();
  const output = await runToEnd("roster-client", [
    `localhost:${silent.port}`,
    ...["greg", "--tls"],
  ]);
  assert.deepEqual(output, {
    stdout: [],
    stderr: [
      `error: Cannot connect to "localhost:${silent.port}": no answer within 5 s`,
    ],
    code: 1,
  });
});

Deno.test("roster server with a token refuses a missing or wrong one with an error line, tells nobody, and never shows a token", async () => {
  await using pki = await makeTestPki();
  await using started = await startRosterServer("--token-file", pki.tokenFile);
  await using greg = await connectRaw(
    started.port,
    `TOKEN ${TEST_TOKEN}\ngreg\n`,
  );
  assert.equal(await greg.lines.next(), "greg");
  const address = `127.0.0.1:${started.port}`;
  const missing = await runToEnd("roster-client", [address, "bob"]);
  assert.deepEqual(missing, {
    stdout: [],
    stderr: [
      'error: missing token: send "TOKEN <token>" and a newline before the name',
    ],
    code: 1,
  });
  // The token line may arrive in pieces, and the name in a later read.
  await using split = await connectRaw(started.port, "TOK");
  await split.conn.write(new TextEncoder().encode(`EN ${TEST_TOKEN}\n`));
  await new Promise((resolve) => setTimeout(resolve, 50));
  await split.conn.write(new TextEncoder().encode("vlad"));
  assert.equal(await split.lines.next(), "greg vlad");
  assert.equal(await greg.lines.next(), "greg vlad");
  const wrong = await runToEnd("roster-client", [
    address,
    ...["bob", "--token-file", pki.wrongTokenFile],
  ]);
  assert.deepEqual(wrong, {
    stdout: [],
    stderr: ["error: wrong token"],
    code: 1,
  });
  started.server.kill("SIGTERM");
  const log = await started.server.stderr.rest();
  assert.deepEqual(log, ["+ greg (1 online)", "+ vlad (2 online)"]);
  assertNoToken(missing.stderr, wrong.stderr, log);
});

Deno.test("roster server without a token refuses a token line without quoting it, and its seed handshake is unchanged", async () => {
  await using started = await startRosterServer();
  await using stray = await connectRaw(started.port, `TOKEN ${TEST_TOKEN}\nx`);
  const refusal = await stray.lines.next();
  assert.equal(
    refusal,
    "error: this server takes no token: connect without one",
  );
  await using greg = await connectRaw(started.port, "greg");
  assert.equal(await greg.lines.next(), "greg");
});

Deno.test("roster server admits the right token every time while another client on the same address sends wrong tokens in a loop", async () => {
  await using pki = await makeTestPki();
  await using started = await startRosterServer("--token-file", pki.tokenFile);
  const attempt = async (token: string, name: string) => {
    await using client = await connectRaw(
      started.port,
      `TOKEN ${token}\n${name}\n`,
    );
    return await client.lines.next();
  };
  // Three attackers on 127.0.0.1, each sending a wrong token as soon as
  // the one before is answered, for as long as the right client tries.
  const stop = new AbortController();
  const answers: (string | null)[] = [];
  const attacker = async () => {
    while (!stop.signal.aborted) {
      answers.push(await attempt(WRONG_TOKEN, "eve"));
    }
  };
  const attackers = [attacker(), attacker(), attacker()];
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (let i = 0; i < 10; i++) {
      const line = await attempt(TEST_TOKEN, `right${i}`);
      assert.ok(
        line?.split(" ").includes(`right${i}`),
        `attempt ${i}: ${line}`,
      );
    }
  } finally {
    stop.abort();
    await within(Promise.all(attackers), "the attackers to stop");
  }
  assert.ok(answers.length > 0);
  for (const answer of answers) {
    assert.match(answer!, /^error: wrong token/);
  }
});

/**
 * The first 11 of the about 500 bytes a ClientHello announces: a handshake
 * record header, then the start of the ClientHello.
 */
const HALF_CLIENT_HELLO = new Uint8Array([
  ...[0x16, 0x03, 0x01, 0x01, 0xfc],
  ...[0x01, 0x00, 0x01, 0xf8, 0x03, 0x03],
]);

Deno.test("TLS roster server closes a silent TCP socket and one that sent half a ClientHello at the handshake timeout, and still serves a real client", async () => {
  await using pki = await makeTestPki();
  await using started = await startRosterServer(
    ...tlsFlags(pki),
    ...["--handshake-timeout", "1"],
  );
  await using silent = await connectRaw(started.port);
  await using half = await connectRaw(started.port);
  await half.conn.write(HALF_CLIENT_HELLO);
  // The deadline is 1 s; the bound only leaves room for a loaded machine.
  assert.equal(await silent.lines.next(10_000), null, "silent socket closed");
  assert.equal(await half.lines.next(10_000), null, "half hello closed");
  await using greg = spawnProgram("roster-client", [
    `localhost:${started.port}`,
    ...["greg", "--ca", pki.ca],
  ]);
  assert.deepEqual(await greg.stdout.take(1), ["greg"]);
});

Deno.test("roster server's handshake deadline runs from accept and is not restarted by the token stage", async () => {
  await using pki = await makeTestPki();
  await using started = await startRosterServer(
    ...["--token-file", pki.tokenFile, "--handshake-timeout", "3"],
  );
  await using slow = await connectRaw(started.port);
  const start = performance.now();
  const closed = slow.lines.next(20_000);
  // The first byte just before the deadline, then one every 0.4 s: a
  // deadline restarted at the token stage would close at about 5.7 s.
  await new Promise((resolve) => setTimeout(resolve, 2700));
  const trickle = (async () => {
    for (const byte of new TextEncoder().encode(`TOKEN ${TEST_TOKEN}\n`)) {
      await slow.conn.write(Uint8Array.of(byte));
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
  })().catch(() => {
    // The server closed the connection: that is the point.
  });
  assert.equal(await closed, null);
  const elapsed = performance.now() - start;
  await trickle;
  assert.ok(elapsed < 4700, `closed after ${Math.round(elapsed)} ms, not 3 s`);
});

Deno.test("roster server with a token reads a TOKEN line split over several writes with pauses", async () => {
  await using pki = await makeTestPki();
  await using started = await startRosterServer("--token-file", pki.tokenFile);
  await using split = await connectRaw(started.port);
  const line = new TextEncoder().encode(`TOKEN ${TEST_TOKEN}\r\n`);
  for (let offset = 0; offset < line.length; offset += 4) {
    await split.conn.write(line.subarray(offset, offset + 4));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await split.conn.write(new TextEncoder().encode("greg\n"));
  assert.equal(await split.lines.next(), "greg");
});

Deno.test("roster server over TLS with a token is usable by hand with openssl s_client", async () => {
  await using pki = await makeTestPki();
  await using started = await startRosterServer(
    ...tlsFlags(pki),
    ...["--token-file", pki.tokenFile],
  );
  const openssl = new Deno.Command("openssl", {
    args: [
      "s_client",
      "-quiet",
      ...["-connect", `127.0.0.1:${started.port}`],
      ...[
        "-CAfile",
        pki.ca,
        "-servername",
        "localhost",
        "-verify_return_error",
      ],
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = openssl.stdin.getWriter();
  await writer.write(new TextEncoder().encode(`TOKEN ${TEST_TOKEN}\ngreg\n`));
  try {
    const reader = openssl.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    const { value } = await within(reader.read(), "the roster over TLS");
    assert.equal(value, "greg\n");
    reader.releaseLock();
  } finally {
    openssl.kill("SIGKILL");
    await openssl.status;
    await writer.close().catch(() => {});
    await openssl.stdout.cancel().catch(() => {});
  }
});
