/**
 * End-to-end tests of TLS and token authentication between `queue-server`
 * and `queue-client`, and with a non-Deno client (Python's grpcio).
 */
import assert from "node:assert/strict";
import {
  commandSucceeds,
  type ProgramOutput,
  runToEnd,
  type StartedServer,
  startQueueServer,
  startServer,
  within,
} from "./harness.ts";
import { QUEUE_SEED_SESSION } from "./seed_sessions.ts";
import { QueueClient } from "../task1/queue_client.ts";
import {
  makeTestPki,
  TEST_TOKEN,
  type TestPki,
  WRONG_TOKEN,
} from "./tls_fixtures.ts";

function startSecureServer(
  pki: TestPki,
  ...extra: string[]
): Promise<StartedServer> {
  return startQueueServer(
    3,
    ...["--tls-cert", pki.cert, "--tls-key", pki.key],
    ...extra,
  );
}

/** Each server's name and the arguments that start it on a free port. */
const BOTH_SERVERS = [
  ["queue-server", ["0", "3"]],
  ["roster-server", ["0"]],
] as const;

const SEED_INPUT = QUEUE_SEED_SESSION.map(([line]) => `${line}\n`).join("");
const SEED_ANSWERS = QUEUE_SEED_SESSION.map(([, answer]) => answer);

/** Asserts that no line of `outputs` contains either test token. */
function assertNoToken(...outputs: string[][]): void {
  for (const line of outputs.flat()) {
    assert.ok(
      !line.includes(TEST_TOKEN) && !line.includes(WRONG_TOKEN),
      `a token leaked into: ${line}`,
    );
  }
}

/** Asserts a one-shot client failed with one `error:` line matching `why`. */
function assertFailed(output: ProgramOutput, why: RegExp): void {
  assert.equal(output.code, 1, JSON.stringify(output));
  assert.deepEqual(output.stdout, []);
  assert.equal(output.stderr.length, 1, JSON.stringify(output.stderr));
  assert.match(output.stderr[0]!, why);
}

Deno.test("queue programs play the seed's session over TLS with a token, by host name and by IP with --server-name", async () => {
  await using pki = await makeTestPki();
  await using started = await startSecureServer(
    pki,
    "--token-file",
    pki.tokenFile,
  );
  const byName = await runToEnd("queue-client", [
    `localhost:${started.port}`,
    ...["--ca", pki.ca, "--token-file", pki.tokenFile],
  ], { input: SEED_INPUT });
  assert.deepEqual(byName, { stdout: SEED_ANSWERS, stderr: [], code: 0 });
  const byIp = await runToEnd("queue-client", [
    `127.0.0.1:${started.port}`,
    ...["--ca", pki.ca, "--server-name", "localhost", "put", "A"],
  ], { env: { QUEUE_TOKEN: TEST_TOKEN } });
  assert.deepEqual(byIp, { stdout: ["True"], stderr: [], code: 0 });
});

Deno.test("queue-client refuses a certificate from an unknown CA or for another name, and an IP address without --server-name", async () => {
  await using pki = await makeTestPki();
  await using started = await startSecureServer(pki);
  const address = `localhost:${started.port}`;
  assertFailed(
    await runToEnd("queue-client", [address, "--ca", pki.otherCa, "size"]),
    /^error: UNAVAILABLE: .*not signed by a trusted CA \(use --ca FILE\)$/,
  );
  assertFailed(
    await runToEnd("queue-client", [address, "--tls", "size"]),
    /^error: UNAVAILABLE: .*not signed by a trusted CA/,
  );
  assertFailed(
    await runToEnd("queue-client", [
      `127.0.0.1:${started.port}`,
      ...["--ca", pki.ca, "--server-name", "wrong.example", "size"],
    ]),
    /^error: UNAVAILABLE: .*not valid for this host name .*--server-name NAME$/,
  );
  const ip = await runToEnd("queue-client", [
    `127.0.0.1:${started.port}`,
    ...["--ca", pki.ca, "size"],
  ]);
  assert.equal(ip.code, 2);
  assert.match(
    ip.stderr[0]!,
    /^error: TLS needs the host name .*--server-name/,
  );
  // The server logged nothing about any of it and still serves.
  const good = await runToEnd("queue-client", [
    address,
    "--ca",
    pki.ca,
    "size",
  ]);
  assert.deepEqual(good, { stdout: ["0"], stderr: [], code: 0 });
  started.server.kill("SIGTERM");
  assert.deepEqual(await started.server.stderr.rest(), [
    "queue-server shutting down",
  ]);
});

Deno.test("queue-client says so in one line when it talks plain to a TLS server or TLS to a plain one, and both servers keep serving", async () => {
  await using pki = await makeTestPki();
  await using tls = await startSecureServer(pki);
  await using plain = await startServer("queue-server", [
    ...["0", "3", "--host", "127.0.0.1"],
  ]);
  assertFailed(
    await runToEnd("queue-client", [`localhost:${tls.port}`, "size"]),
    /^error: UNAVAILABLE: .*if the server uses TLS, connect with --tls or --ca/,
  );
  assertFailed(
    await runToEnd("queue-client", [
      `localhost:${plain.port}`,
      ...["--ca", pki.ca, "size"],
    ]),
    /^error: UNAVAILABLE: .*the server does not speak TLS/,
  );
  // The REPL's Session stream says the same, once per command.
  const repl = await runToEnd("queue-client", [`localhost:${tls.port}`], {
    input: "size\n",
  });
  assert.equal(repl.stderr.length, 1, JSON.stringify(repl.stderr));
  assert.match(
    repl.stderr[0]!,
    /^error: UNAVAILABLE: .*if the server uses TLS, connect with --tls or --ca\)$/,
  );
  const replTls = await runToEnd("queue-client", [
    `localhost:${plain.port}`,
    ...["--ca", pki.ca],
  ], { input: "size\n" });
  assert.equal(replTls.stderr.length, 1, JSON.stringify(replTls.stderr));
  assert.match(
    replTls.stderr[0]!,
    /^error: UNAVAILABLE: .*the server does not speak TLS/,
  );
  for (
    const [port, extra] of [[tls.port, ["--ca", pki.ca]], [
      plain.port,
      [],
    ]] as const
  ) {
    const good = await runToEnd("queue-client", [
      `localhost:${port}`,
      ...extra,
      "size",
    ]);
    assert.deepEqual(good, { stdout: ["0"], stderr: [], code: 0 });
  }
  for (const started of [tls, plain]) {
    started.server.kill("SIGTERM");
    assert.deepEqual(await started.server.stderr.rest(), [
      "queue-server shutting down",
    ]);
  }
});

Deno.test("queue-server answers UNAUTHENTICATED to a missing or wrong token, on every command, and never shows a token", async () => {
  await using pki = await makeTestPki();
  await using started = await startServer("queue-server", [
    ...["0", "3", "--host", "127.0.0.1", "--token-file", pki.tokenFile],
  ]);
  const address = `127.0.0.1:${started.port}`;
  const missing = await runToEnd("queue-client", [address], {
    input: "put A\nsize\npeek\npop\n",
  });
  assert.equal(missing.code, 0);
  assert.deepEqual(missing.stdout, []);
  assert.deepEqual(
    missing.stderr,
    Array(4).fill("error: UNAUTHENTICATED: missing token"),
  );
  const wrong = await runToEnd("queue-client", [
    address,
    ...["--token-file", pki.wrongTokenFile, "size"],
  ]);
  assertFailed(wrong, /^error: UNAUTHENTICATED: wrong token$/);
  const fromEnv = await runToEnd("queue-client", [address, "size"], {
    env: { QUEUE_TOKEN: WRONG_TOKEN },
  });
  assertFailed(fromEnv, /^error: UNAUTHENTICATED: (wrong token|too many)/);
  started.server.kill("SIGTERM");
  const log = await started.server.stderr.rest();
  assert.deepEqual(log, ["queue-server shutting down"]);
  assertNoToken(missing.stderr, wrong.stderr, fromEnv.stderr, log);
});

Deno.test("queue-server admits the right token every time while another client on the same address sends wrong tokens in a loop", async () => {
  await using pki = await makeTestPki();
  await using started = await startServer("queue-server", [
    ...["0", "3", "--host", "127.0.0.1", "--token-file", pki.tokenFile],
  ]);
  const address = { hostname: "127.0.0.1", port: started.port };
  using wrong = new QueueClient(address, { token: WRONG_TOKEN });
  // Three attackers on 127.0.0.1, each sending a wrong token as soon as
  // the one before is answered, for as long as the right client tries.
  const stop = new AbortController();
  const refusals: string[] = [];
  const attacker = async () => {
    while (!stop.signal.aborted) {
      await wrong.size().then(
        () => refusals.push("admitted"),
        (error: Error) => refusals.push(error.message),
      );
    }
  };
  const attackers = [attacker(), attacker(), attacker()];
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    for (let i = 0; i < 10; i++) {
      using right = new QueueClient(address, { token: TEST_TOKEN });
      assert.equal(await right.size(), 0, `attempt ${i}`);
    }
  } finally {
    stop.abort();
    await within(Promise.all(attackers), "the attackers to stop");
  }
  assert.ok(refusals.length > 0);
  for (const refusal of refusals) {
    assert.match(refusal, /^UNAUTHENTICATED: wrong token/);
  }
});

Deno.test("both servers refuse to start with a key that is not the certificate's (exit 1) or half a TLS pair (exit 2), in one line", async () => {
  await using pki = await makeTestPki();
  for (const [name, args] of BOTH_SERVERS) {
    const base = [...args, "--host", "127.0.0.1"];
    const mismatch = await runToEnd(name, [
      ...base,
      ...["--tls-cert", pki.cert, "--tls-key", pki.otherKey],
    ]);
    assert.deepEqual(mismatch.stderr, [
      `error: --tls-key "${pki.otherKey}" is not the key of the certificate in --tls-cert "${pki.cert}"`,
    ]);
    assert.equal(mismatch.code, 1);
    const half = await runToEnd(name, [...base, "--tls-cert", pki.cert]);
    assert.equal(half.code, 2);
    assert.equal(
      half.stderr[0],
      "error: --tls-cert and --tls-key go together: give both",
    );
  }
});

Deno.test("both servers refuse to start with a token shorter than 32 characters, in one line that does not quote it (exit 1)", async () => {
  await using pki = await makeTestPki();
  for (const [name, args] of BOTH_SERVERS) {
    const output = await runToEnd(name, [
      ...args,
      ...["--host", "127.0.0.1", "--token-file", pki.shortTokenFile],
    ]);
    assert.deepEqual(output, {
      stdout: [],
      stderr: [
        `error: Invalid token in token file "${pki.shortTokenFile}": too short, expected 32 to 256 visible ASCII characters (no spaces) (make one with: openssl rand -hex 32)`,
      ],
      code: 1,
    });
  }
});

/**
 * A grpcio client in Python: prints one line per call, the status code and
 * the response bytes in hex. Requests and responses are raw protobuf bytes.
 */
const PYTHON_PROBE = `
import grpc, sys
port, ca, token = sys.argv[1], sys.argv[2], sys.argv[3]
channel = grpc.secure_channel("localhost:" + port,
    grpc.ssl_channel_credentials(open(ca, "rb").read()))
raw = dict(request_serializer=lambda b: b, response_deserializer=lambda b: b)
def show(name, call):
    try:
        print(name, "OK", call().hex())
    except grpc.RpcError as error:
        print(name, error.code().name)
check = channel.unary_unary("/grpc.health.v1.Health/Check", **raw)
show("health", lambda: check(b"", timeout=5))
reflect = channel.stream_stream(
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", **raw)
show("reflection", lambda: b"".join(reflect(iter([b"\\x3a\\x00"]), timeout=5)))
size = channel.unary_unary("/queue.v1.QueueService/Size", **raw)
show("size-without-token", lambda: size(b"", timeout=5))
show("size-with-token", lambda: size(b"", timeout=5,
    metadata=[("authorization", "Bearer " + token)]))
`;

/** Whether Debian's Python has grpcio; CI installs it (`.ci/run`). */
const PYTHON_GRPC = commandSucceeds("/usr/bin/python3", ["-c", "import grpc"]);
if (!PYTHON_GRPC) {
  console.error(
    "queue_security_test.ts: the test with Python's grpcio did not run: apt-get install python3-grpcio",
  );
}

Deno.test({
  name:
    "queue-server over TLS serves Python's grpcio: health and reflection without a token, the queue only with it",
  ignore: !PYTHON_GRPC,
}, async () => {
  await using pki = await makeTestPki();
  await using started = await startSecureServer(
    pki,
    "--token-file",
    pki.tokenFile,
  );
  const { stdout, stderr, success } = await within(
    new Deno.Command("/usr/bin/python3", {
      args: ["-c", PYTHON_PROBE, String(started.port), pki.ca, TEST_TOKEN],
      stdout: "piped",
      stderr: "piped",
    }).output(),
    "the Python probe",
  );
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  assert.ok(success, new TextDecoder().decode(stderr));
  // HealthCheckResponse{status: SERVING} is 08 01; the reflection answer
  // lists the services by name.
  assert.equal(lines[0], "health OK 0801");
  const reflection = lines[1]!.split(" ");
  assert.equal(reflection[1], "OK");
  const listed = new TextDecoder().decode(
    Uint8Array.from(
      reflection[2]!.match(/../g)!.map((byte) => parseInt(byte, 16)),
    ),
  );
  assert.ok(listed.includes("queue.v1.QueueService"), listed);
  assert.equal(lines[2], "size-without-token UNAUTHENTICATED");
  assert.equal(lines[3], "size-with-token OK 0800");
});
