/**
 * One WebSocket roster client on the server: its handshake (the token and
 * name messages, within the handshake timeout), its join through the
 * {@linkcode RosterHub}, and once joined its bounded outgoing messages.
 *
 * Deno's WebSocket has no drain event: `send` never blocks, and
 * `bufferedAmount` counts what it has not written yet. So a member sends
 * while that count is under the bound, keeps only the newest roster past it
 * (each roster is a full snapshot), and is looked at again by one shared
 * {@linkcode DrainWatch} timer while anything waits.
 *
 * @module
 */
import type { Deadlines } from "../lib/deadlines.ts";
import type { TokenGate } from "../lib/token.ts";
import { ERROR_LINE_PREFIX, type Handshake } from "./protocol.ts";
import type { RosterMember } from "./roster_connection.ts";
import type { RosterHub } from "./roster_server.ts";
import {
  type LineMessages,
  parseNameMessage,
  parseTokenMessage,
  POLICY_VIOLATION,
} from "./web_protocol.ts";

/** What every WebSocket client of one server shares. */
export interface WebSessionSettings {
  /** The roster the clients join. */
  hub: RosterHub;
  /** Require a `TOKEN` message first; none when absent. */
  token?: TokenGate | undefined;
  /** How long a client may take from the upgrade to its name, in ms. */
  handshakeTimeoutMs: number;
  /** The most unsent bytes kept for one client; past it only the newest roster. */
  maxPendingBytes: number;
  /** The handshake deadlines, on one timer. */
  deadlines: Deadlines;
  /** The text of each roster line, decoded once for every client. */
  messages: LineMessages;
  /** The members waiting for their socket to drain. */
  drain: DrainWatch;
}

/** Something that sends what waits and says whether anything still does. */
interface Draining {
  /** Sends what it can; true once nothing waits. */
  drain(): boolean;
}

/**
 * Looks again, every `intervalMs`, at the members whose socket had too much
 * unsent, on one timer that runs only while one of them waits.
 */
export class DrainWatch {
  readonly #waiting = new Set<Draining>();
  readonly #intervalMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** A watch that looks every `intervalMs` milliseconds. */
  constructor(intervalMs = 50) {
    this.#intervalMs = intervalMs;
  }

  /** Looks at `member` until its drain says nothing waits. */
  watch(member: Draining): void {
    this.#waiting.add(member);
    this.#timer ??= setInterval(this.#look, this.#intervalMs);
  }

  /** Stops looking at anyone. */
  stop(): void {
    this.#waiting.clear();
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  readonly #look = (): void => {
    for (const member of this.#waiting) {
      if (member.drain()) this.#waiting.delete(member);
    }
    if (this.#waiting.size === 0) this.stop();
  };
}

/** A joined WebSocket client, as the broadcaster sees it. */
class WebMember implements RosterMember, Draining {
  readonly name: string;
  readonly #socket: WebSocket;
  readonly #settings: WebSessionSettings;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;

  constructor(name: string, socket: WebSocket, settings: WebSessionSettings) {
    this.name = name;
    this.#socket = socket;
    this.#settings = settings;
  }

  /**
   * Queues `line`; past the bound, the older unsent rosters are dropped.
   * Returns how many were dropped.
   */
  queue(line: Uint8Array): number {
    const unsent = this.#socket.bufferedAmount + this.#pendingBytes;
    let dropped = 0;
    if (unsent + line.length > this.#settings.maxPendingBytes) {
      dropped = this.#pending.length;
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    this.#pending.push(line);
    this.#pendingBytes += line.length;
    return dropped;
  }

  /** Sends what waits, and has the watch look again if the socket is full. */
  flush(): void {
    if (!this.drain()) this.#settings.drain.watch(this);
  }

  /** Sends waiting rosters while the socket's unsent bytes are under the bound. */
  drain(): boolean {
    const socket = this.#socket;
    const { maxPendingBytes, messages } = this.#settings;
    if (socket.readyState !== WebSocket.OPEN) {
      this.#pending = [];
      this.#pendingBytes = 0;
      return true;
    }
    let sent = 0;
    while (
      sent < this.#pending.length && socket.bufferedAmount < maxPendingBytes
    ) {
      const line = this.#pending[sent++]!;
      this.#pendingBytes -= line.length;
      socket.send(messages.text(line));
    }
    this.#pending = sent === this.#pending.length
      ? []
      : this.#pending.slice(sent);
    return this.#pending.length === 0;
  }

  /** Sends the `error:` line as the last message, then closes with 1008. */
  end(line: Uint8Array): void {
    this.#pending = [];
    this.#pendingBytes = 0;
    refuse(this.#socket, this.#settings.messages.text(line));
  }
}

/** Sends `message` (an `error:` text) and closes with code 1008. */
function refuse(socket: WebSocket, message: string): void {
  if (socket.readyState !== WebSocket.OPEN) return;
  socket.send(message);
  socket.close(POLICY_VIOLATION);
}

/**
 * Runs one upgraded WebSocket from its handshake to its close: `remoteHost`
 * is the client's address, for the token throttle. Resolves once the socket
 * is closed and the member, if it joined, has left.
 */
export function runWebSession(
  socket: WebSocket,
  remoteHost: string,
  settings: WebSessionSettings,
): Promise<void> {
  const { hub, token, deadlines } = settings;
  let stage: "token" | "checking" | "name" | "joining" | "joined" | "closed" =
    token ? "token" : "name";
  let member: RosterMember | undefined;
  const { promise: closed, resolve } = Promise.withResolvers<void>();
  const deadline = deadlines.add(settings.handshakeTimeoutMs, () => {
    if (stage === "token" || stage === "checking" || stage === "name") {
      socket.close(POLICY_VIOLATION);
    }
  });
  const refuseWith = (reason: string) => {
    stage = "closed";
    deadlines.remove(deadline);
    refuse(socket, `${ERROR_LINE_PREFIX}${reason}`);
  };
  const join = async (handshake: Handshake) => {
    stage = "joining";
    deadlines.remove(deadline);
    const outcome = await hub.enter(
      handshake,
      (name) => new WebMember(name, socket, settings),
    );
    if (typeof outcome === "string") return refuseWith(outcome);
    member = outcome;
    if (socket.readyState === WebSocket.OPEN) stage = "joined";
    else hub.leave(outcome);
  };
  let early: string | undefined;
  socket.onmessage = ({ data }: MessageEvent) => {
    const text = typeof data === "string" ? data : undefined;
    if (stage === "token") {
      const message = parseTokenMessage(text ?? "");
      if ("error" in message) return refuseWith(message.error);
      // The name may arrive while the token is checked: it waits for it.
      stage = "checking";
      token!.check(remoteHost, message.token).then((verdict) => {
        if (stage !== "checking") return;
        if (!verdict.ok) return refuseWith(verdict.reason);
        stage = "name";
        if (early !== undefined) return join(parseNameMessage(early));
      }).catch(() => socket.close());
    } else if (stage === "checking") {
      early ??= text ?? "";
    } else if (stage === "name") {
      join(parseNameMessage(text ?? "")).catch(() => socket.close());
    }
    // Once joining, a client's messages are read only to be dropped.
  };
  socket.onclose = () => {
    deadlines.remove(deadline);
    if (stage === "joined" && member) hub.leave(member);
    stage = "closed";
    resolve();
  };
  socket.onerror = () => {
    // The close event follows and makes the client leave.
  };
  return closed;
}
