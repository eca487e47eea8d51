/**
 * A typed client of `queue.v1.QueueService` over grpc-js, with a deadline on
 * every call.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { formatHostPort, type HostPort } from "../lib/address.ts";
import { type ClientTls, explainTlsFailure } from "../lib/tls.ts";
import { channelCredentials, clientChannelOptions } from "./credentials.ts";
import {
  type QueueServiceDefinition,
  queueServiceDefinition,
} from "./proto.ts";

/** The default deadline of each call, in milliseconds. */
export const DEFAULT_TIMEOUT_MS = 5000;

/** Options of {@linkcode QueueClient}. */
export interface QueueClientOptions {
  /**
   * How long each call may take before it fails with DEADLINE_EXCEEDED, in
   * milliseconds.
   *
   * @default {5000}
   */
  timeoutMs?: number;
  /** Connect with TLS, verifying the server this way; plain when absent. */
  tls?: ClientTls;
  /** Send this token with every call; none when absent. */
  token?: string;
}

/** A call that failed: the gRPC status code and a one-line explanation. */
export class QueueCallError extends Error {
  /** The class name, for messages and logs. */
  override name = "QueueCallError";
  /** The gRPC status code, such as `grpc.status.UNAVAILABLE`. */
  readonly code: grpc.status;

  /** Creates the error for a call that ended with `code`. */
  constructor(code: grpc.status, message: string) {
    super(`${grpc.status[code] ?? `status ${code}`}: ${message}`);
    this.code = code;
  }
}

/** The four queue operations, as the REPL and the tests use them. */
export interface QueueOperations {
  /** Appends `item`; resolves to false when the queue was full. */
  put(item: string): Promise<boolean>;
  /** Resolves to the head item, or undefined when the queue is empty. */
  peek(): Promise<string | undefined>;
  /** Removes the head item and resolves to it, or to undefined when empty. */
  pop(): Promise<string | undefined>;
  /** Resolves to the number of items queued. */
  size(): Promise<number>;
}

/**
 * A connection to a queue server. Its calls reject with a
 * {@linkcode QueueCallError}; close it (or dispose it) when done.
 */
export class QueueClient implements QueueOperations, Disposable {
  #client: grpc.Client;
  #service: QueueServiceDefinition = queueServiceDefinition();
  #target: string;
  #timeoutMs: number;

  /** Creates a client of the server at `address`; it connects lazily. */
  constructor(address: HostPort, options: QueueClientOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#target = formatHostPort(address.hostname, address.port);
    this.#client = new grpc.Client(
      this.#target,
      channelCredentials(options.tls),
      clientChannelOptions(options.tls, options.token),
    );
  }

  /** Appends `item`; resolves to false when the queue was full. */
  async put(item: string): Promise<boolean> {
    return (await this.#call(this.#service.Put, { item })).added;
  }

  /** Resolves to the head item, or undefined when the queue is empty. */
  async peek(): Promise<string | undefined> {
    return (await this.#call(this.#service.Peek, {})).item;
  }

  /** Removes the head item and resolves to it, or to undefined when empty. */
  async pop(): Promise<string | undefined> {
    return (await this.#call(this.#service.Pop, {})).item;
  }

  /** Resolves to the number of items queued. */
  async size(): Promise<number> {
    return (await this.#call(this.#service.Size, {})).size;
  }

  /** Closes the connection; calls made afterwards fail. */
  close(): void {
    this.#client.close();
  }

  /** Closes the connection. */
  [Symbol.dispose](): void {
    this.close();
  }

  #call<Request, Response>(
    method: grpc.MethodDefinition<Request, Response>,
    request: Request,
  ): Promise<Response> {
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        { deadline: Date.now() + this.#timeoutMs },
        (error, response) => {
          if (error) reject(this.#explain(error));
          else if (response === undefined) {
            reject(new QueueCallError(grpc.status.INTERNAL, "Empty response"));
          } else resolve(response);
        },
      );
    });
  }

  #explain(error: grpc.ServiceError): QueueCallError {
    switch (error.code) {
      case grpc.status.DEADLINE_EXCEEDED:
        return new QueueCallError(
          error.code,
          `No answer from "${this.#target}" within ${this.#timeoutMs / 1000} s`,
        );
      case grpc.status.UNAVAILABLE:
        return new QueueCallError(
          error.code,
          `Cannot reach the server at "${this.#target}": ${
            tidyDetails(error.details)
          }`,
        );
      default:
        return new QueueCallError(error.code, error.details);
    }
  }
}

/**
 * Drops grpc-js's empty "Resolution note" and doubled "Error: " prefixes,
 * and explains a TLS failure, or a plain connection refused by a TLS server.
 */
function tidyDetails(details: string): string {
  const tidy = details
    .replace(/\.? Resolution note: *$/, "")
    .replace(/Last error: Error: /, "Last error: ");
  return explainTlsFailure(tidy) ??
    tidy.replace(
      /Failed to connect( \(.*\))?$/,
      "Failed to connect (if the server uses TLS, connect with --tls or --ca)",
    );
}
