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
import type { Command, Reply } from "./proto.ts";
import { type QueueOperations, toStatus } from "./queue_server.ts";

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
}

/**
 * Returns the grpc-js handler of `Session` over `operations`. Each session
 * runs its commands one at a time in the order received, so a command that
 * waits holds up only the later commands of its own session. A command that
 * fails is answered with `Reply.error` (mapped by {@linkcode toStatus}) and
 * the session goes on. The operations get a signal that aborts when the
 * session is cancelled, passes its deadline or the server shuts down, so a
 * waiting command gives up then; the commands not yet run are dropped
 * unanswered, as the client is gone.
 *
 * Memory per session is bounded: at most `maxOutstanding` received commands
 * wait to run, and no command runs while a written reply waits for the
 * client to read (the stream's `write()` returned false until `drain`).
 */
export function sessionHandler(
  operations: QueueOperations,
  options: SessionOptions = {},
): grpc.handleBidiStreamingCall<Command, Reply> {
  const { maxOutstanding = 256 } = options;
  return (call) => {
    new SessionRun(call, operations, maxOutstanding);
  };
}

/** The state of one session; it drives itself from the call's events. */
class SessionRun {
  readonly #call: grpc.ServerDuplexStream<Command, Reply>;
  readonly #operations: QueueOperations;
  readonly #maxOutstanding: number;
  readonly #cancelled = new AbortController();
  /** Commands received and not yet run, oldest first. */
  readonly #received: Command[] = [];
  #running = false;
  #paused = false;
  #halfClosed = false;

  constructor(
    call: grpc.ServerDuplexStream<Command, Reply>,
    operations: QueueOperations,
    maxOutstanding: number,
  ) {
    this.#call = call;
    this.#operations = operations;
    this.#maxOutstanding = maxOutstanding;
    call.on("data", (command: Command) => this.#receive(command));
    call.on("end", () => this.#endOfCommands());
    call.once("cancelled", () => this.#cancelled.abort());
    // A failed write means the stream is gone; "cancelled" follows.
    call.on("error", () => this.#cancelled.abort());
  }

  /** Queues one command, pausing the stream once too many wait. */
  #receive(command: Command): void {
    this.#received.push(command);
    if (!this.#paused && this.#received.length >= this.#maxOutstanding) {
      this.#paused = true;
      this.#call.pause();
    }
    if (!this.#running) this.#run();
  }

  /** The client has sent its last command: end once every one is answered. */
  #endOfCommands(): void {
    this.#halfClosed = true;
    if (!this.#running) this.#call.end();
  }

  /** Runs the queued commands one by one until none is left. */
  async #run(): Promise<void> {
    this.#running = true;
    const signal = this.#cancelled.signal;
    const call = this.#call;
    const received = this.#received;
    while (received.length > 0 && !signal.aborted) {
      const reply = await this.#execute(received[0]!, signal);
      received.shift();
      if (signal.aborted) break;
      if (!call.write(reply)) {
        await once(call, "drain", { signal }).catch(() => {});
      }
      if (this.#paused && received.length <= this.#maxOutstanding >> 1) {
        this.#paused = false;
        call.resume();
      }
    }
    this.#running = false;
    if (this.#halfClosed && !signal.aborted) call.end();
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
