/**
 * The client side of `Session`: the queue operations sent as commands over
 * one stream, any number in flight, answered in order. Against a server
 * without `Session` (the version-1 contract) it falls back to unary calls,
 * made one at a time so that they still run in order.
 *
 * The stream is spoken with `node:http2` rather than grpc-js: grpc-js sends
 * each message of a stream in its own write and event-loop turn, which costs
 * more than the command itself, while here the commands sent in one turn
 * go out in one write (or one per 64 commands, so the server starts on the
 * first while the client makes the next). The framing is gRPC's (a 5-byte
 * prefix per message, the status in the trailers); the messages are encoded
 * and decoded by hand (`session_codec.ts`) as proto-loader would.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import type { Buffer } from "node:buffer";
import http2 from "node:http2";
import { setImmediate } from "node:timers";
import { AUTHORIZATION_KEY } from "./credentials.ts";
import { MessageDecoder } from "./grpc_framing.ts";
import { HeadDeadline } from "./head_deadline.ts";
import { LeaseCheck } from "./lease_check.ts";
import { type Command, QUEUE_SERVICE_NAME, type Reply } from "./proto.ts";
import { CommandWriter, decodeReply } from "./session_codec.ts";
import {
  type LeasedItem,
  leasedItem,
  type QueueCallError,
  type QueueClient,
  type QueueCount,
  type RemoteQueue,
} from "./queue_client.ts";
import { UnaryCommands } from "./unary_commands.ts";

/** A command sent and not yet answered. */
interface Pending {
  /** The command, kept to replay it over unary calls after a fallback. */
  command: Command;
  /** How long the server may wait on it, in milliseconds. */
  waitMs: number;
  resolve(reply: Reply): void;
  reject(error: QueueCallError): void;
}

/** One open stream and the commands sent on it, oldest first. */
interface OpenStream {
  stream: http2.ClientHttp2Stream;
  pending: Pending[];
  /** Whether the server has answered anything on it (so it has `Session`). */
  answered: boolean;
  /** Splits the received bytes into replies. */
  decoder: MessageDecoder;
}

/** The path of the `Session` method. */
const SESSION_PATH = `/${QUEUE_SERVICE_NAME}/Session`;

/** How many commands are written without waiting for the end of the turn. */
const WRITE_AT_COMMANDS = 64;

/** The proxy variables grpc-js honours; a raw stream would bypass them. */
const PROXY_VARIABLES = ["grpc_proxy", "https_proxy", "http_proxy"];

/**
 * The queue operations over `Session` streams to the server of a
 * {@linkcode QueueClient}. Each command may be sent before the answers to
 * the earlier ones arrive; answers come back in order. A command whose
 * answer does not arrive within the client's timeout (plus its own wait)
 * after the answer before it gives up the stream: every command still on it
 * fails with DEADLINE_EXCEEDED and the next command opens a new stream. A
 * stream that fails (the server went away) fails its commands with that
 * status, explained as the unary calls explain theirs. A server that
 * answers `Session` with UNIMPLEMENTED gets every command as a unary call
 * from then on, one at a time; so does a server reached through a proxy
 * (set in `grpc_proxy`, `https_proxy` or `http_proxy`), which grpc-js
 * handles.
 */
export class SessionClient implements RemoteQueue, Disposable {
  readonly #client: QueueClient;
  #connection: http2.ClientHttp2Session | undefined;
  #open: OpenStream | undefined;
  #unary: boolean;
  /** The commands made as unary calls (in fallback mode). */
  readonly #unaryCommands: UnaryCommands;
  /** Framed commands not yet written, and whether a write is scheduled. */
  readonly #outgoing = new CommandWriter();
  #writeScheduled = false;
  /** Holds commands back while it checks that the server has leases. */
  readonly #leaseCheck: LeaseCheck<Reply>;
  /** The deadline of the oldest unanswered command. */
  readonly #deadline: HeadDeadline;

  /** Sends commands to the server of `client`, with its timeout. */
  constructor(client: QueueClient) {
    this.#client = client;
    this.#unaryCommands = new UnaryCommands(client);
    this.#leaseCheck = new LeaseCheck(() => client.supportsLeases());
    this.#unary = PROXY_VARIABLES.some((name) => !!Deno.env.get(name));
    this.#deadline = new HeadDeadline(
      client.timeoutMs,
      () => this.#open?.pending[0]?.waitMs,
      () => {
        if (this.#open) {
          this.#giveUp(this.#open, grpc.status.DEADLINE_EXCEEDED, "");
        }
      },
    );
  }

  /** Appends `item`; resolves to false when the queue was full. */
  async put(item: string, waitMs = 0): Promise<boolean> {
    const reply = await this.#send({ put: { item, wait_ms: waitMs } }, waitMs);
    return reply.put?.added ?? false;
  }

  /** Resolves to the head item, or undefined when the queue is empty. */
  async peek(): Promise<string | undefined> {
    return (await this.#send({ peek: {} }, 0)).peek?.item;
  }

  /** Removes the head item and resolves to it, or to undefined when empty. */
  async pop(waitMs = 0): Promise<string | undefined> {
    return (await this.#send({ pop: { wait_ms: waitMs } }, waitMs)).pop?.item;
  }

  /** Resolves to the number of items queued. */
  async size(): Promise<number> {
    return (await this.#send({ size: {} }, 0)).size?.size ?? 0;
  }

  /** Resolves to the number of items queued and the number under lease. */
  async count(): Promise<QueueCount> {
    const { size = 0, leased = 0 } = (await this.#send({ size: {} }, 0)).size ??
      {};
    return { size, leased };
  }

  /**
   * Leases the head item for `leaseMs` milliseconds, waiting up to `waitMs`
   * for one; resolves to undefined when none came. The lease ends with the
   * stream if it is not acked before.
   */
  async lease(leaseMs: number, waitMs = 0): Promise<LeasedItem | undefined> {
    const command = { pop: { wait_ms: waitMs, lease_ms: leaseMs } };
    return leasedItem((await this.#send(command, waitMs, true)).pop ?? {});
  }

  /** Removes a leased item for good; false when `receipt` holds no lease. */
  async ack(receipt: string): Promise<boolean> {
    return (await this.#send({ ack: { receipt } }, 0, true)).ack?.acked ??
      false;
  }

  /** Puts a leased item back at the head; false when `receipt` holds no lease. */
  async release(receipt: string): Promise<boolean> {
    const reply = await this.#send({ release: { receipt } }, 0, true);
    return reply.release?.released ?? false;
  }

  /** Ends the lease `leaseMs` from now; false when `receipt` holds no lease. */
  async extend(receipt: string, leaseMs: number): Promise<boolean> {
    const command = { extend: { receipt, lease_ms: leaseMs } };
    return (await this.#send(command, 0, true)).extend?.extended ?? false;
  }

  /** Whether commands go as unary calls (no `Session`, or a proxy). */
  get unary(): boolean {
    return this.#unary;
  }

  /** Ends the stream and the connection; unanswered commands fail. */
  close(): void {
    this.#deadline.stop();
    if (this.#open) {
      this.#giveUp(this.#open, grpc.status.CANCELLED, "Client closed");
    }
    this.#connection?.destroy();
    this.#connection = undefined;
  }

  /** Ends the stream and the connection. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Sends `command`, in order with the others; a lease command (`leasing`)
   * first has the client check, once, that the server has leases (in a
   * Session, a server without them would answer INVALID_ARGUMENT, and ignore
   * a leasing Pop's lease).
   */
  #send(command: Command, waitMs: number, leasing = false): Promise<Reply> {
    return this.#leaseCheck.run(leasing, () => this.#sendNow(command, waitMs));
  }

  #sendNow(command: Command, waitMs: number): Promise<Reply> {
    if (this.#unary) return this.#unaryCommands.send(command);
    const open = this.#open ?? this.#openStream();
    const { promise, resolve, reject } = Promise.withResolvers<Reply>();
    open.pending.push({ command, waitMs, resolve, reject });
    this.#outgoing.add(command);
    if (this.#outgoing.count >= WRITE_AT_COMMANDS) {
      this.#open?.stream.write(this.#outgoing.take()!);
    } else if (!this.#writeScheduled) {
      this.#writeScheduled = true;
      setImmediate(this.#write);
    }
    if (open.pending.length === 1) this.#deadline.start(waitMs);
    return promise;
  }

  /** Writes every command sent since the last write, in one write. */
  #write = (): void => {
    this.#writeScheduled = false;
    const outgoing = this.#outgoing.take();
    if (outgoing !== undefined) this.#open?.stream.write(outgoing);
  };

  #openStream(): OpenStream {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.#request(this.#connection ?? this.#connect());
    } catch {
      // The connection was closing (the server sent GOAWAY): open another.
      stream = this.#request(this.#connect());
    }
    const open: OpenStream = {
      stream,
      pending: [],
      answered: false,
      decoder: new MessageDecoder(),
    };
    this.#open = open;
    stream.on("data", (chunk: Buffer) => this.#receive(open, chunk));
    // A trailers-only answer (such as UNIMPLEMENTED) carries the status in
    // its headers.
    let responded = false;
    stream.on("response", (headers) => {
      responded = true;
      this.#status(open, headers);
    });
    stream.on("trailers", (trailers) => this.#status(open, trailers));
    // A TLS server drops a plain connection before it answers anything.
    const closed = () =>
      responded
        ? "The connection was closed"
        : "The server closed the connection before answering";
    stream.on("error", (error: Error) => {
      const reset = /EPIPE|ECONNRESET/.test(error.message);
      this.#end(
        open,
        grpc.status.UNAVAILABLE,
        reset ? closed() : error.message,
      );
    });
    stream.on("close", () => {
      this.#end(open, grpc.status.UNAVAILABLE, closed());
    });
    return open;
  }

  /** Opens a new connection to the server, to use from now on. */
  #connect(): http2.ClientHttp2Session {
    const { target, tls } = this.#client;
    const connection = tls === undefined
      ? http2.connect(`http://${target}`)
      : http2.connect(`https://${target}`, {
        ...(tls.caCerts.length > 0 ? { ca: tls.caCerts } : {}),
        ...(tls.serverName === undefined ? {} : { servername: tls.serverName }),
      });
    // Its failures reach the streams, which report them.
    connection.on("error", () => {});
    const forget = () => {
      if (this.#connection === connection) this.#connection = undefined;
    };
    connection.on("goaway", forget);
    connection.on("close", forget);
    this.#connection = connection;
    return connection;
  }

  /** Starts a `Session` call on `connection`. */
  #request(connection: http2.ClientHttp2Session): http2.ClientHttp2Stream {
    const { token } = this.#client;
    return connection.request({
      ":method": "POST",
      ":path": SESSION_PATH,
      "content-type": "application/grpc",
      "te": "trailers",
      ...(token === undefined
        ? {}
        : { [AUTHORIZATION_KEY]: `Bearer ${token}` }),
    });
  }

  /**
   * Splits received bytes into replies and answers the commands; a reply
   * over the size limit fails the stream with RESOURCE_EXHAUSTED.
   */
  #receive(open: OpenStream, chunk: Buffer): void {
    // A stream given up has no commands left to answer.
    if (this.#open !== open) return;
    try {
      open.decoder.read(chunk, (bytes, start, end) => {
        this.#reply(open, bytes, start, end);
      });
    } catch (error: unknown) {
      const { message } = error as RangeError;
      this.#giveUp(open, grpc.status.RESOURCE_EXHAUSTED, message);
    }
  }

  /** Decodes one reply and answers its command; a bad one fails the stream. */
  #reply(open: OpenStream, bytes: Buffer, start: number, end: number): void {
    if (this.#open !== open) return;
    let reply: Reply;
    try {
      reply = decodeReply(bytes, start, end);
    } catch (error: unknown) {
      const { message } = error as Error;
      const details = `Response message parsing error: ${message}`;
      this.#giveUp(open, grpc.status.INTERNAL, details);
      return;
    }
    this.#answer(open, reply);
  }

  #answer(open: OpenStream, reply: Reply): void {
    open.answered = true;
    const pending = open.pending.shift();
    if (pending === undefined) return;
    const next = open.pending[0];
    if (next !== undefined) this.#deadline.start(next.waitMs);
    if (reply.result === "error") {
      const { code = grpc.status.UNKNOWN, message = "" } = reply.error ?? {};
      pending.reject(this.#client.explain(code, message, pending.waitMs));
    } else {
      pending.resolve(reply);
    }
  }

  /** Acts on the `grpc-status` in `headers`, if there is one. */
  #status(open: OpenStream, headers: http2.IncomingHttpHeaders): void {
    const status = headers["grpc-status"];
    if (status === undefined) return;
    const message = headers["grpc-message"];
    this.#end(
      open,
      Number(status),
      typeof message === "string" ? decodeURIComponent(message) : "",
    );
  }

  /** The stream ended with `code`: falls back, or fails what is pending. */
  #end(open: OpenStream, code: grpc.status, details: string): void {
    if (this.#open !== open) return;
    if (code === grpc.status.UNIMPLEMENTED && !open.answered) {
      this.#fallBack(open);
    } else if (code === grpc.status.OK) {
      this.#giveUp(
        open,
        grpc.status.UNAVAILABLE,
        "The server ended the session",
      );
    } else {
      this.#giveUp(open, code, details);
    }
  }

  /** Fails every command of `open` with `code` and forgets the stream. */
  #giveUp(open: OpenStream, code: grpc.status, details: string): void {
    if (this.#open === open) this.#open = undefined;
    this.#outgoing.clear();
    open.stream.close(http2.constants.NGHTTP2_CANCEL);
    for (const pending of open.pending.splice(0)) {
      pending.reject(this.#client.explain(code, details, pending.waitMs));
    }
  }

  /** The server has no `Session`: replays its commands as unary calls. */
  #fallBack(open: OpenStream): void {
    this.#open = undefined;
    this.#outgoing.clear();
    this.#unary = true;
    open.stream.close(http2.constants.NGHTTP2_CANCEL);
    this.#connection?.close();
    this.#connection = undefined;
    for (const pending of open.pending.splice(0)) {
      this.#unaryCommands.send(pending.command).then(
        pending.resolve,
        pending.reject,
      );
    }
  }
}
