/**
 * A raw grpc-js client of the queue service for tests that send `wait_ms`
 * (the queue client does not): each call returns the call itself, so a test
 * can cancel it, and its answer.
 *
 * @module
 */
import * as grpc from "@grpc/grpc-js";
import {
  type ItemResponse,
  type PopRequest,
  type PutRequest,
  type PutResponse,
  queueServiceDefinition,
} from "../task1/proto.ts";

const service = queueServiceDefinition();

/** A call in flight: the call, to cancel it, and its answer. */
export interface PendingCall<Response> {
  /** The grpc-js call. */
  call: grpc.ClientUnaryCall;
  /** Resolves to the response; rejects with the grpc-js `ServiceError`. */
  answer: Promise<Response>;
}

/** A client of the queue server on 127.0.0.1:`port`; dispose to close it. */
export class WaitingClient implements Disposable {
  /** The grpc-js client. */
  readonly client: grpc.Client;

  /** Creates a client of the server on 127.0.0.1:`port`. */
  constructor(port: number) {
    this.client = new grpc.Client(
      `127.0.0.1:${port}`,
      grpc.credentials.createInsecure(),
    );
  }

  /** Starts a call of `method` with a deadline `deadlineMs` from now. */
  call<Request, Response>(
    method: grpc.MethodDefinition<Request, Response>,
    request: Request,
    deadlineMs = 30_000,
  ): PendingCall<Response> {
    let call!: grpc.ClientUnaryCall;
    const answer = new Promise<Response>((resolve, reject) => {
      call = this.client.makeUnaryRequest(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        { deadline: Date.now() + deadlineMs },
        (error, response) => error ? reject(error) : resolve(response!),
      );
    });
    return { call, answer };
  }

  /** Starts a Put. */
  put(request: PutRequest, deadlineMs?: number): PendingCall<PutResponse> {
    return this.call(service.Put, request, deadlineMs);
  }

  /** Starts a Pop. */
  pop(request: PopRequest, deadlineMs?: number): PendingCall<ItemResponse> {
    return this.call(service.Pop, request, deadlineMs);
  }

  /** Closes the connection. */
  [Symbol.dispose](): void {
    this.client.close();
  }
}
