/**
 * End-to-end tests of `roster-server` and `roster-client` as real programs.
 */
import assert from "node:assert/strict";
import type { ProgramName } from "../scripts/programs.ts";
import {
  connectRaw,
  deadPort,
  joinRoster as join,
  processStats,
  type RawClient,
  spawnProgram,
  type StartedServer,
  startServer,
  within,
} from "./harness.ts";

function startRosterServer(...extra: string[]): Promise<StartedServer> {
  return startServer("roster-server", ["0", "--host", "127.0.0.1", ...extra]);
}

Deno.test("roster programs reproduce the seed's example: greg, bob, vlad, then bob leaves", async () => {
  await using started = await startRosterServer();
  const address = `127.0.0.1:${started.port}`;
  await using greg = spawnProgram("roster-client", [address, "greg"]);
  assert.deepEqual(await greg.stdout.take(1), ["greg"]);
  await using bob = spawnProgram("roster-client", [address, "bob"]);
  assert.deepEqual(await bob.stdout.take(1), ["bob greg"]);
  await using vlad = spawnProgram("roster-client", [address, "vlad"]);
  assert.deepEqual(await vlad.stdout.take(1), ["bob greg vlad"]);
  assert.deepEqual(await greg.stdout.take(2), ["bob greg", "bob greg vlad"]);
  assert.deepEqual(await bob.stdout.take(1), ["bob greg vlad"]);

  bob.kill("SIGINT");
  assert.equal((await bob.exit()).code, 0);
  assert.deepEqual(await bob.stderr.rest(), []);
  assert.deepEqual(await greg.stdout.take(1), ["greg vlad"]);
  assert.deepEqual(await vlad.stdout.take(1), ["greg vlad"]);
  assert.deepEqual(await started.server.stderr.take(4), [
    "+ greg (1 online)",
    "+ bob (2 online)",
    "+ vlad (3 online)",
    "- bob (2 online)",
  ]);
});

Deno.test("roster server reads a bare name, a name with LF and one with CRLF", async () => {
  await using started = await startRosterServer();
  await using bare = await connectRaw(started.port, "greg");
  assert.equal(await bare.lines.next(), "greg");
  await using lf = await connectRaw(started.port, "bob\n");
  assert.equal(await lf.lines.next(), "bob greg");
  await using crlf = await connectRaw(started.port, "vlad\r\n");
  assert.equal(await crlf.lines.next(), "bob greg vlad");
  assert.deepEqual(await bare.lines.take(2), ["bob greg", "bob greg vlad"]);
});

Deno.test("roster server sorts names by code point, as Python's sorted()", async () => {
  await using started = await startRosterServer();
  const names = ["b", "B", "a", "A1", "10", "9", "Zz"];
  const clients: RawClient[] = [];
  try {
    for (const name of names) clients.push(await join(started.port, name));
    const last = await clients[0]!.lines.take(names.length - 1);
    assert.equal(last.at(-1), "10 9 A1 B Zz a b");
  } finally {
    for (const client of clients) await client[Symbol.asyncDispose]();
  }
});

Deno.test("roster server refuses duplicate, invalid and over-long names without notifying anyone", async () => {
  await using started = await startRosterServer();
  await using greg = await join(started.port, "greg");
  const refusals: [string, RegExp][] = [
    ["greg\n", /^error: name "greg" is already connected$/],
    ["bad name\n", /^error: invalid name "bad name": /],
    ["x".repeat(21) + "\n", /^error: invalid name "x{21}": /],
    ["\n", /^error: invalid name "": /],
  ];
  for (const [greeting, expected] of refusals) {
    await using refused = await connectRaw(started.port, greeting);
    assert.match((await refused.lines.next()) ?? "", expected);
    assert.equal(await refused.lines.next(), null, "then the server closes");
  }
  await using bob = await join(started.port, "bob");
  assert.equal(await greg.lines.next(), "bob greg", "greg saw no other line");
  void bob;
});

Deno.test("roster client prints the server's refusal on stderr and exits 1", async () => {
  await using started = await startRosterServer();
  await using greg = await join(started.port, "greg");
  await using duplicate = spawnProgram("roster-client", [
    `127.0.0.1:${started.port}`,
    "greg",
  ]);
  assert.equal((await duplicate.exit()).code, 1);
  assert.deepEqual(await duplicate.stderr.rest(), [
    'error: name "greg" is already connected',
  ]);
  assert.deepEqual(await duplicate.stdout.rest(), []);
  void greg;
});

Deno.test("roster server refuses a client past --max-clients", async () => {
  await using started = await startRosterServer("--max-clients", "2");
  await using a = await join(started.port, "a");
  await using b = await join(started.port, "b");
  await using c = await connectRaw(started.port, "c\n");
  assert.equal(await c.lines.next(), "error: server is full (2 clients)");
  void [a, b];
});

Deno.test("roster server drops a client that sends no name in time, without blocking others", async () => {
  await using started = await startRosterServer("--handshake-timeout", "1");
  await using silent = await connectRaw(started.port);
  await using greg = await join(started.port, "greg");
  assert.equal(await silent.lines.next(), null, "silent client is closed");
  await using bob = await join(started.port, "bob");
  assert.equal(await greg.lines.next(), "bob greg");
  void bob;
});

Deno.test("roster server closes connections past --max-pending at once, and a real client joins once the silent ones are gone", async () => {
  await using started = await startRosterServer(
    ...["--max-pending", "3", "--handshake-timeout", "60"],
  );
  const silent = await Promise.all(
    [1, 2, 3].map(() => connectRaw(started.port)),
  );
  try {
    // Well before the 60 s deadline: closed because 3 are pending.
    await using extra = await connectRaw(started.port, "bob\n");
    assert.equal(await extra.lines.next(10_000), null, "4th pending closed");
  } finally {
    for (const client of silent) await client[Symbol.asyncDispose]();
  }
  // The server sees the silent ones go a moment later.
  const greg = await within(
    (async () => {
      while (true) {
        try {
          return await join(started.port, "greg");
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    })(),
    "greg to join",
  );
  await greg[Symbol.asyncDispose]();
});

Deno.test("roster server treats an abrupt reset as a leave", async () => {
  await using started = await startRosterServer();
  await using greg = await join(started.port, "greg");
  const doomed = await join(started.port, "doomed");
  await using bob = await join(started.port, "bob");
  // doomed leaves "bob doomed greg" unread, so closing it sends a reset.
  doomed.conn.close();
  assert.deepEqual(await greg.lines.take(3), [
    "doomed greg",
    "bob doomed greg",
    "bob greg",
  ]);
  assert.deepEqual(await bob.lines.take(1), ["bob greg"]);
});

Deno.test("roster server brings 200 clients joining at once to the full roster", async () => {
  await using started = await startRosterServer("--quiet");
  const names = Array.from({ length: 200 }, (_, i) => `c${i}`);
  const expected = sortedLine(names);
  const clients = await Promise.all(
    names.map((name) => connectRaw(started.port, name)),
  );
  try {
    await Promise.all(clients.map(async (client, i) => {
      let line: string | null = "";
      while (line !== expected) {
        line = await client.lines.next();
        assert.notEqual(line, null, `${names[i]} ended before the full roster`);
      }
    }));
  } finally {
    for (const client of clients) await client[Symbol.asyncDispose]();
  }
});

Deno.test("roster server keeps updating a reader while 100 clients never read", async () => {
  await using started = await startRosterServer("--quiet");
  const { pid } = started.server.process;
  const rssBefore = (await processStats(pid)).rssBytes;
  // 100 clients that never read, with names long enough that each roster
  // line is about 2 KB: 4000 events push 8 MB at each of them, more than the
  // kernel's socket buffers hold, so the server must bound what it keeps.
  const crowd = Array.from(
    { length: 100 },
    (_, i) => `stalled${i}`.padEnd(20, "x"),
  );
  const stalled: RawClient[] = [];
  try {
    for (const name of crowd) {
      stalled.push(await connectRaw(started.port, name));
    }
    await using reader = await connectRaw(started.port, "reader");
    const base = sortedLine([...crowd, "reader"]);
    const withChurn = sortedLine([...crowd, "reader", "churn"]);
    assert.equal(await reader.lines.next(), base);
    for (let i = 0; i < 2000; i++) {
      const churn = await connectRaw(started.port, "churn");
      assert.equal(await reader.lines.next(), withChurn);
      await churn[Symbol.asyncDispose]();
      assert.equal(await reader.lines.next(), base);
    }
    const growth = (await processStats(pid)).rssBytes - rssBefore;
    assert.ok(growth < 128 * 1024 * 1024, `server RSS grew ${growth} bytes`);
    // A stalled client that starts reading catches up to the newest roster.
    const late = stalled[0]!.lines;
    for (
      let line = await late.next();
      line !== base;
      line = await late.next()
    ) {
      assert.notEqual(line, null);
    }
  } finally {
    for (const client of stalled) await client[Symbol.asyncDispose]();
  }
});

Deno.test("roster server closes every client and exits 0 on SIGINT", async () => {
  await using started = await startRosterServer();
  const address = `127.0.0.1:${started.port}`;
  await using greg = spawnProgram("roster-client", [address, "greg"]);
  await greg.stdout.take(1);
  await using raw = await join(started.port, "bob");
  started.server.kill("SIGINT");
  assert.equal((await started.server.exit(5000)).code, 0);
  assert.equal(await raw.lines.next(), null, "raw client sees EOF");
  assert.equal((await greg.exit()).code, 1);
  assert.match(
    (await greg.stderr.rest()).join("\n"),
    /^error: Server ".*" closed the connection$/,
  );
});

Deno.test("roster client exits 0 with nothing on stderr on SIGINT and SIGTERM", async () => {
  await using started = await startRosterServer();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    await using client = spawnProgram("roster-client", [
      `127.0.0.1:${started.port}`,
      "greg",
    ]);
    assert.deepEqual(await client.stdout.take(1), ["greg"]);
    client.kill(signal);
    assert.equal((await client.exit()).code, 0);
    assert.deepEqual(await client.stderr.rest(), []);
  }
});

Deno.test("roster client against a closed port says which address failed and exits 1", async () => {
  const port = deadPort();
  await using client = spawnProgram("roster-client", [
    `127.0.0.1:${port}`,
    "greg",
  ]);
  assert.equal((await client.exit()).code, 1);
  const stderr = await client.stderr.rest();
  assert.equal(stderr.length, 1);
  assert.match(
    stderr[0]!,
    new RegExp(
      `^error: Cannot connect to "127\\.0\\.0\\.1:${port}": .*refused`,
      "i",
    ),
  );
});

Deno.test("roster server reports a port in use in one line and exits 1", async () => {
  await using started = await startRosterServer();
  await using second = spawnProgram("roster-server", [
    String(started.port),
    "--host",
    "127.0.0.1",
  ]);
  assert.equal((await second.exit()).code, 1);
  assert.deepEqual(await second.stderr.rest(), [
    `error: Cannot listen on "127.0.0.1:${started.port}": address already in use`,
  ]);
});

Deno.test("roster programs print usage and exit 2 on bad arguments", async () => {
  const cases: [ProgramName, string[], RegExp][] = [
    ["roster-server", [], /Missing argument PORT/],
    ["roster-server", ["70000"], /Invalid port "70000"/],
    ["roster-server", ["5555", "6666"], /Unexpected argument "6666"/],
    [
      "roster-server",
      ["5555", "--max-clients", "0"],
      /Invalid --max-clients "0"/,
    ],
    ["roster-server", ["5555", "--bogus"], /Unknown option '--bogus'/],
    ["roster-client", [], /Missing argument HOST:PORT/],
    ["roster-client", ["127.0.0.1:5555"], /Missing argument NAME/],
    ["roster-client", ["127.0.0.1", "greg"], /missing port/],
    [
      "roster-client",
      ["127.0.0.1:5555", "bad-name"],
      /Invalid name "bad-name"/,
    ],
    ["roster-client", ["127.0.0.1:5555", "x".repeat(21)], /Invalid name/],
  ];
  for (const [name, args, expected] of cases) {
    await using program = spawnProgram(name, args);
    assert.equal((await program.exit()).code, 2, `${name} ${args.join(" ")}`);
    const stderr = (await program.stderr.rest()).join("\n");
    assert.match(stderr, expected);
    assert.match(stderr, new RegExp(`Usage: ${name}`));
  }
});

Deno.test("roster programs print help on stdout and exit 0", async () => {
  for (const name of ["roster-server", "roster-client"] as const) {
    await using program = spawnProgram(name, ["--help"]);
    assert.equal((await program.exit()).code, 0);
    assert.match(
      (await program.stdout.rest())[0] ?? "",
      new RegExp(`^Usage: ${name}`),
    );
  }
});

/** The roster line for `names`: sorted by code point, joined by spaces. */
function sortedLine(names: string[]): string {
  return [...names].sort((a, b) => (a < b ? -1 : 1)).join(" ");
}
