/**
 * The one map from an error of a queue operation to the gRPC status that
 * answers it, shared by the unary handlers and `Session`.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import {
  StoreClosedError,
  StoreFailedError,
  StoreUnavailableError,
} from "./store/mod.ts";

/**
 * The one place that maps a handler's error to a gRPC status: a
 * `RangeError` is the caller's fault (INVALID_ARGUMENT, with its message); a
 * wait ended by the call's deadline is DEADLINE_EXCEEDED and by its
 * cancellation CANCELLED; a store that is shutting down, has failed or
 * cannot reach its server for now is UNAVAILABLE; anything else is INTERNAL, without details that could leak internals.
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
