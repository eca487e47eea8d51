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

/** A request with no fields (Peek, Pop, Size). */
export type EmptyRequest = Record<string, never>;

/** `queue.v1.PutRequest`. */
export interface PutRequest {
  /** The item to append. */
  item: string;
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
}

/** `queue.v1.SizeResponse`. */
export interface SizeResponse {
  /** The number of items queued. */
  size: number;
}

/** The methods of `queue.v1.QueueService` with their message types. */
export type QueueServiceDefinition = {
  /** Appends an item unless the queue is full. */
  Put: MethodDefinition<PutRequest, PutResponse>;
  /** Returns the head item without removing it. */
  Peek: MethodDefinition<EmptyRequest, ItemResponse>;
  /** Removes and returns the head item. */
  Pop: MethodDefinition<EmptyRequest, ItemResponse>;
  /** Returns the number of items queued. */
  Size: MethodDefinition<EmptyRequest, SizeResponse>;
};

/**
 * Parses `queue.proto` into a proto-loader package definition: field names
 * as written, scalar defaults filled in, and an unset optional `item` left
 * absent so that an empty queue is never confused with an empty string.
 */
export function loadQueuePackage(): PackageDefinition {
  const { root } = protobuf.parse(QUEUE_PROTO, { keepCase: true });
  return fromJSON(root.toJSON(), { keepCase: true, defaults: true });
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
