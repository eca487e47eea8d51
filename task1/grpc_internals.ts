/**
 * The one place that reads grpc-js's private fields. Everything else uses
 * grpc-js's public API; {@linkcode connectionSocket} is what `Session` needs
 * beyond it, and `grpc_internals_test.ts` checks against a real grpc-js
 * server that the fields it reads are still there, so an upgrade of grpc-js
 * that moves them fails that test instead of silently lifting a bound.
 *
 * What it relies on (grpc-js 1.14, `server-call.js` and
 * `server-interceptors.js`): a server call object (`ServerDuplexStreamImpl`
 * and its siblings) keeps its intercepting call in `call`; without server
 * interceptors that is the `BaseServerInterceptingCall`, which keeps the
 * call's `http2.ServerHttp2Stream` in `stream`; the stream's `session` is the
 * connection's `Http2Session`, whose `socket` counts in `bytesWritten` the
 * bytes that have left the connection.
 *
 * With server interceptors (as with `--token-file`) `call` is the outermost
 * `ServerInterceptingCall`, which keeps the next call in `nextCall` and has
 * no `stream`, so the socket is not reached and {@linkcode connectionSocket}
 * returns undefined: a session then runs without its bound on unsent reply
 * bytes (a known gap, left as it is here).
 *
 * @module
 */

/**
 * The connection's socket under a call, as far as the session needs it:
 * how many bytes have left, and its events.
 */
export interface ConnectionSocket {
  /** How many bytes have been written to the connection so far. */
  readonly bytesWritten: number;
  /** Calls `listener` once, when bytes next arrive from the client. */
  once(event: "data", listener: () => void): unknown;
  /** Removes a listener added by `once`. */
  off(event: "data", listener: () => void): unknown;
}

/**
 * The socket of the HTTP/2 connection a grpc-js server call runs on, or
 * undefined if it cannot be reached.
 *
 * Deno 2.9's `node:http2` completes every write at once, whatever room the
 * client's flow-control window leaves, and keeps what does not fit; so
 * `write()` never returns false for a client that stops reading, and its
 * replies would pile up without limit. What has actually left is counted by
 * the connection's socket (`bytesWritten`), which grpc-js keeps in private
 * fields: the call's intercepting call (the base call when there are no
 * interceptors) holds the HTTP/2 stream.
 */
export function connectionSocket(call: object): ConnectionSocket | undefined {
  const socket = (call as {
    call?: { stream?: { session?: { socket?: Partial<ConnectionSocket> } } };
  }).call?.stream?.session?.socket;
  return typeof socket?.bytesWritten === "number"
    ? socket as ConnectionSocket
    : undefined;
}
