/**
 * `Session` commands made as unary calls instead, one at a time so that they
 * still run in the order given: the Session client's fallback for a server
 * without `Session` (the version-1 contract) or one reached through a proxy.
 *
 * @module
 */
import type { Command, ItemResponse, Reply } from "./proto.ts";
import type { LeasedItem, QueueClient } from "./queue_client.ts";

/**
 * Makes `Session` commands as the unary calls of a {@linkcode QueueClient},
 * each once the one before it has settled, and answers each with the reply
 * `Session` would have sent.
 */
export class UnaryCommands {
  readonly #client: QueueClient;
  /** Settles after the last call made so far. */
  #tail: Promise<unknown> = Promise.resolve();

  /** Makes the calls with `client`, with its timeout. */
  constructor(client: QueueClient) {
    this.#client = client;
  }

  /** Makes `command` a unary call once the earlier ones have settled. */
  send(command: Command): Promise<Reply> {
    const reply = this.#tail.then(() => this.#call(command));
    this.#tail = reply.catch(() => {});
    return reply;
  }

  async #call(command: Command): Promise<Reply> {
    const client = this.#client;
    if (command.put) {
      const { item, wait_ms = 0 } = command.put;
      return { put: { added: await client.put(item, wait_ms) } };
    }
    if (command.pop) {
      const { wait_ms = 0, lease_ms = 0 } = command.pop;
      if (lease_ms > 0) {
        return { pop: leasedOf(await client.lease(lease_ms, wait_ms)) };
      }
      return { pop: itemOf(await client.pop(wait_ms)) };
    }
    if (command.peek) return { peek: itemOf(await client.peek()) };
    if (command.ack) {
      return { ack: { acked: await client.ack(command.ack.receipt) } };
    }
    if (command.release) {
      const released = await client.release(command.release.receipt);
      return { release: { released } };
    }
    if (command.extend) {
      const { receipt, lease_ms } = command.extend;
      return { extend: { extended: await client.extend(receipt, lease_ms) } };
    }
    return { size: await client.count() };
  }
}

function itemOf(item: string | undefined): ItemResponse {
  return item === undefined ? {} : { item };
}

function leasedOf(leased: LeasedItem | undefined): ItemResponse {
  if (leased === undefined) return {};
  const { item, receipt, deliveryCount } = leased;
  return { item, receipt, delivery_count: deliveryCount };
}
