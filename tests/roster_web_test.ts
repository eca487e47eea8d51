/**
 * End-to-end tests of `roster-server --web`: the page over HTTP(S), and
 * WebSocket clients joining the same roster as TCP clients.
 */
import assert from "node:assert/strict";
import {
  connectRaw,
  isSubsequence,
  joinRoster,
  processStats,
  type RawClient,
} from "./harness.ts";
import { makeTestPki, TEST_TOKEN, WRONG_TOKEN } from "./tls_fixtures.ts";
import {
  joinWeb,
  joinWebNeverReading,
  startWebRoster,
  WsClient,
} from "./web_clients.ts";

/** Asks for a WebSocket upgrade of /roster with `origin`; resolves to the status. */
async function upgradeStatus(
  webPort: number,
  origin?: string,
): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${webPort}/roster`, {
    headers: {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
      ...(origin === undefined ? {} : { origin }),
    },
  });
  await response.body?.cancel();
  return response.status;
}

function sortedLine(names: string[]): string {
  return [...names].sort((a, b) => (a < b ? -1 : 1)).join(" ");
}

Deno.test("roster-server --web logs the page's URL after the listening line and serves it as text/html", async () => {
  await using started = await startWebRoster();
  assert.equal(started.url, `http://127.0.0.1:${started.webPort}/`);
  const page = await fetch(started.url);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
  const html = await page.text();
  assert.match(html, /<script type="module">/);
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=/, "no CDN");
  const missing = await fetch(new URL("/nothing", started.url));
  await missing.body?.cancel();
  assert.equal(missing.status, 404);
});

Deno.test("roster-server --web with --tls-cert serves the page over HTTPS", async () => {
  await using pki = await makeTestPki();
  await using started = await startWebRoster(
    ...["--tls-cert", pki.cert, "--tls-key", pki.key],
  );
  assert.equal(started.url, `https://127.0.0.1:${started.webPort}/`);
  const client = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(pki.ca)],
  });
  try {
    const page = await fetch(started.url, { client });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Roster<\/title>/);
  } finally {
    client.close();
  }
});

Deno.test("roster WebSocket and TCP clients join one roster, each roster one text message", async () => {
  await using started = await startWebRoster();
  await using alice = await joinWeb(started.webPort, "alice");
  assert.equal(alice.lines.seen[0], "alice");
  await using bob = await joinRoster(started.port, "bob");
  assert.equal(await alice.lines.next(), "alice bob");
  await using carol = await joinWeb(started.webPort, "carol");
  assert.equal(carol.lines.seen[0], "alice bob carol");
  assert.equal(await alice.lines.next(), "alice bob carol");
  assert.equal(await bob.lines.next(), "alice bob carol");
  await bob[Symbol.asyncDispose]();
  assert.equal(await alice.lines.next(), "alice carol");
  await carol[Symbol.asyncDispose]();
  assert.equal(await alice.lines.next(), "alice");
});

Deno.test("roster WebSocket refusals are one error message and a close with code 1008", async () => {
  await using started = await startWebRoster("--max-clients", "3");
  await using alice = await joinWeb(started.webPort, "alice");
  await using bob = await joinRoster(started.port, "bob");
  const url = `ws://127.0.0.1:${started.webPort}/roster`;
  const cases: [string[], string][] = [
    [["alice"], 'error: name "alice" is already connected'],
    [["bob"], 'error: name "bob" is already connected'],
    [["no way"], /^error: invalid name "no way": /.source],
    [["TOKEN x"], "error: this server takes no token: connect without one"],
  ];
  for (const [messages, expected] of cases) {
    await using client = new WsClient(url, messages);
    assert.match(await client.lines.next() ?? "", new RegExp(expected));
    assert.equal(await client.lines.next(), null);
    assert.equal(await client.closed, 1008);
  }
  // --max-clients counts both kinds: a third joins, a fourth of either is refused.
  await using carol = await joinWeb(started.webPort, "carol");
  await using dave = new WsClient(url, ["dave"]);
  assert.equal(await dave.lines.next(), "error: server is full (3 clients)");
  assert.equal(await dave.closed, 1008);
  await using erin = await connectRaw(started.port, "erin\n");
  assert.equal(await erin.lines.next(), "error: server is full (3 clients)");
  // A TCP client cannot take a WebSocket client's name either.
  await bob[Symbol.asyncDispose]();
  await using alice2 = await connectRaw(started.port, "alice\n");
  assert.equal(
    await alice2.lines.next(),
    'error: name "alice" is already connected',
  );
  void [alice, carol];
});

Deno.test("roster WebSocket with --token-file: TOKEN message first, a wrong or missing one refused", async () => {
  await using pki = await makeTestPki();
  await using started = await startWebRoster("--token-file", pki.tokenFile);
  await using alice = await joinWeb(started.webPort, "alice", TEST_TOKEN);
  const url = `ws://127.0.0.1:${started.webPort}/roster`;
  await using bare = new WsClient(url, ["bob"]);
  assert.match(await bare.lines.next() ?? "", /^error: missing token/);
  assert.equal(await bare.closed, 1008);
  await using wrong = new WsClient(url, [`TOKEN ${WRONG_TOKEN}`, "bob"]);
  const refusal = await wrong.lines.next() ?? "";
  assert.match(refusal, /^error: /);
  assert.ok(!refusal.includes(WRONG_TOKEN), "the token is never quoted");
  assert.equal(await wrong.closed, 1008);
  assert.equal(alice.lines.queued, 0, "refused clients never joined");
});

Deno.test("roster WebSocket upgrades: a foreign Origin gets 403 unless --web-origin allows it", async () => {
  await using strict = await startWebRoster();
  const own = `http://127.0.0.1:${strict.webPort}`;
  assert.equal(
    await upgradeStatus(strict.webPort, "https://evil.example"),
    403,
  );
  assert.equal(await upgradeStatus(strict.webPort, own), 101);
  assert.equal(await upgradeStatus(strict.webPort), 101, "no Origin: allowed");
  await using listed = await startWebRoster(
    ...["--web-origin", "https://app.example"],
  );
  assert.equal(await upgradeStatus(listed.webPort, "https://app.example"), 101);
  assert.equal(
    await upgradeStatus(listed.webPort, "https://evil.example"),
    403,
  );
  await using open = await startWebRoster("--web-origin", "*");
  assert.equal(await upgradeStatus(open.webPort, "https://evil.example"), 101);
});

Deno.test("roster WebSocket that sends no name in time is closed, without blocking others", async () => {
  await using started = await startWebRoster("--handshake-timeout", "1");
  await using silent = new WsClient(
    `ws://127.0.0.1:${started.webPort}/roster`,
    [],
  );
  await using greg = await joinWeb(started.webPort, "greg");
  assert.equal(await silent.lines.next(), null, "silent client is closed");
  assert.equal(await silent.closed, 1008);
  await using _bob = await joinRoster(started.port, "bob");
  assert.equal(await greg.lines.next(), "bob greg");
});

Deno.test("roster server keeps updating a reader while 100 WebSocket clients never read, its memory bounded", async () => {
  await using started = await startWebRoster("--quiet");
  const { pid } = started.server.process;
  const rssBefore = (await processStats(pid)).rssBytes;
  // Names long enough that each roster is about 2 KB: 4000 changes push 8 MB
  // at each stalled client, more than the kernel's socket buffers hold.
  const crowd = Array.from(
    { length: 100 },
    (_, i) => `stalled${i}`.padEnd(20, "x"),
  );
  const stalled: Deno.TcpConn[] = [];
  try {
    for (const name of crowd) {
      stalled.push(await joinWebNeverReading(started.webPort, name));
    }
    await using reader = await joinWeb(started.webPort, "reader");
    const base = sortedLine([...crowd, "reader"]);
    while (reader.lines.seen.at(-1) !== base) await reader.lines.next();
    while (reader.lines.queued > 0) await reader.lines.next();
    const withChurn = sortedLine([...crowd, "reader", "churn"]);
    for (let i = 0; i < 2000; i++) {
      const churn: RawClient = await connectRaw(started.port, "churn");
      assert.equal(await reader.lines.next(), withChurn);
      await churn[Symbol.asyncDispose]();
      assert.equal(await reader.lines.next(), base);
    }
    const growth = (await processStats(pid)).rssBytes - rssBefore;
    assert.ok(growth < 64 * 1024 * 1024, `server RSS grew ${growth} bytes`);
  } finally {
    for (const conn of stalled) conn.close();
  }
});

Deno.test("roster server brings 200 WebSocket and TCP clients, mixed, through one order of rosters", async () => {
  await using started = await startWebRoster("--quiet");
  const names = Array.from({ length: 200 }, (_, i) => `c${i}`);
  const clients = await Promise.all(
    names.map((name, i) =>
      i % 2 === 0
        ? new WsClient(`ws://127.0.0.1:${started.webPort}/roster`, [name])
        : connectRaw(started.port, name)
    ),
  );
  try {
    const full = sortedLine(names);
    await Promise.all(clients.map(async (client) => {
      while (client.lines.seen.at(-1) !== full) {
        assert.notEqual(await client.lines.next(), null);
      }
    }));
    // Half of them leave, alternating kinds; the rest see every leave.
    const leaving = clients.filter((_, i) => i % 4 < 2);
    const staying = clients.filter((_, i) => i % 4 >= 2);
    const rest = sortedLine(names.filter((_, i) => i % 4 >= 2));
    await Promise.all(leaving.map((client) => client[Symbol.asyncDispose]()));
    await Promise.all(staying.map(async (client) => {
      while (client.lines.seen.at(-1) !== rest) {
        assert.notEqual(await client.lines.next(), null);
      }
    }));
    // One order: every client's rosters are a subsequence of the longest.
    const longest = staying.map((client) => client.lines.seen)
      .reduce((a, b) => (a.length >= b.length ? a : b));
    for (const client of staying) {
      assert.ok(
        isSubsequence(client.lines.seen, longest),
        "a client saw the rosters in another order",
      );
    }
  } finally {
    for (const client of clients) await client[Symbol.asyncDispose]();
  }
});
