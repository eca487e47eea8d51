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
  type ItemResponse,
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

/** What a call says when the server has no leases (queue.proto version 2 or 1). */
export class LeasesUnsupportedError extends Error {
  /** The class name, for messages and logs. */
  override name = "LeasesUnsupportedError";

  /** Creates the error; its message is the whole explanation. */
  constructor() {
    super("the server does not support leases (queue.proto version 3)");
  }
}

/** An item handed out by a leasing Pop. */
export interface LeasedItem {
  /** The item, as stored. */
  item: string;
  /** The opaque receipt that Ack, Release and Extend name it by. */
  receipt: string;
  /** How many leasing Pops handed it out, this one included (1 the first time). */
  deliveryCount: number;
}

/** The answer to Size: the items queued, and apart, the items under lease. */
export interface QueueCount {
  /** Items in the queue (what Peek and Pop see). */
  size: number;
  /** Items under lease (0 from a server without leases). */
  leased: number;
}

/**
 * The lease operations (queue.proto version 3). Against a server without
 * them, each rejects with {@linkcode LeasesUnsupportedError}; a leasing Pop
 * checks first, since such a server would remove the item for good.
 */
export interface LeasingQueue {
  /**
   * Leases the head item for `leaseMs` milliseconds, waiting up to `waitMs`
   * for one; resolves to undefined when none came.
   */
  lease(leaseMs: number, waitMs?: number): Promise<LeasedItem | undefined>;
  /** Removes a leased item for good; false when `receipt` holds no lease. */
  ack(receipt: string): Promise<boolean>;
  /** Puts a leased item back at the head; false when `receipt` holds no lease. */
  release(receipt: string): Promise<boolean>;
  /** Ends the lease `leaseMs` from now; false when `receipt` holds no lease. */
  extend(receipt: string, leaseMs: number): Promise<boolean>;
}

/**
 * A queue server's queue as the client sees it: the operations that
 * {@linkcode QueueClient} (unary calls) and `SessionClient` (one stream)
 * make, and the REPL runs. `waitMs` is how long the server may wait for room
 * (put) or for an item (pop); the call's deadline is extended by as much.
 */
export interface RemoteQueue extends LeasingQueue {
  /** Appends `item`; resolves to false when the queue was full. */
  put(item: string, waitMs?: number): Promise<boolean>;
  /** Resolves to the head item, or undefined when the queue is empty. */
  peek(): Promise<string | undefined>;
  /** Removes the head item and resolves to it, or to undefined when empty. */
  pop(waitMs?: number): Promise<string | undefined>;
  /** Resolves to the number of items queued. */
  size(): Promise<number>;
  /** Resolves to the number of items queued and the number under lease. */
  count(): Promise<QueueCount>;
}

/**
 * A connection to a queue server. Its calls reject with a
 * {@linkcode QueueCallError}; close it (or dispose it) when done.
 */
export class QueueClient implements RemoteQueue, Disposable {
  /** The server's address as `host:port` (`[host]:port` for IPv6). */
  readonly target: string;
  /** The deadline of each call, before any wait, in milliseconds. */
  readonly timeoutMs: number;
  /** How the server is verified, when the connection uses TLS. */
  readonly tls: ClientTls | undefined;
  /** The token sent with every call, if any. */
  readonly token: string | undefined;
  #client: grpc.Client;
  /** The methods, parsed from `queue.proto` on the first unary call. */
  #methods: QueueServiceDefinition | undefined;
  /** Whether the server has leases, once a call has shown it. */
  #leases: boolean | undefined;

  /** Creates a client of the server at `address`; it connects lazily. */
  constructor(address: HostPort, options: QueueClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.target = formatHostPort(address.hostname, address.port);
    this.tls = options.tls;
    this.token = options.token;
    this.#client = new grpc.Client(
      this.target,
      channelCredentials(options.tls),
      clientChannelOptions(options.tls, options.token),
    );
  }

  /** The methods of the service; a Session client may never need them. */
  #service(): QueueServiceDefinition {
    return this.#methods ??= queueServiceDefinition();
  }

  /** Appends `item`; resolves to false when the queue was full. */
  async put(item: string, waitMs = 0): Promise<boolean> {
    const request = { item, wait_ms: waitMs };
    return (await this.#call(this.#service().Put, request, waitMs)).added;
  }

  /** Resolves to the head item, or undefined when the queue is empty. */
  async peek(): Promise<string | undefined> {
    return (await this.#call(this.#service().Peek, {})).item;
  }

  /** Removes the head item and resolves to it, or to undefined when empty. */
  async pop(waitMs = 0): Promise<string | undefined> {
    const request = { wait_ms: waitMs };
    return (await this.#call(this.#service().Pop, request, waitMs)).item;
  }

  /** Resolves to the number of items queued. */
  async size(): Promise<number> {
    return (await this.#call(this.#service().Size, {})).size;
  }

  /** Resolves to the number of items queued and the number under lease. */
  async count(): Promise<QueueCount> {
    const { size, leased = 0 } = await this.#call(this.#service().Size, {});
    return { size, leased };
  }

  /**
   * Resolves to whether the server has leases (queue.proto version 3): an
   * Ack of the empty receipt, which such a server answers false, and an older
   * one UNIMPLEMENTED. Asked once; other failures reject and are not kept.
   */
  async supportsLeases(): Promise<boolean> {
    if (this.#leases !== undefined) return this.#leases;
    try {
      await this.#call(this.#service().Ack, { receipt: "" });
      this.#leases = true;
    } catch (error: unknown) {
      if (!isUnimplemented(error)) throw error;
      this.#leases = false;
    }
    return this.#leases;
  }

  /**
   * Leases the head item for `leaseMs` milliseconds, waiting up to `waitMs`
   * for one; resolves to undefined when none came. Checks first that the
   * server has leases: an older one would ignore `lease_ms` and remove the
   * item for good.
   */
  async lease(
    leaseMs: number,
    waitMs = 0,
  ): Promise<LeasedItem | undefined> {
    if (!await this.supportsLeases()) throw new LeasesUnsupportedError();
    const request = { wait_ms: waitMs, lease_ms: leaseMs };
    return leasedItem(await this.#call(this.#service().Pop, request, waitMs));
  }

  /** Removes a leased item for good; false when `receipt` holds no lease. */
  async ack(receipt: string): Promise<boolean> {
    return (await this.#leaseCall(this.#service().Ack, { receipt })).acked;
  }

  /** Puts a leased item back at the head; false when `receipt` holds no lease. */
  async release(receipt: string): Promise<boolean> {
    const request = { receipt };
    return (await this.#leaseCall(this.#service().Release, request)).released;
  }

  /** Ends the lease `leaseMs` from now; false when `receipt` holds no lease. */
  async extend(receipt: string, leaseMs: number): Promise<boolean> {
    const request = { receipt, lease_ms: leaseMs };
    return (await this.#leaseCall(this.#service().Extend, request)).extended;
  }

  /**
   * The error for a call or command that ended with `code` and `details`,
   * worded for the user; `waitMs` is how long past the timeout it could wait.
   */
  explain(code: grpc.status, details: string, waitMs = 0): QueueCallError {
    switch (code) {
      case grpc.status.DEADLINE_EXCEEDED:
        return new QueueCallError(
          code,
          `No answer from "${this.target}" within ${
            (this.timeoutMs + waitMs) / 1000
          } s`,
        );
      case grpc.status.UNAVAILABLE:
        return new QueueCallError(
          code,
          `Cannot reach the server at "${this.target}": ${
            tidyDetails(details)
          }`,
        );
      default:
        return new QueueCallError(code, details);
    }
  }

  /** Closes the connection; calls made afterwards fail. */
  close(): void {
    this.#client.close();
  }

  /** Closes the connection. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Makes a call that only a server with leases has. */
  async #leaseCall<Request, Response>(
    method: grpc.MethodDefinition<Request, Response>,
    request: Request,
  ): Promise<Response> {
    if (this.#leases === false) throw new LeasesUnsupportedError();
    try {
      return await this.#call(method, request);
    } catch (error: unknown) {
      if (!isUnimplemented(error)) throw error;
      this.#leases = false;
      throw new LeasesUnsupportedError();
    }
  }

  #call<Request, Response>(
    method: grpc.MethodDefinition<Request, Response>,
    request: Request,
    waitMs = 0,
  ): Promise<Response> {
    return new Promise((resolve, reject) => {
      this.#client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        { deadline: Date.now() + this.timeoutMs + waitMs },
        (error, response) => {
          if (error) reject(this.explain(error.code, error.details, waitMs));
          else if (response === undefined) {
            reject(new QueueCallError(grpc.status.INTERNAL, "Empty response"));
          } else resolve(response);
        },
      );
    });
  }
}

/**
 * The leased item in a leasing Pop's answer, or undefined when the queue
 * was empty.
 *
 * @throws {QueueCallError} when the item came without a receipt: the server
 * ignored the lease and removed the item
 */
export function leasedItem(response: ItemResponse): LeasedItem | undefined {
  const { item, receipt = "", delivery_count: deliveryCount = 0 } = response;
  if (item === undefined) return undefined;
  if (receipt === "") {
    throw new QueueCallError(
      grpc.status.INTERNAL,
      "The server answered a leasing Pop without a receipt: it removed the item without a lease",
    );
  }
  return { item, receipt, deliveryCount };
}

/** Whether `error` is a call that the server does not implement. */
function isUnimplemented(error: unknown): boolean {
  return error instanceof QueueCallError &&
    error.code === grpc.status.UNIMPLEMENTED;
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
    tidy
      .replace(
        /Failed to connect( \(.*\))?$/,
        "Failed to connect (if the server uses TLS, connect with --tls or --ca)",
      )
      // A TLS server drops a plain HTTP/2 connection (the Session client's).
      .replace(
        /^The server closed the connection before answering$/,
        "$& (if the server uses TLS, connect with --tls or --ca)",
      );
}
