/**
 * The server side of `Session`: one client's commands over one bidirectional
 * stream, run strictly in the order received through the same
 * {@linkcode QueueOperations} as the unary calls, one `Reply` per `Command`
 * in the same order.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { once } from "node:events";
import { type ConnectionSocket, connectionSocket } from "./grpc_internals.ts";
import type { Command, Reply } from "./proto.ts";
import type { QueueOperations } from "./operations.ts";
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

/** How often a stalled session looks again whether its replies have left. */
const UNSENT_RECHECK_MS = 50;

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
 * wait to run, and no command runs while a written reply waits for the
 * client to read (the stream's `write()` returned false until `drain`) or
 * while more than `maxUnsentBytes` of replies have not left the connection.
 */
export function sessionHandler(
  operations: QueueOperations,
  options: SessionOptions = {},
): grpc.handleBidiStreamingCall<Command, Reply> {
  const { maxOutstanding = 256, maxUnsentBytes = 1024 * 1024, closing } =
    options;
  return (call) => {
    new SessionRun(call, operations, maxOutstanding, maxUnsentBytes, closing);
  };
}

/** The state of one session; it drives itself from the call's events. */
class SessionRun {
  readonly #call: grpc.ServerDuplexStream<Command, Reply>;
  readonly #operations: QueueOperations;
  readonly #maxOutstanding: number;
  readonly #maxUnsentBytes: number;
  readonly #socket: ConnectionSocket | undefined;
  /** The socket's `bytesWritten` when the session began. */
  readonly #socketBytesAtStart: number;
  /** About how many bytes of replies the session has written. */
  #replyBytes = 0;
  readonly #cancelled = new AbortController();
  /** Commands received and not yet run, oldest first. */
  readonly #received: Command[] = [];
  #running = false;
  #paused = false;
  #halfClosed = false;
  #closed = false;

  constructor(
    call: grpc.ServerDuplexStream<Command, Reply>,
    operations: QueueOperations,
    maxOutstanding: number,
    maxUnsentBytes: number,
    closing: AbortSignal | undefined,
  ) {
    this.#call = call;
    this.#operations = operations;
    this.#maxOutstanding = maxOutstanding;
    this.#maxUnsentBytes = maxUnsentBytes;
    this.#socket = connectionSocket(call);
    this.#socketBytesAtStart = this.#socket?.bytesWritten ?? 0;
    call.on("data", (command: Command) => this.#receive(command));
    call.on("end", () => this.#endOfCommands());
    call.once("cancelled", () => this.#cancelled.abort());
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
    if (!this.#running && !this.#cancelled.signal.aborted) this.#call.end();
  };

  /** Queues one command, pausing the stream once too many wait. */
  #receive(command: Command): void {
    if (this.#closed) return;
    this.#received.push(command);
    if (!this.#paused && this.#received.length >= this.#maxOutstanding) {
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
    while (received.length > 0 && !signal.aborted) {
      if (this.#unsentBytes() > this.#maxUnsentBytes) {
        await this.#someSent(signal);
        continue;
      }
      const reply = await this.#execute(received[0]!, signal);
      // Closing may have emptied the queue meanwhile.
      received.shift();
      if (signal.aborted) break;
      this.#replyBytes += replyBytes(reply);
      if (!call.write(reply)) {
        await once(call, "drain", { signal }).catch(() => {});
      }
      if (this.#paused && received.length <= this.#maxOutstanding >> 1) {
        this.#paused = false;
        call.resume();
      }
    }
    this.#running = false;
    if ((this.#halfClosed || this.#closed) && !signal.aborted) call.end();
  }

  /**
   * About how many bytes of this session's replies have not left the
   * connection yet (fewer if other calls share the connection).
   */
  #unsentBytes(): number {
    const socket = this.#socket;
    if (socket === undefined) return 0;
    return this.#replyBytes - (socket.bytesWritten - this.#socketBytesAtStart);
  }

  /**
   * Resolves when the client may have taken some replies: when bytes arrive
   * from it (such as HTTP/2 window updates), after a short while at most,
   * or when the session ends.
   */
  #someSent(signal: AbortSignal): Promise<void> {
    const socket = this.#socket!;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        socket.off("data", done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, UNSENT_RECHECK_MS);
      socket.once("data", done);
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
          return { pop: await operations.pop(command.pop!, signal) };
        case "size":
          return { size: await operations.size({}, signal) };
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
  const item = reply.pop?.item ?? reply.peek?.item;
  return 16 + (item?.length ?? reply.error?.message.length ?? 0);
}
