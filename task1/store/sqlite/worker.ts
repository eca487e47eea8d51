/**
 * The worker that owns the queue file: it opens the file and reads its items
 * one bounded batch per request, then commits the batches the journal sends,
 * one at a time, so that an fsync
 * never stalls the server's event loop. `journal.ts` imports this module (so
 * that `deno compile` embeds it) and starts it as a `Worker`; only there does
 * it serve.
 *
 * @module
 */
import {
  type ItemBatch,
  QueueFile,
  reason,
  type ReturnedBatch,
  StoreFileError,
} from "./file.ts";

/** What the journal asks of the worker. */
export type WorkerRequest =
  | { type: "open"; path: string; maxFileBytes?: number }
  | { type: "read"; from: number }
  | { type: "readReturned"; from: number }
  | {
    type: "commit";
    firstSeq: number;
    items: string[];
    counts: [number, number][];
    removals: [number, number][];
  }
  | { type: "close" };

/** What the worker answers, in order. */
export type WorkerReply =
  | { type: "opened"; head: number; next: number }
  | ({ type: "items" } & ItemBatch)
  | ({ type: "returned" } & ReturnedBatch)
  | { type: "refused"; message: string }
  | { type: "committed" }
  | { type: "failed"; message: string }
  | { type: "closed" };

/** The part of a worker's global scope that the worker uses. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
}

/** Serves the journal's requests on `scope` until it asks to close. */
export function serveQueueFile(scope: WorkerScope): void {
  let file: QueueFile | undefined;
  scope.onmessage = ({ data: request }) => {
    switch (request.type) {
      case "open": {
        try {
          file = new QueueFile(request.path, request.maxFileBytes);
        } catch (error: unknown) {
          scope.postMessage({
            type: "refused",
            message: error instanceof StoreFileError
              ? error.message
              : `Cannot use "${request.path}": ${reason(error)}`,
          });
          return;
        }
        scope.postMessage({ type: "opened", head: file.head, next: file.next });
        return;
      }
      case "read":
      case "readReturned": {
        try {
          if (request.type === "read") {
            const { bytes, lengths } = file!.read(request.from);
            // Moved, not copied: the buffers are the journal's from now on.
            const own = bytes.buffer instanceof ArrayBuffer &&
                bytes.byteLength === bytes.buffer.byteLength
              ? bytes as Uint8Array<ArrayBuffer>
              : bytes.slice();
            scope.postMessage({ type: "items", bytes: own, lengths }, [
              own.buffer,
              lengths.buffer,
            ]);
          } else {
            scope.postMessage({
              type: "returned",
              ...file!.readReturned(request.from),
            });
          }
        } catch (error: unknown) {
          // The file is not served: release it and its lock now.
          file?.close();
          file = undefined;
          scope.postMessage({ type: "refused", message: reason(error) });
        }
        return;
      }
      case "commit": {
        try {
          const { firstSeq, items, counts, removals } = request;
          file!.commit(firstSeq, items, counts, removals);
          scope.postMessage({ type: "committed" });
        } catch (error: unknown) {
          scope.postMessage({ type: "failed", message: reason(error) });
        }
        return;
      }
      case "close": {
        file?.close();
        file = undefined;
        scope.postMessage({ type: "closed" });
        return;
      }
    }
  };
}

/** The name `journal.ts` gives the worker, by which it knows to serve. */
export const WORKER_NAME = "queue-file";

// Serve only when started as the worker, not when imported by `journal.ts`.
if ((globalThis as { name?: string }).name === WORKER_NAME) {
  serveQueueFile(globalThis as unknown as WorkerScope);
}
