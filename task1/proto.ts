/**
 * The queue's wire contract, `queue.proto`, loaded from its text in the module
 * graph (never from disk at run time) and typed for the server and client.
 *
 * @module
 */
import type { MethodDefinition } from "@grpc/grpc-js";
import { fromJSON, type PackageDefinition } from "@grpc/proto-loader";
import protobuf from "protobufjs";
import QUEUE_PROTO from "./queue.proto" with { type: "text" };

/** The fully qualified name of the queue service. */
export const QUEUE_SERVICE_NAME = "queue.v1.QueueService";

/** A request with no fields (Peek, Size). */
export type EmptyRequest = Record<string, never>;

/** `queue.v1.PutRequest`. */
export interface PutRequest {
  /** The item to append. */
  item: string;
  /**
   * How long to wait for room when the queue is full, in milliseconds; 0
   * (the default, and absent from version-1 clients) answers at once.
   */
  wait_ms?: number;
}

/** `queue.v1.PopRequest`. */
export interface PopRequest {
  /**
   * How long to wait for an item when the queue is empty, in milliseconds;
   * 0 (the default) answers at once.
   */
  wait_ms?: number;
  /**
   * Above 0, lease the item for this many milliseconds instead of removing
   * it (version 3); 0 (the default) removes it.
   */
  lease_ms?: number;
}

/** `queue.v1.PutResponse`. */
export interface PutResponse {
  /** Whether the item was appended (false when the queue was full). */
  added: boolean;
}

/** `queue.v1.PeekResponse` and `queue.v1.PopResponse`. */
export interface ItemResponse {
  /** The head item; absent when the queue is empty. */
  item?: string;
  /** A leased item's receipt (Pop with `lease_ms` only); else empty. */
  receipt?: string;
  /** How many leasing Pops handed this item out, this one included; else 0. */
  delivery_count?: number;
}

/** `queue.v1.SizeResponse`. */
export interface SizeResponse {
  /** The number of items queued. */
  size: number;
  /** The number of items under lease (version 3). */
  leased?: number;
}

/** `queue.v1.AckRequest` and `queue.v1.ReleaseRequest`. */
export interface ReceiptRequest {
  /** The receipt of a leasing Pop. */
  receipt: string;
}

/** `queue.v1.ExtendRequest`. */
export interface ExtendRequest {
  /** The receipt of a leasing Pop. */
  receipt: string;
  /** The lease now ends this many milliseconds after the call. */
  lease_ms: number;
}

/** `queue.v1.AckResponse`. */
export interface AckResponse {
  /** False when the receipt holds no lease any more. */
  acked: boolean;
}

/** `queue.v1.ReleaseResponse`. */
export interface ReleaseResponse {
  /** False when the receipt holds no lease any more. */
  released: boolean;
}

/** `queue.v1.ExtendResponse`. */
export interface ExtendResponse {
  /** False when the receipt holds no lease any more. */
  extended: boolean;
}

/** `queue.v1.Command`: one operation of a session; exactly one field is set. */
export interface Command {
  /** A Put. */
  put?: PutRequest;
  /** A Peek. */
  peek?: EmptyRequest;
  /** A Pop. */
  pop?: PopRequest;
  /** A Size. */
  size?: EmptyRequest;
  /** An Ack (version 3). */
  ack?: ReceiptRequest;
  /** A Release (version 3). */
  release?: ReceiptRequest;
  /** An Extend (version 3). */
  extend?: ExtendRequest;
  /** Which field is set, as proto-loader reports a `oneof`. */
  op?: "put" | "peek" | "pop" | "size" | "ack" | "release" | "extend";
}

/** `queue.v1.CommandError`: why one command of a session failed. */
export interface CommandError {
  /** The gRPC status code number, such as 3 for INVALID_ARGUMENT. */
  code: number;
  /** Why, in one line. */
  message: string;
}

/** `queue.v1.Reply`: the outcome of one command; exactly one field is set. */
export interface Reply {
  /** The answer to a Put. */
  put?: PutResponse;
  /** The answer to a Peek. */
  peek?: ItemResponse;
  /** The answer to a Pop. */
  pop?: ItemResponse;
  /** The answer to a Size. */
  size?: SizeResponse;
  /** The answer to an Ack (version 3). */
  ack?: AckResponse;
  /** The answer to a Release (version 3). */
  release?: ReleaseResponse;
  /** The answer to an Extend (version 3). */
  extend?: ExtendResponse;
  /** Why the command failed. */
  error?: CommandError;
  /** Which field is set, as proto-loader reports a `oneof`. */
  result?:
    | "put"
    | "peek"
    | "pop"
    | "size"
    | "ack"
    | "release"
    | "extend"
    | "error";
}

/** The methods of `queue.v1.QueueService` with their message types. */
export type QueueServiceDefinition = {
  /** Appends an item unless the queue is full. */
  Put: MethodDefinition<PutRequest, PutResponse>;
  /** Returns the head item without removing it. */
  Peek: MethodDefinition<EmptyRequest, ItemResponse>;
  /** Removes and returns the head item. */
  Pop: MethodDefinition<PopRequest, ItemResponse>;
  /** Returns the number of items queued. */
  Size: MethodDefinition<EmptyRequest, SizeResponse>;
  /** Removes a leased item for good (version 3). */
  Ack: MethodDefinition<ReceiptRequest, AckResponse>;
  /** Gives a leased item back at the head of the queue (version 3). */
  Release: MethodDefinition<ReceiptRequest, ReleaseResponse>;
  /** Moves the end of a lease (version 3). */
  Extend: MethodDefinition<ExtendRequest, ExtendResponse>;
  /** Runs one client's commands in order, one reply per command. */
  Session: MethodDefinition<Command, Reply>;
};

/**
 * Parses `queue.proto` into a proto-loader package definition: field names
 * as written, scalar defaults filled in, and an unset optional `item` left
 * absent so that an empty queue is never confused with an empty string.
 */
export function loadQueuePackage(): PackageDefinition {
  const { root } = protobuf.parse(QUEUE_PROTO, { keepCase: true });
  return fromJSON(root.toJSON(), {
    keepCase: true,
    defaults: true,
    oneofs: true,
  });
}

/** Returns the typed definition of the queue service in `pkg`. */
export function queueServiceDefinition(
  pkg: PackageDefinition = loadQueuePackage(),
): QueueServiceDefinition {
  const definition = pkg[QUEUE_SERVICE_NAME];
  if (definition === undefined || !("Put" in definition)) {
    throw new TypeError(
      `Package has no service "${QUEUE_SERVICE_NAME}"`,
    );
  }
  // proto-loader types messages as plain objects; queue.proto fixes their shape.
  return definition as unknown as QueueServiceDefinition;
}
