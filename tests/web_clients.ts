/**
 * WebSocket clients of `roster-server --web` for tests and the bench: a
 * server started with `--web`, a client whose messages are read as lines,
 * and a raw client that upgrades, joins and then never reads.
 *
 * @module
 */
import {
  LineQueue,
  spawnProgram,
  type StartedServer,
  within,
} from "./harness.ts";

/** A roster server with its web side, started by {@linkcode startWebRoster}. */
export interface WebRoster extends StartedServer {
  /** The port of its web side. */
  webPort: number;
  /** The page's URL, as the server logged it. */
  url: string;
}

/**
 * Starts `roster-server 0 --host 127.0.0.1 --web 127.0.0.1:0` with `extra`
 * options, and reads both ports from its first two lines on stderr.
 */
export async function startWebRoster(
  ...extra: string[]
): Promise<WebRoster> {
  const server = spawnProgram("roster-server", [
    ...["0", "--host", "127.0.0.1", "--web", "127.0.0.1:0"],
    ...extra,
  ]);
  const first = await server.stderr.next();
  const second = await server.stderr.next();
  const port = Number(first?.match(/listening on .*:(\d+)$/)?.[1]);
  const url = second?.match(/^roster-server web page on (\S+)$/)?.[1];
  const webPort = Number(url?.match(/:(\d+)\/$/)?.[1]);
  if (!port || !url || !webPort) {
    await server[Symbol.asyncDispose]();
    throw new Error(`roster-server said ${JSON.stringify([first, second])}`);
  }
  return {
    server,
    port,
    webPort,
    url,
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}

/** A WebSocket roster client whose text messages are read as lines. */
export class WsClient implements AsyncDisposable {
  /** The socket. */
  readonly socket: WebSocket;
  /** Every message, in order; null once the socket has closed. */
  readonly lines: LineQueue;
  /** Resolves to the close code once the socket has closed. */
  readonly closed: Promise<number>;

  /** Opens `url`; `messages` are sent, in order, once it opens. */
  constructor(url: string, messages: string[]) {
    const socket = new WebSocket(url);
    this.socket = socket;
    const { promise, resolve } = Promise.withResolvers<number>();
    this.closed = promise;
    const encoder = new TextEncoder();
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        socket.onopen = () => messages.forEach((text) => socket.send(text));
        socket.onmessage = ({ data }) =>
          controller.enqueue(encoder.encode(`${data}\n`));
        socket.onclose = ({ code }) => {
          controller.close();
          resolve(code);
        };
        socket.onerror = () => {};
      },
    });
    this.lines = new LineQueue(stream);
  }

  /** Closes the socket and waits for the close. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.socket.close();
    } catch {
      // Closed already.
    }
    await within(this.closed, "a WebSocket to close").catch(() => {});
  }
}

/**
 * Joins the web side on 127.0.0.1:`webPort` as `name` (after `TOKEN token`
 * when given) and waits for its first roster, which must hold the name.
 */
export async function joinWeb(
  webPort: number,
  name: string,
  token?: string,
): Promise<WsClient> {
  const client = new WsClient(
    `ws://127.0.0.1:${webPort}/roster`,
    token === undefined ? [name] : [`TOKEN ${token}`, name],
  );
  const first = await client.lines.next();
  if (!first?.split(" ").includes(name)) {
    await client[Symbol.asyncDispose]();
    throw new Error(`${name} got ${JSON.stringify(first)} instead of a roster`);
  }
  return client;
}

/**
 * Opens a WebSocket on 127.0.0.1:`webPort` by hand, reads the server's
 * `101` answer, sends `name` as one masked text frame, and then never reads
 * again; close the connection when done.
 */
export async function joinWebNeverReading(
  webPort: number,
  name: string,
): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: webPort });
  const request = [
    "GET /roster HTTP/1.1",
    `Host: 127.0.0.1:${webPort}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    "",
    "",
  ].join("\r\n");
  const payload = new TextEncoder().encode(name);
  // FIN + text, masked with the key 0 (allowed; XOR with 0 changes nothing).
  const frame = new Uint8Array([0x81, 0x80 | payload.length, 0, 0, 0, 0]);
  const encoder = new TextEncoder();
  await conn.write(encoder.encode(request));
  const answer = new Uint8Array(512);
  const count = await within(conn.read(answer), "the upgrade's answer");
  const head = new TextDecoder().decode(answer.subarray(0, count ?? 0));
  if (!head.startsWith("HTTP/1.1 101")) {
    conn.close();
    throw new Error(`The upgrade was answered ${JSON.stringify(head)}`);
  }
  await conn.write(new Uint8Array([...frame, ...payload]));
  return conn;
}
