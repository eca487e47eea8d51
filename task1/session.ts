/**
 * The server side of `Session`: one client's commands over one bidirectional
 * stream, run strictly in the order received through the same
 * {@linkcode QueueOperations} as the unary calls, one `Reply` per `Command`
 * in the same order.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { type Command, queueServiceDefinition, type Reply } from "./proto.ts";
import type { QueueOperations } from "./operations.ts";
import { openReplyWriter, type ReplyWriter } from "./reply_batch.ts";
import { toStatus } from "./status.ts";

/** Options of {@linkcode sessionHandler}. */
export interface SessionOptions {
  /**
   * How many received commands one session may have waiting to run. Once
   * that many wait, the server stops reading the stream (HTTP/2 flow control
   * then holds the client back) until half of them have been answered.
   *
   * @default {256}
   */
  maxOutstanding?: number;
  /**
   * How many bytes of received commands one session may have waiting to
   * run before the server stops reading the stream, as with
   * `maxOutstanding`.
   *
   * @default {1048576}
   */
  maxReceivedBytes?: number;
  /**
   * How many bytes of a session's replies may wait in the server for the
   * client to read them before the session runs no further command.
   *
   * @default {1048576}
   */
  maxUnsentBytes?: number;
  /**
   * Aborted when the server shuts down: each session then takes no further
   * command, lets the one running finish, and ends its stream; the client
   * learns that the commands it sent after that were not run.
   */
  closing?: AbortSignal;
}

/**
 * Returns the grpc-js handler of `Session` over `operations`. Each session
 * runs its commands one at a time in the order received, so a command that
 * waits holds up only the later commands of its own session. A command that
 * fails is answered with `Reply.error` (mapped by {@linkcode toStatus}) and
 * the session goes on. The operations get a signal that aborts when the
 * session is cancelled or passes its deadline (a forced shutdown cancels
 * it too), so a waiting command gives up then; the commands not yet run are
 * dropped unanswered, as the client is gone. When `closing` aborts, the
 * session ends once its running command is answered.
 *
 * Memory per session is bounded: at most `maxOutstanding` received commands
 * (and about `maxReceivedBytes` of them) wait to run, and no command runs
 * while a written reply waits for the client to read (the stream's
 * `write()` returned false until `drain`) or while more than
 * `maxUnsentBytes` of this session's own replies have not left the server:
 * a reply counts until HTTP/2 flow control let its last byte go, as seen in
 * the connection's outgoing frames ({@linkcode watchSentMessages}), or, where
 * those cannot be watched, until its write completes. Other calls on the same
 * connection, server interceptors (`--token-file`) and TLS change nothing.
 *
 * The replies ready in the same event-loop turn go to HTTP/2 as one write
 * ({@linkcode openReplyWriter}), each still its own gRPC message.
 */
export function sessionHandler(
  operations: QueueOperations,
  options: SessionOptions = {},
): grpc.handleBidiStreamingCall<Command, Reply> {
  const {
    maxOutstanding = 256,
    maxReceivedBytes = 1024 * 1024,
    maxUnsentBytes = 1024 * 1024,
    closing,
  } = options;
  const limits = { maxOutstanding, maxReceivedBytes, maxUnsentBytes };
  const serialize = queueServiceDefinition().Session.responseSerialize;
  return (call) => {
    new SessionRun(call, operations, limits, serialize, closing);
  };
}

/** The limits of one session; see {@linkcode SessionOptions}. */
interface SessionLimits {
  maxOutstanding: number;
  maxReceivedBytes: number;
  maxUnsentBytes: number;
}

/** A received command and about how many bytes it holds. */
interface Received {
  command: Command;
  bytes: number;
}

/** The state of one session; it drives itself from the call's events. */
class SessionRun {
  readonly #call: grpc.ServerDuplexStream<Command, Reply>;
  readonly #operations: QueueOperations;
  readonly #limits: SessionLimits;
  /** Writes the replies, those of one turn together. */
  readonly #replies: ReplyWriter<Reply>;
  /** The sizes of the written replies not yet sent, oldest first. */
  readonly #unsent: number[] = [];
  #unsentBytes = 0;
  /** Resumes the run loop waiting for a reply to leave, if it waits. */
  #wake: (() => void) | undefined;
  readonly #cancelled = new AbortController();
  /**
   * Aborted when the stream ends for any reason (answered, cancelled,
   * failed): the owner of the session's leases, which then end at once.
   */
  readonly #ended = new AbortController();
  /** Commands received and not yet run, oldest first. */
  readonly #received: Received[] = [];
  #receivedBytes = 0;
  #running = false;
  #paused = false;
  #halfClosed = false;
  #closed = false;

  constructor(
    call: grpc.ServerDuplexStream<Command, Reply>,
    operations: QueueOperations,
    limits: SessionLimits,
    serialize: (reply: Reply) => Uint8Array,
    closing: AbortSignal | undefined,
  ) {
    this.#call = call;
    this.#operations = operations;
    this.#limits = limits;
    this.#replies = openReplyWriter(call, { serialize, onSent: this.#sent });
    call.on("data", (command: Command) => this.#receive(command));
    call.on("end", () => this.#endOfCommands());
    call.once("cancelled", () => this.#cancelled.abort());
    const end = () => this.#ended.abort();
    for (const event of ["cancelled", "error", "finish", "close"]) {
      call.once(event, end);
    }
    // A failed write means the stream is gone; "cancelled" follows.
    call.on("error", () => this.#cancelled.abort());
    if (closing?.aborted) this.#close();
    else if (closing) {
      closing.addEventListener("abort", this.#close, { once: true });
      const forget = () => closing.removeEventListener("abort", this.#close);
      call.once("cancelled", forget);
      call.once("finish", forget);
    }
  }

  /**
   * The server is shutting down: takes no further command and ends the
   * stream, at once if no command is running, else once it is answered.
   */
  #close = (): void => {
    if (this.#closed) return;
    this.#closed = true;
    this.#received.length = 0;
    this.#receivedBytes = 0;
    if (!this.#running && !this.#cancelled.signal.aborted) this.#call.end();
  };

  /** Queues one command, pausing the stream once too many wait. */
  #receive(command: Command): void {
    if (this.#closed) return;
    const bytes = commandBytes(command);
    this.#received.push({ command, bytes });
    this.#receivedBytes += bytes;
    const { maxOutstanding, maxReceivedBytes } = this.#limits;
    if (
      !this.#paused && (this.#received.length >= maxOutstanding ||
        this.#receivedBytes >= maxReceivedBytes)
    ) {
      this.#paused = true;
      this.#call.pause();
    }
    // Nothing in the loop is expected to throw; if something does, the
    // session ends rather than the server.
    if (!this.#running) this.#run().catch(() => this.#call.destroy());
  }

  /** The client has sent its last command: end once every one is answered. */
  #endOfCommands(): void {
    this.#halfClosed = true;
    if (!this.#running && !this.#closed) this.#call.end();
  }

  /** Runs the queued commands one by one until none is left. */
  async #run(): Promise<void> {
    this.#running = true;
    const signal = this.#cancelled.signal;
    const call = this.#call;
    const received = this.#received;
    const { maxOutstanding, maxReceivedBytes, maxUnsentBytes } = this.#limits;
    while (received.length > 0 && !signal.aborted) {
      if (this.#unsentBytes > maxUnsentBytes) {
        await this.#someSent(signal);
        continue;
      }
      const reply = await this.#execute(received[0]!.command, signal);
      // Closing may have emptied the queue meanwhile.
      this.#receivedBytes -= received.shift()?.bytes ?? 0;
      if (signal.aborted) break;
      const bytes = replyBytes(reply);
      this.#unsent.push(bytes);
      this.#unsentBytes += bytes;
      if (!this.#replies.write(reply)) await this.#replies.drained(signal);
      if (
        this.#paused && received.length <= maxOutstanding >> 1 &&
        this.#receivedBytes <= maxReceivedBytes >> 1
      ) {
        this.#paused = false;
        call.resume();
      }
    }
    this.#running = false;
    if ((this.#halfClosed || this.#closed) && !signal.aborted) call.end();
  }

  /** One more of this session's replies has left, the oldest unsent one. */
  #sent = (): void => {
    this.#unsentBytes -= this.#unsent.shift() ?? 0;
    this.#wake?.();
  };

  /** Resolves when one more reply has left, or when the session ends. */
  #someSent(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.#wake = undefined;
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.#wake = done;
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** Runs one command and resolves to its reply; never rejects. */
  async #execute(command: Command, signal: AbortSignal): Promise<Reply> {
    const operations = this.#operations;
    try {
      switch (command.op) {
        case "put":
          return { put: await operations.put(command.put!, signal) };
        case "peek":
          return { peek: await operations.peek({}, signal) };
        case "pop":
          return {
            pop: await operations.pop(command.pop!, signal, this.#ended.signal),
          };
        case "size":
          return { size: await operations.size({}, signal) };
        case "ack":
          return { ack: await operations.ack(command.ack!, signal) };
        case "release":
          return {
            release: await operations.release(command.release!, signal),
          };
        case "extend":
          return { extend: await operations.extend(command.extend!, signal) };
        default:
          return {
            error: {
              code: grpc.status.INVALID_ARGUMENT,
              message: "Command without a known operation",
            },
          };
      }
    } catch (error: unknown) {
      const { code = grpc.status.INTERNAL, details = "" } = toStatus(error);
      return { error: { code, message: details } };
    }
  }
}

/** About how many bytes `reply` takes on the wire. */
function replyBytes(reply: Reply): number {
  const text = reply.pop?.item ?? reply.peek?.item ?? reply.error?.message;
  const receipt = reply.pop?.receipt?.length ?? 0;
  return 16 + receipt + (text === undefined ? 0 : Buffer.byteLength(text));
}

/** About how many bytes `command` holds. */
function commandBytes(command: Command): number {
  const text = command.put?.item ?? command.ack?.receipt ??
    command.release?.receipt ?? command.extend?.receipt;
  return 16 + (text === undefined ? 0 : Buffer.byteLength(text));
}
