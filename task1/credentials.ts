/**
 * TLS and token authentication for the queue's gRPC server and client: the
 * server's TLS and its one token check covering every RPC, and the client's
 * channel credentials and `authorization` metadata on every call.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import type { ClientTls, ServerTls } from "../lib/tls.ts";
import type { TokenGate } from "../lib/token.ts";
import type { ConnDuplex } from "./conn_duplex.ts";

/** The metadata key that carries the token, as `Bearer <token>`. */
export const AUTHORIZATION_KEY = "authorization";

/**
 * Methods open without a token, so load balancers and tools keep working:
 * the health check and reflection. `Health/Watch` is not among them: a
 * stream that stays open for good is for clients holding the token.
 */
const OPEN_SERVICE_PREFIXES = [
  "/grpc.health.v1.Health/Check",
  "/grpc.reflection.v1.ServerReflection/",
  "/grpc.reflection.v1alpha.ServerReflection/",
];

/**
 * The server's TLS context: its certificate chain and key. No client
 * certificate is asked for, so no list of acceptable CAs goes out in the
 * handshake.
 */
export function serverTlsContext(tls: ServerTls): SecureContext {
  return createSecureContext({ cert: tls.cert, key: tls.key });
}

/**
 * The server side of TLS over an accepted connection's `socket`, offering
 * HTTP/2 (`h2`) by ALPN, as a plain stream of what the client sent and
 * what it is sent: Deno's `node:http2` serves a `TLSSocket` only from its
 * own TLS server, and a plain stream from any server. A failed handshake (a
 * client speaking plain HTTP/2, for one) closes the connection at once.
 */
export function acceptTls(socket: ConnDuplex, context: SecureContext): Duplex {
  const secure = new TLSSocket(socket, {
    isServer: true,
    secureContext: context,
    ALPNProtocols: ["h2"],
  });
  return new PlainText(secure, socket);
}

/** The plain text of a {@linkcode TLSSocket}, with its connection's addresses. */
class PlainText extends Duplex {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily: string;
  readonly localAddress: string;
  readonly localPort: number;
  readonly #secure: TLSSocket;
  readonly #socket: ConnDuplex;

  constructor(secure: TLSSocket, socket: ConnDuplex) {
    super({ allowHalfOpen: false });
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    this.remoteFamily = socket.remoteFamily;
    this.localAddress = socket.localAddress;
    this.localPort = socket.localPort;
    this.#secure = secure;
    this.#socket = socket;
    secure.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) secure.pause();
    });
    secure.on("end", () => this.push(null));
    secure.on("error", () => this.destroy());
    secure.on("close", () => {
      socket.destroy();
      this.destroy();
    });
  }

  /** Lets the TLS socket flow again. */
  override _read(): void {
    this.#secure.resume();
  }

  /** Encrypts and sends one chunk. */
  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    this.#secure.write(chunk, callback);
  }

  /** Ends the TLS session's writing half. */
  override _final(callback: (error?: Error | null) => void): void {
    this.#secure.end(() => callback());
  }

  /** Closes the TLS socket, and so the connection. */
  override _destroy(
    error: Error | null,
    callback: (error?: Error | null) => void,
  ): void {
    this.#secure.destroy();
    callback(error);
  }
}

/**
 * A server interceptor that answers UNAUTHENTICATED to every call without
 * the right `authorization: Bearer <token>` metadata, streams included,
 * except the health check (`Health/Check`, not `Health/Watch`) and
 * reflection. The right token is let in at once; `gate` holds a wrong
 * one's refusal for a while.
 */
export function tokenInterceptor(gate: TokenGate): grpc.ServerInterceptor {
  return (method, call) => {
    if (
      OPEN_SERVICE_PREFIXES.some((prefix) => method.path.startsWith(prefix))
    ) {
      return new grpc.ServerInterceptingCall(call);
    }
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const address = call.getConnectionInfo().remoteAddress ??
          call.getPeer();
        void gate.check(address, bearerToken(metadata)).then((verdict) => {
          if (verdict.ok) {
            next(metadata);
          } else {
            call.sendStatus({
              code: grpc.status.UNAUTHENTICATED,
              details: verdict.reason,
            });
          }
        });
      })
      .build();
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener))
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}

/** The token of `authorization: Bearer <token>`, or undefined. */
function bearerToken(metadata: grpc.Metadata): string | undefined {
  const [value] = metadata.get(AUTHORIZATION_KEY);
  if (typeof value !== "string" || !value.startsWith("Bearer ")) {
    return undefined;
  }
  return value.slice("Bearer ".length);
}

/**
 * The client's channel credentials: plain without `tls`, else TLS that
 * trusts the default roots and `tls.caCerts`.
 */
export function channelCredentials(tls?: ClientTls): grpc.ChannelCredentials {
  if (tls === undefined) return grpc.credentials.createInsecure();
  const roots = tls.caCerts.length > 0
    ? Buffer.from(tls.caCerts.join("\n"))
    : null;
  return grpc.credentials.createSsl(roots);
}

/**
 * The client's channel options: the name to verify the certificate for
 * (`tls.serverName`), and an interceptor that adds the token's metadata to
 * every call, streams included. (Call credentials would do the same but
 * grpc-js refuses them on a plain channel, which a loopback setup may use.)
 */
export function clientChannelOptions(
  tls: ClientTls | undefined,
  token: string | undefined,
): grpc.ClientOptions {
  const options: grpc.ClientOptions = {};
  if (tls?.serverName !== undefined) {
    options["grpc.ssl_target_name_override"] = tls.serverName;
    options["grpc.default_authority"] = tls.serverName;
  }
  if (token !== undefined) {
    const authorization = `Bearer ${token}`;
    options.interceptors = [
      (callOptions, nextCall) =>
        new grpc.InterceptingCall(nextCall(callOptions), {
          start(metadata, listener, next) {
            metadata.set(AUTHORIZATION_KEY, authorization);
            next(metadata, listener);
          },
        }),
    ];
  }
  return options;
}
