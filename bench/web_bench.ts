/**
 * The roster's web side measured against its TCP side: the same churn with
 * N WebSocket readers or N TCP readers on one `roster-server --web`, server
 * CPU per change and idle RSS per client.
 *
 * @module
 */
import { processStats, within } from "../tests/harness.ts";
import { startWebRoster } from "../tests/web_clients.ts";
import { rosterLineLength, RosterLoad } from "./roster_load.ts";

/** What one run measured. */
export interface WebChurnResult {
  /** Server CPU time per change (a join or a leave), in milliseconds. */
  cpuMsPerChange: number;
  /** Server RSS growth per joined client, once idle, in bytes. */
  rssPerClient: number;
}

const LIMIT_MS = 120_000;

/** WebSocket readers that can be awaited until each has one roster. */
class WsReaders implements AsyncDisposable {
  readonly #sockets: WebSocket[] = [];
  readonly #last: string[] = [];
  #want = "";
  #met = 0;
  #resolve: (() => void) | undefined;

  /** Joins `name` on the web side at `webPort`; resolves once it is open. */
  async join(webPort: number, name: string): Promise<void> {
    const socket = new WebSocket(`ws://127.0.0.1:${webPort}/roster`);
    const index = this.#sockets.push(socket) - 1;
    this.#last.push("");
    socket.onmessage = ({ data }) => {
      const was = this.#last[index] === this.#want;
      this.#last[index] = data;
      const is = data === this.#want;
      if (is && !was) this.#met++;
      if (!is && was) this.#met--;
      if (this.#met === this.#sockets.length) this.#resolve?.();
    };
    await new Promise((resolve) => (socket.onopen = resolve));
    socket.send(name);
  }

  /** Resolves once every reader's newest roster is `line`. */
  expect(line: string): Promise<void> {
    this.#want = line;
    this.#met = this.#last.filter((last) => last === line).length;
    return new Promise((resolve) => {
      this.#resolve = resolve;
      if (this.#met === this.#sockets.length) resolve();
    });
  }

  /** Closes every socket. */
  [Symbol.asyncDispose](): Promise<void> {
    for (const socket of this.#sockets) socket.close();
    return Promise.resolve();
  }
}

/**
 * With `readers` clients of `kind` joined, a TCP client joins and leaves
 * `cycles` times; measures the server's CPU per change until every reader
 * has the new roster, and its idle RSS per reader.
 */
export async function webChurn(
  readers: number,
  kind: "tcp" | "websocket",
  cycles = 50,
): Promise<WebChurnResult> {
  await using started = await startWebRoster("--quiet");
  const { pid } = started.server.process;
  const names = Array.from({ length: readers }, (_, i) => `reader${i}`);
  const base = [...names].sort((a, b) => (a < b ? -1 : 1));
  const withChurner = [...base, "churner"].sort((a, b) => (a < b ? -1 : 1));
  await using tcp = new RosterLoad(started.port);
  await using ws = new WsReaders();
  const expect = (roster: string[]): Promise<unknown> =>
    kind === "tcp"
      ? tcp.expect(rosterLineLength(roster))
      : ws.expect(roster.join(" "));
  const before = await processStats(pid);
  const joined = expect(base);
  for (const name of names) {
    if (kind === "tcp") await tcp.join(name);
    else await ws.join(started.webPort, name);
  }
  await within(joined, `${readers} readers to join`, LIMIT_MS);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const idle = await processStats(pid);
  for (let i = 0; i < cycles; i++) {
    const added = expect(withChurner);
    const churner = await tcp.join("churner", false);
    await within(added, "a join", LIMIT_MS);
    const removed = expect(base);
    tcp.leave(churner);
    await within(removed, "a leave", LIMIT_MS);
  }
  const after = await processStats(pid);
  return {
    cpuMsPerChange: (after.cpuSeconds - idle.cpuSeconds) * 1000 /
      (2 * cycles),
    rssPerClient: (idle.rssBytes - before.rssBytes) / readers,
  };
}
