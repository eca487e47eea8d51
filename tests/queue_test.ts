/**
 * End-to-end tests of `queue-server` and `queue-client` as real programs:
 * the seed's session, one-shot mode, every error the client reports, usage
 * errors, and signals.
 */
import assert from "node:assert/strict";
import {
  deadPort,
  SilentServer,
  spawnProgram,
  startQueueServer,
} from "./harness.ts";
import { QUEUE_SEED_SESSION } from "./seed_sessions.ts";
import { QueueClient } from "../task1/queue_client.ts";

/** Runs `queue-client` to its end with `input` piped in; returns its output. */
async function runClient(args: string[], input?: string) {
  await using client = spawnProgram("queue-client", args, {
    stdin: input !== undefined,
  });
  if (input !== undefined) {
    await client.write(input);
    await client.closeStdin();
  }
  const [stdout, stderr, status] = await Promise.all([
    client.stdout.rest(),
    client.stderr.rest(),
    client.exit(),
  ]);
  return { stdout, stderr, code: status.code };
}

Deno.test("queue programs reproduce the seed's example session line by line, then Ctrl+C prints Shutting down and exits 0", async () => {
  await using started = await startQueueServer(3);
  await using client = spawnProgram(
    "queue-client",
    [`127.0.0.1:${started.port}`],
    { stdin: true },
  );
  for (const [line, answer] of QUEUE_SEED_SESSION) {
    await client.write(`${line}\n`);
    assert.equal(await client.stdout.next(), answer, `answer to "${line}"`);
  }
  client.kill("SIGINT");
  assert.equal(await client.stdout.next(), "Shutting down");
  assert.equal((await client.exit()).code, 0);
  assert.deepEqual(await client.stdout.rest(), []);
  assert.deepEqual(await client.stderr.rest(), []);
});

Deno.test("queue-client with piped input prints only the answers, no prompts, and exits 0 at the end of input", async () => {
  await using started = await startQueueServer(3);
  const input = QUEUE_SEED_SESSION.map(([line]) => `${line}\n`).join("");
  const { stdout, stderr, code } = await runClient(
    [`127.0.0.1:${started.port}`],
    input,
  );
  assert.deepEqual(stdout, QUEUE_SEED_SESSION.map(([, answer]) => answer));
  assert.deepEqual(stderr, []);
  assert.equal(code, 0);
});

Deno.test("queue-client REPL reports each mistake as one error line, ignores blank lines, and keeps answering", async () => {
  await using started = await startQueueServer(3);
  const input = [
    "frobnicate",
    "put",
    "put two words",
    "",
    "   ",
    "peek extra",
    "put A",
    "help",
    "size",
  ].join("\n");
  const { stdout, stderr, code } = await runClient(
    [`127.0.0.1:${started.port}`],
    input,
  );
  assert.equal(code, 0);
  assert.equal(stdout.length, 3, JSON.stringify(stdout));
  assert.equal(stdout[0], "True");
  assert.match(stdout[1]!, /^Commands: put ITEM/);
  assert.equal(stdout[2], "1");
  assert.equal(stderr.length, 4, JSON.stringify(stderr));
  assert.match(stderr[0]!, /^error: Unknown command "frobnicate"/);
  assert.match(stderr[1]!, /^error: Missing item/);
  assert.match(stderr[2]!, /^error: Too many words after "put"/);
  assert.match(stderr[3]!, /^error: Unexpected argument "extra"/);
});

Deno.test("queue-client refuses an item over 1 MiB with an INVALID_ARGUMENT error line and accepts one of exactly 1 MiB", async () => {
  await using started = await startQueueServer(3);
  const limit = 1024 * 1024;
  const input = [
    `put ${"x".repeat(limit + 1)}`,
    // Two-byte characters: under the limit in characters, over it in bytes.
    `put ${"é".repeat(limit / 2 + 1)}`,
    "size",
    `put ${"y".repeat(limit)}`,
    "size",
  ].join("\n") + "\n";
  const { stdout, stderr, code } = await runClient(
    [`127.0.0.1:${started.port}`],
    input,
  );
  assert.equal(code, 0);
  assert.deepEqual(stdout, ["0", "True", "1"]);
  assert.equal(stderr.length, 2, JSON.stringify(stderr));
  for (const line of stderr) {
    assert.match(
      line,
      /^error: INVALID_ARGUMENT: Item too large: \d+ bytes, more than the limit of 1048576 bytes$/,
    );
  }
});

Deno.test("queue-client one-shot mode runs one command, prints its answer and exits 0", async () => {
  await using started = await startQueueServer(1);
  const address = `127.0.0.1:${started.port}`;
  const steps: [string[], string][] = [
    [["pop"], "Queue is empty"],
    [["put", "x"], "True"],
    [["put", "y"], "False"],
    [["size"], "1"],
    [["peek"], "x"],
    [["pop"], "x"],
    [["peek"], "Queue is empty"],
    [["help"], "Commands: put ITEM"],
  ];
  for (const [command, answer] of steps) {
    const { stdout, stderr, code } = await runClient([address, ...command]);
    assert.equal(code, 0, command.join(" "));
    assert.equal(stdout.length, 1);
    assert.ok(stdout[0]!.startsWith(answer), `${command}: ${stdout[0]}`);
    assert.deepEqual(stderr, []);
  }
});

Deno.test("queue-client prints an item holding newlines and a terminal escape as one escaped line, in one-shot, REPL and pipelined mode, and as stored with --raw", async () => {
  await using started = await startQueueServer(3);
  const address = `127.0.0.1:${started.port}`;
  const forged = "job1\nQueue is empty\nTrue\x1b[31m\\";
  {
    using client = new QueueClient({
      hostname: "127.0.0.1",
      port: started.port,
    });
    assert.equal(await client.put(forged), true);
  }
  const escaped = "job1\\nQueue is empty\\nTrue\\x1b[31m\\\\";
  const expected = { stdout: [escaped], stderr: [], code: 0 };
  assert.deepEqual(await runClient([address, "peek"]), expected, "one-shot");
  assert.deepEqual(
    await runClient([address, "--window", "1"], "peek\n"),
    expected,
    "REPL, one command at a time",
  );
  assert.deepEqual(
    await runClient([address], "peek\nsize\npeek\n"),
    { stdout: [escaped, "1", escaped], stderr: [], code: 0 },
    "REPL, pipelined",
  );
  const raw = forged.split("\n");
  assert.deepEqual(await runClient([address, "peek", "--raw"]), {
    stdout: raw,
    stderr: [],
    code: 0,
  });
  assert.deepEqual(await runClient([address, "--raw"], "peek\nsize\n"), {
    stdout: [...raw, "1"],
    stderr: [],
    code: 0,
  });
});

Deno.test("queue-client one-shot mode exits 1 with one error line for a bad command", async () => {
  await using started = await startQueueServer(1);
  const address = `127.0.0.1:${started.port}`;
  for (
    const [command, why] of [
      [["frobnicate"], /^error: Unknown command "frobnicate"/],
      [["put"], /^error: Missing item/],
      [["put", "two words"], /^error: Too many words after "put"/],
      [["size", "now"], /^error: Unexpected argument "now"/],
    ] as const
  ) {
    const { stdout, stderr, code } = await runClient([address, ...command]);
    assert.equal(code, 1, command.join(" "));
    assert.deepEqual(stdout, []);
    assert.equal(stderr.length, 1, JSON.stringify(stderr));
    assert.match(stderr[0]!, why);
  }
});

Deno.test("two queue clients share one queue: what one puts the other pops, in order", async () => {
  await using started = await startQueueServer(10);
  const address = `127.0.0.1:${started.port}`;
  await using alice = spawnProgram("queue-client", [address], { stdin: true });
  await using bob = spawnProgram("queue-client", [address], { stdin: true });
  await alice.write("put a1\nput a2\n");
  assert.deepEqual(await alice.stdout.take(2), ["True", "True"]);
  await bob.write("put b1\nsize\npop\n");
  assert.deepEqual(await bob.stdout.take(3), ["True", "3", "a1"]);
  await alice.write("pop\npop\npop\n");
  assert.deepEqual(await alice.stdout.take(3), ["a2", "b1", "Queue is empty"]);
  await bob.write("size\n");
  assert.deepEqual(await bob.stdout.take(1), ["0"]);
});

Deno.test("queue-client reports a dead server as an UNAVAILABLE error line: the REPL goes on, one-shot exits 1", async () => {
  const address = `127.0.0.1:${deadPort()}`;
  const repl = await runClient([address], "size\nhelp\npop\n");
  assert.equal(repl.code, 0);
  assert.equal(repl.stdout.length, 1);
  assert.match(repl.stdout[0]!, /^Commands: /);
  assert.equal(repl.stderr.length, 2, JSON.stringify(repl.stderr));
  for (const line of repl.stderr) {
    assert.match(
      line,
      /^error: UNAVAILABLE: Cannot reach the server at "127\.0\.0\.1:\d+": /,
    );
  }
  const oneShot = await runClient([address, "put", "x"]);
  assert.equal(oneShot.code, 1);
  assert.deepEqual(oneShot.stdout, []);
  assert.equal(oneShot.stderr.length, 1);
  assert.match(oneShot.stderr[0]!, /^error: UNAVAILABLE: /);
});

Deno.test("queue-client gives up on a server that never answers after --timeout with a DEADLINE_EXCEEDED error line", async () => {
  await using silent = new SilentServer();
  const address = `127.0.0.1:${silent.port}`;
  const started = Date.now();
  const oneShot = await runClient([address, "size", "--timeout", "0.5"]);
  assert.equal(oneShot.code, 1);
  assert.deepEqual(oneShot.stderr, [
    `error: DEADLINE_EXCEEDED: No answer from "${address}" within 0.5 s`,
  ]);
  assert.ok(Date.now() - started < 10_000, "gave up in reasonable time");

  const repl = await runClient([address, "--timeout", "0.5"], "size\nhelp\n");
  assert.equal(repl.code, 0);
  assert.equal(repl.stdout.length, 1);
  assert.match(repl.stderr[0]!, /^error: DEADLINE_EXCEEDED: /);
});

Deno.test("queue-client prints Shutting down and exits 0 on SIGINT while a one-shot call waits", async () => {
  await using silent = new SilentServer();
  await using client = spawnProgram("queue-client", [
    `127.0.0.1:${silent.port}`,
    "size",
    "--timeout",
    "60",
  ]);
  // Wait until the client has connected, so its call is in flight.
  await silent.connected();
  client.kill("SIGINT");
  assert.equal(await client.stdout.next(), "Shutting down");
  assert.equal((await client.exit()).code, 0);
  assert.deepEqual(await client.stderr.rest(), []);
});

Deno.test("queue-server exits 1 with one clear line when its port is in use", async () => {
  await using started = await startQueueServer(3);
  await using second = spawnProgram("queue-server", [
    String(started.port),
    "3",
    "--host",
    "127.0.0.1",
  ]);
  assert.equal((await second.exit()).code, 1);
  assert.deepEqual(await second.stderr.rest(), [
    `error: Cannot listen on "127.0.0.1:${started.port}": address already in use`,
  ]);
  assert.deepEqual(await second.stdout.rest(), []);
});

Deno.test("queue-server exits 0 on SIGINT and SIGTERM, logging the shutdown unless --quiet", async () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    await using started = await startQueueServer(3);
    started.server.kill(signal);
    assert.equal((await started.server.exit()).code, 0, signal);
    assert.deepEqual(await started.server.stderr.rest(), [
      "queue-server shutting down",
    ]);
  }
  await using quiet = await startQueueServer(3, "--quiet");
  quiet.server.kill("SIGINT");
  assert.equal((await quiet.server.exit()).code, 0);
  assert.deepEqual(await quiet.server.stderr.rest(), []);
});

Deno.test("queue programs print their usage for --help and exit 0", async () => {
  for (const name of ["queue-server", "queue-client"] as const) {
    await using program = spawnProgram(name, ["--help"]);
    assert.equal((await program.exit()).code, 0, name);
    const stdout = await program.stdout.rest();
    assert.match(stdout[0]!, new RegExp(`^Usage: ${name} `));
    assert.deepEqual(await program.stderr.rest(), []);
  }
});

Deno.test("queue programs exit 2 with the usage on a bad command line", async () => {
  const cases: [
    "queue-server" | "queue-client",
    string[],
    RegExp,
  ][] = [
    ["queue-server", [], /^error: Missing argument PORT$/],
    ["queue-server", ["5555"], /^error: Missing argument SIZE$/],
    ["queue-server", ["5555", "3", "4"], /^error: Unexpected argument "4"$/],
    ["queue-server", ["http", "3"], /^error: Invalid port "http"/],
    ["queue-server", ["0", "0"], /^error: Invalid size "0"/],
    ["queue-server", ["0", "three"], /^error: Invalid size "three"/],
    ["queue-server", ["0", "4294967296"], /^error: Invalid size "4294967296"/],
    ["queue-server", ["0", "3", "--bogus"], /^error: Unknown option '--bogus'/],
    ["queue-client", [], /^error: Missing argument HOST:PORT$/],
    ["queue-client", ["localhost"], /^error: Cannot parse address "localhost"/],
    [
      "queue-client",
      ["127.0.0.1:1", "put", "x", "y"],
      /^error: Unexpected argument "y"$/,
    ],
    [
      "queue-client",
      ["127.0.0.1:1", "--timeout", "0"],
      /^error: Invalid timeout "0"/,
    ],
    [
      "queue-client",
      ["127.0.0.1:1", "--timeout", "soon"],
      /^error: Invalid timeout "soon"/,
    ],
    ["queue-client", ["127.0.0.1:1", ""], /^error: Missing command$/],
    [
      "queue-client",
      ["127.0.0.1:1", "work", "--jobs", "2"],
      /^error: Missing COMMAND: usage is "work \[\.\.\.\] -- COMMAND"$/,
    ],
    [
      "queue-client",
      ["127.0.0.1:1", "pop", "--jobs", "2"],
      /^error: --jobs goes with work$/,
    ],
    [
      "queue-client",
      ["127.0.0.1:1", "work", "--lease", "0", "--", "cat"],
      /^error: Invalid lease "0"/,
    ],
    [
      "queue-client",
      ["127.0.0.1:1", "--bogus"],
      /^error: Unknown option '--bogus'/,
    ],
  ];
  for (const [name, args, why] of cases) {
    await using program = spawnProgram(name, args);
    const what = `${name} ${JSON.stringify(args)}`;
    assert.equal((await program.exit()).code, 2, what);
    const stderr = await program.stderr.rest();
    assert.match(stderr[0]!, why, what);
    assert.ok(stderr.some((line) => line.startsWith("Usage: ")), what);
    assert.deepEqual(await program.stdout.rest(), [], what);
  }
});
