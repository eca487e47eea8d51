/**
 * The queue server: the `queue.v1.QueueService` handlers over one
 * {@linkcode QueueStore}, served with grpc-js together with the standard
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
import { serverCredentials, tokenInterceptor } from "./credentials.ts";
import {
  DEFAULT_MAX_BYTES,
  MAX_WAIT_MS,
  type QueueStore,
  StoreClosedError,
  StoreFailedError,
  StoreUnavailableError,
} from "./store/mod.ts";
import { MemoryStore } from "./store/memory.ts";
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

/**
 * The most calls one connection may have in flight. grpc-js holds each
 * call's whole request in memory before its handler runs, so this bounds
 * what one connection's puts in flight hold: 32 of 1 MiB at most.
 */
const MAX_CONCURRENT_STREAMS = 32;

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
  /**
   * The most UTF-8 bytes of items in the queue; a put past it answers false.
   * Ignored when `store` is given.
   *
   * @default {1073741824}
   */
  maxBytes?: number;
  /**
   * Where the items live; it belongs to the server from now on, which
   * closes it on shutdown.
   *
   * @default {a new MemoryStore of `capacity` items and `maxBytes` bytes}
   */
  store?: QueueStore;
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
  readonly store: QueueStore;
  /**
   * Listens on `hostname` and `port` (0 picks a free port) and resolves to
   * the port listened on.
   *
   * @throws {Error} when the address cannot be listened on, for example
   * because it is in use
   */
  listen(hostname: string, port: number): Promise<number>;
  /**
   * Stops accepting calls, reports NOT_SERVING to health checks, ends the
   * waiting calls (UNAVAILABLE, leaving the queue as if they never waited),
   * lets the other calls in flight finish for up to the grace period before
   * cancelling them, and closes the store, which makes what was decided
   * durable. Resolves to true when every call finished in time.
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

const BYTE_UNITS: Record<string, number> = {
  "": 1,
  "B": 1,
  "KiB": 1024,
  "MiB": 1024 ** 2,
  "GiB": 1024 ** 3,
  "TiB": 1024 ** 4,
};

/**
 * Parses a byte count: a whole number, optionally followed by B, KiB, MiB,
 * GiB or TiB (`512MiB`, `2GiB`, `1073741824`).
 *
 * @throws {RangeError} when the text is not such a count of at least 1
 */
export function parseByteSize(text: string): number {
  const match = /^(\d{1,16})(B|KiB|MiB|GiB|TiB)?$/.exec(text);
  const bytes = match ? Number(match[1]) * BYTE_UNITS[match[2] ?? ""]! : NaN;
  if (!(bytes >= 1 && Number.isSafeInteger(bytes))) {
    throw new RangeError(
      `Invalid byte count "${text}": expected a whole number of bytes, ` +
        `optionally with KiB, MiB, GiB or TiB, such as 512MiB`,
    );
  }
  return bytes;
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
  const { maxBytes = DEFAULT_MAX_BYTES } = options;
  const store: QueueStore = options.store ??
    new MemoryStore(capacity, { maxBytes });
  // Aborted by shutdown: sessions then take no further command.
  const closing = new AbortController();
  const pkg: PackageDefinition = loadQueuePackage();
  const server = new grpc.Server({
    "grpc.max_receive_message_length": Math.max(
      GRPC_DEFAULT_MAX_MESSAGE_BYTES,
      maxItemBytes + MESSAGE_OVERHEAD_BYTES,
    ),
    "grpc.max_concurrent_streams": MAX_CONCURRENT_STREAMS,
    interceptors: token === undefined ? [] : [tokenInterceptor(token)],
  });
  server.addService(
    queueServiceDefinition(pkg),
    unaryHandlers(queueOperations(store, maxItemBytes), closing.signal),
  );
  const health = new HealthImplementation({
    "": "SERVING",
    [QUEUE_SERVICE_NAME]: "SERVING",
  });
  // A remote store reports NOT_SERVING while it cannot reach its server.
  store.watchAvailability?.((available) => {
    if (closing.signal.aborted) return;
    const status = available ? "SERVING" : "NOT_SERVING";
    health.setStatus("", status);
    health.setStatus(QUEUE_SERVICE_NAME, status);
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

  async function shutdown(
    shutdownOptions: ShutdownOptions = {},
  ): Promise<boolean> {
    const { graceMs = 2000 } = shutdownOptions;
    closing.abort();
    health.setStatus("", "NOT_SERVING");
    health.setStatus(QUEUE_SERVICE_NAME, "NOT_SERVING");
    const finished = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve(false);
      }, graceMs);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    // No new calls come in now; closing the store ends the waiting ones and
    // commits what the others decided, so that they can answer.
    await store.close();
    return await finished;
  }

  return {
    store,
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

/**
 * The operations of `queue.v1.QueueService` over `store`. A Put or Pop with
 * `wait_ms` waits in the store until it can answer, its time is up, or
 * `signal` aborts (the call was cancelled or its deadline passed): it then
 * rejects with the signal's reason, leaving the queue untouched.
 */
export function queueOperations(
  store: QueueStore,
  maxItemBytes: number = DEFAULT_MAX_ITEM_BYTES,
): QueueOperations {
  const received = largeItemCollector();
  return {
    async put({ item, wait_ms = 0 }, signal) {
      const bytes = Buffer.byteLength(item, "utf8");
      received(bytes);
      if (bytes > maxItemBytes) {
        throw new RangeError(
          `Item too large: ${bytes} bytes, more than the limit of ${maxItemBytes} bytes`,
        );
      }
      const waitMs = checkWait(wait_ms);
      return { added: await store.put(item, { waitMs, signal }) };
    },
    async peek() {
      return itemResponse(await store.peek());
    },
    async pop({ wait_ms = 0 }, signal) {
      const waitMs = checkWait(wait_ms);
      return itemResponse(await store.pop({ waitMs, signal }));
    },
    async size() {
      return { size: await store.size() };
    },
  };
}

/** Items at least this large are counted by {@linkcode largeItemCollector}. */
const LARGE_ITEM_BYTES = 64 * 1024;

/** How many bytes of large items may arrive between two full collections. */
const COLLECT_EVERY_BYTES = 32 * 1024 * 1024;

/**
 * Keeps the garbage of large items bounded: V8 lets its heap grow to about
 * twice what is live before a full collection, and large strings (and the
 * buffers they were decoded from) count in full, so a server refusing 1 MiB
 * Puts at its `--max-bytes` would hold hundreds of MiB of dead items. When
 * the runtime exposes `gc` (queue-server runs with `--expose-gc`), this
 * collects after every {@linkcode COLLECT_EVERY_BYTES} of items of at least
 * {@linkcode LARGE_ITEM_BYTES} received; small items die young and V8's own
 * scavenger keeps up with them. Returns the function each Put calls with its
 * item's size.
 */
function largeItemCollector(): (bytes: number) => void {
  const gc = (globalThis as { gc?: () => void }).gc;
  let received = 0;
  return (bytes) => {
    if (gc === undefined || bytes < LARGE_ITEM_BYTES) return;
    received += bytes;
    if (received >= COLLECT_EVERY_BYTES) {
      received = 0;
      gc();
    }
  };
}

/**
 * Checks a request's `wait_ms`: at most {@linkcode MAX_WAIT_MS}.
 *
 * @throws {RangeError} when it is longer
 */
function checkWait(waitMs: number): number {
  if (waitMs > MAX_WAIT_MS) {
    throw new RangeError(
      `Invalid wait_ms ${waitMs}: more than the limit of ${MAX_WAIT_MS} ms (1 hour)`,
    );
  }
  return waitMs;
}

/**
 * The handlers of `queue.v1.QueueService` over `operations`; `closing`
 * aborts when the server shuts down.
 */
function unaryHandlers(operations: QueueOperations, closing: AbortSignal) {
  return {
    Put: unary(operations.put, waits),
    Peek: unary(operations.peek),
    Pop: unary(operations.pop, waits),
    Size: unary(operations.size),
    Session: sessionHandler(operations, { closing }),
  };
}

/** Whether a Put or Pop request asks to wait. */
function waits(request: { wait_ms?: number }): boolean {
  return (request.wait_ms ?? 0) > 0;
}

function itemResponse(item: string | undefined): ItemResponse {
  return item === undefined ? {} : { item };
}

/**
 * Why a cancelled call's signal aborted. One for all calls: grpc-js on Deno
 * reports a call as cancelled when its stream closes, answered or not
 * (every call, under h2load), and a new `AbortError` per call, with its
 * stack, cost about 4% of the server's CPU per call.
 */
const CALL_CANCELLED = new DOMException("The call was cancelled", "AbortError");

/**
 * Adapts an operation to a grpc-js unary handler: its signal aborts when the
 * call is cancelled (the client cancelled or disconnected) and, for a
 * request that `mayWait`, when the call's deadline passes (with a
 * `TimeoutError`, so a wait never outlives its call); what it throws is
 * answered through {@linkcode toStatus}.
 */
function unary<Request, Response>(
  operation: (request: Request, signal: AbortSignal) => Promise<Response>,
  mayWait: (request: Request) => boolean = () => false,
): grpc.handleUnaryCall<Request, Response> {
  return (call, callback) => {
    const cancelled = new AbortController();
    call.once("cancelled", () => cancelled.abort(CALL_CANCELLED));
    let signal = cancelled.signal;
    const deadline = Number(call.getDeadline());
    if (mayWait(call.request) && Number.isFinite(deadline)) {
      signal = AbortSignal.any([
        signal,
        AbortSignal.timeout(Math.max(0, deadline - Date.now())),
      ]);
    }
    let response: Promise<Response>;
    try {
      response = operation(call.request, signal);
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
 * `RangeError` is the caller's fault (INVALID_ARGUMENT, with its message); a
 * wait ended by the call's deadline is DEADLINE_EXCEEDED and by its
 * cancellation CANCELLED; a store that is shutting down, has failed or
 * cannot reach its server for now is UNAVAILABLE; anything else is INTERNAL, without details that could leak
 * internals.
 */
export function toStatus(error: unknown): Partial<grpc.StatusObject> {
  if (error instanceof RangeError) {
    return { code: grpc.status.INVALID_ARGUMENT, details: error.message };
  }
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return { code: grpc.status.DEADLINE_EXCEEDED, details: "Deadline passed" };
  }
  if (error instanceof DOMException && error.name === "AbortError") {
    return { code: grpc.status.CANCELLED, details: "Call cancelled" };
  }
  if (error instanceof StoreClosedError) {
    return { code: grpc.status.UNAVAILABLE, details: error.message };
  }
  if (error instanceof StoreUnavailableError) {
    return { code: grpc.status.UNAVAILABLE, details: error.message };
  }
  if (error instanceof StoreFailedError) {
    return {
      code: grpc.status.UNAVAILABLE,
      details: "The queue's storage failed; the server is stopping",
    };
  }
  return { code: grpc.status.INTERNAL, details: "Internal server error" };
}

function why(error: Error): string {
  return /EADDRINUSE/.test(error.message)
    ? "address already in use"
    : error.message;
}
