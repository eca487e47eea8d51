/**
 * The queue server: the `queue.v1.QueueService` handlers over one
 * {@linkcode BoundedQueue}, served with grpc-js together with the standard
 * health service and server reflection.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import { Buffer } from "node:buffer";
import { formatHostPort } from "../lib/address.ts";
import type { ServerTls } from "../lib/tls.ts";
import type { TokenGate } from "../lib/token.ts";
import { BoundedQueue } from "./bounded_queue.ts";
import { serverCredentials, tokenInterceptor } from "./credentials.ts";
import {
  type EmptyRequest,
  type ItemResponse,
  loadQueuePackage,
  type PopRequest,
  type PutRequest,
  type PutResponse,
  QUEUE_SERVICE_NAME,
  queueServiceDefinition,
  type SizeResponse,
} from "./proto.ts";
import { sessionHandler } from "./session.ts";

/** The default limit on the size of one item: 1 MiB of UTF-8. */
export const DEFAULT_MAX_ITEM_BYTES = 1024 * 1024;

/** The largest capacity: the wire reports the size as a `uint32`. */
export const MAX_CAPACITY = 2 ** 32 - 1;

/** grpc-js's default limit on a received message, which we never lower. */
const GRPC_DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** Room for the message framing around an item at the size limit. */
const MESSAGE_OVERHEAD_BYTES = 64 * 1024;

/** Options of {@linkcode createQueueServer}. */
export interface QueueServerOptions {
  /**
   * The largest item accepted, in bytes of UTF-8; a larger one is refused
   * with status INVALID_ARGUMENT.
   *
   * @default {1048576}
   */
  maxItemBytes?: number;
  /** Serve over TLS with this certificate and key; plain when absent. */
  tls?: ServerTls;
  /**
   * Require a token on every call except health and reflection; none when
   * absent.
   */
  token?: TokenGate;
}

/** Options of {@linkcode QueueServer.shutdown}. */
export interface ShutdownOptions {
  /**
   * How long calls in flight may take to finish before they are cancelled,
   * in milliseconds.
   *
   * @default {2000}
   */
  graceMs?: number;
}

/** A queue server, not yet listening until {@linkcode QueueServer.listen}. */
export interface QueueServer extends AsyncDisposable {
  /** The queue that every client shares. */
  readonly queue: BoundedQueue<string>;
  /**
   * Listens on `hostname` and `port` (0 picks a free port) and resolves to
   * the port listened on.
   *
   * @throws {Error} when the address cannot be listened on, for example
   * because it is in use
   */
  listen(hostname: string, port: number): Promise<number>;
  /**
   * Stops accepting calls, reports NOT_SERVING to health checks, and lets
   * the calls in flight finish for up to the grace period before cancelling
   * them. Resolves to true when every call finished in time.
   */
  shutdown(options?: ShutdownOptions): Promise<boolean>;
}

/**
 * Parses the capacity argument: an integer from 1 to {@linkcode MAX_CAPACITY}.
 *
 * @throws {RangeError} when the text is not such an integer
 */
export function parseCapacity(text: string): number {
  const capacity = /^\d{1,10}$/.test(text) ? Number(text) : NaN;
  if (!(capacity >= 1 && capacity <= MAX_CAPACITY)) {
    throw new RangeError(
      `Invalid size "${text}": expected an integer from 1 to ${MAX_CAPACITY}`,
    );
  }
  return capacity;
}

/**
 * Creates a queue server over a new queue of `capacity` items, with the
 * queue service, the health service (reporting SERVING for the server and
 * for `queue.v1.QueueService`) and server reflection.
 */
export function createQueueServer(
  capacity: number,
  options: QueueServerOptions = {},
): QueueServer {
  const { maxItemBytes = DEFAULT_MAX_ITEM_BYTES, tls, token } = options;
  const queue = new BoundedQueue<string>(capacity);
  // Aborted by shutdown: sessions then take no further command.
  const closing = new AbortController();
  const pkg: PackageDefinition = loadQueuePackage();
  const server = new grpc.Server({
    "grpc.max_receive_message_length": Math.max(
      GRPC_DEFAULT_MAX_MESSAGE_BYTES,
      maxItemBytes + MESSAGE_OVERHEAD_BYTES,
    ),
    interceptors: token === undefined ? [] : [tokenInterceptor(token)],
  });
  server.addService(
    queueServiceDefinition(pkg),
    unaryHandlers(queueOperations(queue, maxItemBytes), closing.signal),
  );
  const health = new HealthImplementation({
    "": "SERVING",
    [QUEUE_SERVICE_NAME]: "SERVING",
  });
  health.addToServer(server);
  new ReflectionService(pkg).addToServer(server);

  function listen(hostname: string, port: number): Promise<number> {
    const address = formatHostPort(hostname, port);
    return new Promise((resolve, reject) => {
      server.bindAsync(
        address,
        serverCredentials(tls),
        (error, boundPort) => {
          if (error) {
            reject(new Error(`Cannot listen on "${address}": ${why(error)}`));
          } else {
            resolve(boundPort);
          }
        },
      );
    });
  }

  function shutdown(shutdownOptions: ShutdownOptions = {}): Promise<boolean> {
    const { graceMs = 2000 } = shutdownOptions;
    closing.abort();
    health.setStatus("", "NOT_SERVING");
    health.setStatus(QUEUE_SERVICE_NAME, "NOT_SERVING");
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve(false);
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  return {
    queue,
    listen,
    shutdown,
    async [Symbol.asyncDispose]() {
      await shutdown({ graceMs: 0 });
    },
  };
}

/**
 * The queue's operations as the RPCs see them: one function per command,
 * shared by the unary handlers and by `Session`. Each validates its request
 * (throwing `RangeError` for a caller's mistake) and resolves to its
 * response; `signal` aborts when the caller gives up.
 */
export interface QueueOperations {
  /** Appends the item unless the queue is full. */
  put(request: PutRequest, signal: AbortSignal): Promise<PutResponse>;
  /** Returns the head item without removing it. */
  peek(request: EmptyRequest, signal: AbortSignal): Promise<ItemResponse>;
  /** Removes and returns the head item. */
  pop(request: PopRequest, signal: AbortSignal): Promise<ItemResponse>;
  /** Returns the number of items queued. */
  size(request: EmptyRequest, signal: AbortSignal): Promise<SizeResponse>;
}

/** The operations of `queue.v1.QueueService` over `queue`. */
function queueOperations(
  queue: BoundedQueue<string>,
  maxItemBytes: number,
): QueueOperations {
  return {
    put({ item }) {
      const bytes = Buffer.byteLength(item, "utf8");
      if (bytes > maxItemBytes) {
        throw new RangeError(
          `Item too large: ${bytes} bytes, more than the limit of ${maxItemBytes} bytes`,
        );
      }
      return Promise.resolve({ added: queue.put(item) });
    },
    peek() {
      return Promise.resolve(itemResponse(queue.peek()));
    },
    pop() {
      return Promise.resolve(itemResponse(queue.pop()));
    },
    size() {
      return Promise.resolve({ size: queue.size });
    },
  };
}

/**
 * The handlers of `queue.v1.QueueService` over `operations`; `closing`
 * aborts when the server shuts down.
 */
function unaryHandlers(operations: QueueOperations, closing: AbortSignal) {
  return {
    Put: unary(operations.put),
    Peek: unary(operations.peek),
    Pop: unary(operations.pop),
    Size: unary(operations.size),
    Session: sessionHandler(operations, { closing }),
  };
}

function itemResponse(item: string | undefined): ItemResponse {
  return item === undefined ? {} : { item };
}

/**
 * Adapts an operation to a grpc-js unary handler: its signal aborts when the
 * call is cancelled, and what it throws is answered through
 * {@linkcode toStatus}.
 */
function unary<Request, Response>(
  operation: (request: Request, signal: AbortSignal) => Promise<Response>,
): grpc.handleUnaryCall<Request, Response> {
  return (call, callback) => {
    const cancelled = new AbortController();
    call.once("cancelled", () => cancelled.abort());
    let response: Promise<Response>;
    try {
      response = operation(call.request, cancelled.signal);
    } catch (error: unknown) {
      callback(toStatus(error));
      return;
    }
    response.then(
      (value) => callback(null, value),
      (error: unknown) => callback(toStatus(error)),
    );
  };
}

/**
 * The one place that maps a handler's error to a gRPC status: a
 * `RangeError` is the caller's fault (INVALID_ARGUMENT, with its message);
 * anything else is INTERNAL, without details that could leak internals.
 */
export function toStatus(error: unknown): Partial<grpc.StatusObject> {
  if (error instanceof RangeError) {
    return { code: grpc.status.INVALID_ARGUMENT, details: error.message };
  }
  return { code: grpc.status.INTERNAL, details: "Internal server error" };
}

function why(error: Error): string {
  return /EADDRINUSE/.test(error.message)
    ? "address already in use"
    : error.message;
}
