/**
 * TLS and token authentication for the queue's gRPC server and client: the
 * server's credentials and its one token check covering every RPC, and the
 * client's channel credentials and `authorization` metadata on every call.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import { Buffer } from "node:buffer";
import type { ClientTls, ServerTls } from "../lib/tls.ts";
import type { TokenGate } from "../lib/token.ts";

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
 * The server's credentials: plain without `tls`, else TLS with its
 * certificate chain and key and no client certificates.
 */
export function serverCredentials(tls?: ServerTls): grpc.ServerCredentials {
  if (tls === undefined) return grpc.ServerCredentials.createInsecure();
  const cert = Buffer.from(tls.cert);
  // Never null rootCerts: grpc-js then loads every default root as the list
  // of acceptable client CAs, and under Deno that list goes out in the
  // handshake even though no client certificate is asked for: a 16.5 KB
  // message that OpenSSL, grpcio and rustls clients reject as too large.
  // The server's own chain is a short list that is never used for checks.
  return grpc.ServerCredentials.createSsl(
    cert,
    [{ cert_chain: cert, private_key: Buffer.from(tls.key) }],
    false,
  );
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
