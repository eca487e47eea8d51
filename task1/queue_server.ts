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
import { formatHostPort } from "../lib/address.ts";
import type { ServerTls } from "../lib/tls.ts";
import type { TokenGate } from "../lib/token.ts";
import { ConnDuplex } from "./conn_duplex.ts";
import {
  acceptConnections,
  type AcceptOptions,
  type Acceptor,
} from "./connections.ts";
import { watchCallStart } from "./call_start.ts";
import {
  acceptTls,
  serverTlsContext,
  tokenInterceptor,
} from "./credentials.ts";
import { checkingItemUtf8 } from "./item_utf8.ts";
import type { QueueMetrics } from "./metrics.ts";
import {
  DEFAULT_MAX_ITEM_BYTES,
  type QueueOperations,
  queueOperations,
} from "./operations.ts";
import {
  loadQueuePackage,
  QUEUE_SERVICE_NAME,
  queueServiceDefinition,
} from "./proto.ts";
import { receiveLimit } from "./receive_limit.ts";
import { sessionHandler } from "./session.ts";
import { toStatus } from "./status.ts";
import type { QueueStore } from "./store/mod.ts";

/**
 * Room for the protobuf framing around an item at the size limit: the
 * largest request accepted (grpc-js's receive limit) is the item limit plus
 * this; a larger one is answered RESOURCE_EXHAUSTED as soon as its length
 * prefix arrives, before its bytes are held.
 */
const MESSAGE_OVERHEAD_BYTES = 1024;

/** The most calls one connection may have in flight. */
const MAX_CONCURRENT_STREAMS = 32;

/**
 * The most calls, server-wide, whose first request message is still
 * arriving; grpc-js holds such a message's bytes until it is whole, so these
 * calls hold at most this many times the largest request (about 128 MiB).
 */
const MAX_RECEIVING_CALLS = 128;

/** Options of {@linkcode createQueueServer}. */
export interface QueueServerOptions extends AcceptOptions {
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
  /** Count every operation and Session stream in these metrics; none when absent. */
  metrics?: QueueMetrics;
  /**
   * How long a connection may stay without a call before the server sends
   * it a GOAWAY and closes it, in milliseconds.
   *
   * @default {300000}
   */
  idleTimeoutMs?: number;
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
 * Creates a queue server over `store`, with the queue service, the health
 * service (reporting SERVING for the server and for `queue.v1.QueueService`)
 * and server reflection. The store belongs to the server from now on, which
 * closes it on shutdown.
 */
export function createQueueServer(
  store: QueueStore,
  options: QueueServerOptions = {},
): QueueServer {
  const {
    maxItemBytes = DEFAULT_MAX_ITEM_BYTES,
    tls,
    token,
    metrics,
    idleTimeoutMs = 300_000,
  } = options;
  // Aborted by shutdown: sessions then take no further command.
  const closing = new AbortController();
  const pkg: PackageDefinition = loadQueuePackage();
  const server = new grpc.Server({
    "grpc.max_receive_message_length": maxItemBytes + MESSAGE_OVERHEAD_BYTES,
    "grpc.max_concurrent_streams": MAX_CONCURRENT_STREAMS,
    // grpc-js takes 2^31 - 1 ms and more as no idle timeout at all.
    "grpc.max_connection_idle_ms": Math.min(idleTimeoutMs, 2 ** 31 - 1),
    // The token is checked first: a call refused for it takes no place
    // among those being received.
    interceptors: [
      ...(token === undefined ? [] : [tokenInterceptor(token)]),
      receiveLimit(MAX_RECEIVING_CALLS),
    ],
  });
  const operations = queueOperations(store, { maxItemBytes });
  server.addService(
    checkingItemUtf8(queueServiceDefinition(pkg)),
    unaryHandlers(
      metrics?.instrument(operations) ?? operations,
      closing.signal,
      metrics,
    ),
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

  // grpc-js serves the connections accepted here (see `connections.ts`),
  // TLS already unwrapped when `tls` is given: Deno's own TLS listener does
  // not close a connection whose handshake has not finished.
  const tlsContext = tls === undefined ? undefined : serverTlsContext(tls);
  const injector = server.createConnectionInjector(
    grpc.ServerCredentials.createInsecure(),
  );
  let acceptor: Acceptor | undefined;

  function listen(hostname: string, port: number): Promise<number> {
    let listener: Deno.TcpListener;
    try {
      listener = Deno.listen({ hostname, port });
    } catch (error: unknown) {
      const address = formatHostPort(hostname, port);
      return Promise.reject(
        new Error(`Cannot listen on "${address}": ${why(error)}`),
      );
    }
    acceptor = acceptConnections(listener, (connection) => {
      // Without it each reply waits for the client's delayed ACK (Nagle).
      connection.conn.setNoDelay(true);
      const plain = new ConnDuplex(connection);
      const socket = tlsContext === undefined
        ? plain
        : acceptTls(plain, tlsContext);
      injector.injectConnection(socket);
      watchCallStart(socket, connection.established);
    }, options);
    return Promise.resolve((listener.addr as Deno.NetAddr).port);
  }

  async function shutdown(
    shutdownOptions: ShutdownOptions = {},
  ): Promise<boolean> {
    const { graceMs = 2000 } = shutdownOptions;
    closing.abort();
    metrics?.shuttingDown();
    acceptor?.stop();
    health.setStatus("", "NOT_SERVING");
    health.setStatus(QUEUE_SERVICE_NAME, "NOT_SERVING");
    // Each connection closes once its calls are done (grpc-js sent it a
    // GOAWAY); on Deno, grpc-js's own shutdown callback comes before that.
    server.tryShutdown(() => {});
    const finished = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        acceptor?.closeAll();
        resolve(false);
      }, graceMs);
      (acceptor?.drained() ?? Promise.resolve()).then(() => {
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
 * The handlers of `queue.v1.QueueService` over `operations`; `closing`
 * aborts when the server shuts down; `metrics`, when given, counts the
 * open Session streams.
 */
function unaryHandlers(
  operations: QueueOperations,
  closing: AbortSignal,
  metrics?: QueueMetrics,
) {
  const session = sessionHandler(operations, { closing });
  return {
    Put: unary(operations.put, waits),
    Peek: unary(operations.peek),
    Pop: unary(operations.pop, waits),
    Size: unary(operations.size),
    Ack: unary(operations.ack),
    Release: unary(operations.release),
    Extend: unary(operations.extend),
    Session: metrics ? countedSessions(session, metrics) : session,
  };
}

/**
 * Wraps a `Session` handler so that `metrics` counts each stream from its
 * start until it ends, is cancelled or fails, whichever comes first.
 */
function countedSessions<Request, Response>(
  handler: grpc.handleBidiStreamingCall<Request, Response>,
  metrics: QueueMetrics,
): grpc.handleBidiStreamingCall<Request, Response> {
  return (call) => {
    metrics.sessionOpened();
    let open = true;
    const ended = () => {
      if (!open) return;
      open = false;
      metrics.sessionClosed();
    };
    call.once("finish", ended);
    call.once("cancelled", ended);
    call.once("error", ended);
    call.once("close", ended);
    handler(call);
  };
}

/** Whether a Put or Pop request asks to wait. */
function waits(request: { wait_ms?: number }): boolean {
  return (request.wait_ms ?? 0) > 0;
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

function why(error: unknown): string {
  if (error instanceof Deno.errors.AddrInUse) return "address already in use";
  return error instanceof Error ? error.message : String(error);
}
