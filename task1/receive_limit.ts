/**
 * A server-wide bound on the requests being received: the bytes grpc-js
 * holds for requests that have not fully arrived are at most the number of
 * such calls times the largest message accepted.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";

/** Options of {@linkcode receiveLimit}. */
export interface ReceiveLimitOptions {
  /**
   * How long a call may take to deliver its first request message after
   * its metadata, in milliseconds; then it is answered DEADLINE_EXCEEDED,
   * so that stalled senders do not keep their places for good.
   *
   * @default {10000}
   */
  timeoutMs?: number;
}

/**
 * A server interceptor (for every method, health and reflection included)
 * that lets at most `limit` calls be receiving their first request message
 * at once, from their metadata until that message has arrived whole (or the
 * call ends), and answers RESOURCE_EXHAUSTED to a call that would be one
 * more. A call still receiving after `timeoutMs` is answered
 * DEADLINE_EXCEEDED. The count belongs to the returned interceptor: one per
 * server.
 */
export function receiveLimit(
  limit: number,
  options: ReceiveLimitOptions = {},
): grpc.ServerInterceptor {
  const { timeoutMs = 10_000 } = options;
  let receiving = 0;
  return (_method, call) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const release = () => {
      if (timer === undefined) return;
      clearTimeout(timer);
      timer = undefined;
      receiving--;
    };
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        if (receiving >= limit) {
          call.sendStatus({
            code: grpc.status.RESOURCE_EXHAUSTED,
            details:
              `Too many requests being received at once (at most ${limit})`,
          });
          return;
        }
        receiving++;
        timer = setTimeout(() => {
          release();
          call.sendStatus({
            code: grpc.status.DEADLINE_EXCEEDED,
            details: `The request did not arrive within ${timeoutMs} ms`,
          });
        }, timeoutMs);
        next(metadata);
      })
      .withOnReceiveMessage((message, next) => {
        release();
        next(message);
      })
      .withOnReceiveHalfClose((next) => {
        release();
        next();
      })
      .withOnCancel(release)
      .build();
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      .withSendStatus((status, next) => {
        release();
        next(status);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}
