/**
 * The real parts of `work`: a job slot's queue over its own `Session`
 * stream, and commands run with `Deno.Command`. Its core is `runWorker`
 * (`work.ts`).
 *
 * @module
 */
import type { LeasedItem, QueueClient } from "./queue_client.ts";
import { SessionClient } from "./session_client.ts";
import type { JobExit, JobRunner, RunningJob, WorkerQueue } from "./work.ts";

/**
 * One job slot's queue: its own `Session` stream, so its leases end with the
 * stream (a worker killed with `kill -9` gives its items back at once), its
 * Extends never wait behind another slot's waiting Pop, and a waiting Pop is
 * cancelled by closing the stream, which holds no other lease then. (Over
 * unary calls, against a server reached through a proxy, a cancelled Pop
 * keeps waiting on the server and its item comes back when its lease ends.)
 */
export class SessionSlot implements WorkerQueue, Disposable {
  readonly #session: SessionClient;

  /** A slot on the server of `client`, with its timeout, TLS and token. */
  constructor(client: QueueClient) {
    this.#session = new SessionClient(client);
  }

  /**
   * Leases the head item, waiting up to `waitMs`; once `signal` is aborted,
   * closes the stream (the server gives back an item it leased meanwhile)
   * and resolves to undefined.
   */
  async lease(
    leaseMs: number,
    waitMs: number,
    signal: AbortSignal,
  ): Promise<LeasedItem | undefined> {
    if (signal.aborted) return undefined;
    const cancel = () => this.#session.close();
    signal.addEventListener("abort", cancel, { once: true });
    try {
      return await this.#session.lease(leaseMs, waitMs);
    } catch (error: unknown) {
      if (signal.aborted) return undefined;
      throw error;
    } finally {
      signal.removeEventListener("abort", cancel);
    }
  }

  /** Removes a leased item for good; false when `receipt` holds no lease. */
  ack(receipt: string): Promise<boolean> {
    return this.#session.ack(receipt);
  }

  /** Puts a leased item back at the head; false when `receipt` holds no lease. */
  release(receipt: string): Promise<boolean> {
    return this.#session.release(receipt);
  }

  /** Ends the lease `leaseMs` from now; false when `receipt` holds no lease. */
  extend(receipt: string, leaseMs: number): Promise<boolean> {
    return this.#session.extend(receipt, leaseMs);
  }

  /** Ends the stream; its leases go back to the queue. */
  [Symbol.dispose](): void {
    this.#session.close();
  }
}

const encoder = new TextEncoder();

/**
 * Runs `command` with `args` for each item: the item, exactly as stored, on
 * its standard input (then closed), `QUEUE_DELIVERY_COUNT` added to the
 * environment, its standard output and error the worker's own. Each runs in
 * a session and process group of its own, so a Ctrl+C in the worker's
 * terminal reaches the worker alone, and killing it sends SIGKILL to the
 * whole group: the processes the command started end with it.
 */
export function commandRunner(
  command: string,
  args: readonly string[],
): JobRunner {
  return {
    start(item: string, deliveryCount: number): RunningJob {
      let child: Deno.ChildProcess;
      try {
        child = new Deno.Command(command, {
          args: [...args],
          stdin: "piped",
          stdout: "inherit",
          stderr: "inherit",
          env: { QUEUE_DELIVERY_COUNT: String(deliveryCount) },
          detached: true,
        }).spawn();
      } catch (error: unknown) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`Cannot run "${command}": ${reason}`);
      }
      // A command that exits without reading its input is no failure of ours.
      feed(child.stdin, encoder.encode(item)).catch(() => {});
      return {
        exit: child.status.then(
          ({ code, signal }): JobExit => ({ code, signal }),
        ),
        kill: () => {
          try {
            // The group's id is the command's process id (setsid).
            Deno.kill(-child.pid, "SIGKILL");
          } catch {
            // The whole group has already exited.
          }
        },
      };
    },
  };
}

/** Writes `bytes` to `stdin` and closes it. */
async function feed(
  stdin: WritableStream<Uint8Array>,
  bytes: Uint8Array,
): Promise<void> {
  const writer = stdin.getWriter();
  try {
    await writer.write(bytes);
  } finally {
    await writer.close().catch(() => {});
  }
}
