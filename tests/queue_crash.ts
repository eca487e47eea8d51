/**
 * One round of the queue's crash check, shared by the crash test and the
 * kill -9 soak of the benchmark: concurrent clients put and pop unique items
 * on `queue-server --data FILE`, the server is killed with SIGKILL at a
 * random moment, restarted on the same file and drained, and what came back
 * is checked against every answer the clients received.
 *
 * @module
 */
import { QueueClient } from "../task1/queue_client.ts";
import { startServer, within } from "./harness.ts";

/** Options of {@linkcode crashRound}. */
export interface CrashRoundOptions {
  /**
   * How many clients put and pop at the same time.
   *
   * @default {8}
   */
  clients?: number;
  /**
   * The queue's capacity.
   *
   * @default {200}
   */
  capacity?: number;
  /**
   * The kill comes after a random number of answered calls from 100 up to
   * this.
   *
   * @default {600}
   */
  maxCallsBeforeKill?: number;
}

/** What one round saw. */
export interface CrashRoundResult {
  /** Puts answered True. */
  acknowledged: number;
  /** Items that Pops returned. */
  popped: number;
  /** Items found after the restart. */
  survivors: number;
  /**
   * Acknowledged items neither popped nor found: at most one per Pop that
   * was in flight at the kill (it may have taken an item without answering).
   */
  takenByUnansweredPops: number;
  /** Every broken promise, one line each; empty when the round passed. */
  problems: string[];
}

/** A client of the server on 127.0.0.1:`port`. */
function clientOf(port: number): QueueClient {
  return new QueueClient({ hostname: "127.0.0.1", port });
}

/** Pops until the queue is empty; resolves to the items, head first. */
export async function drain(client: QueueClient): Promise<string[]> {
  const items: string[] = [];
  for (let item = await client.pop(); item !== undefined;) {
    items.push(item);
    item = await client.pop();
  }
  return items;
}

/**
 * Runs one round on `file` (items are named after `round`, so rounds on one
 * file never share an item) and checks: no item twice, no popped item back,
 * every acknowledged item that no Pop returned present (but for those an
 * unanswered Pop may have taken), and each client's survivors in the order
 * its Puts were acknowledged. The file is empty again afterwards.
 */
export async function crashRound(
  file: string,
  round: number,
  options: CrashRoundOptions = {},
): Promise<CrashRoundResult> {
  const { clients: count = 8, capacity = 200 } = options;
  const { maxCallsBeforeKill = 600 } = options;
  const args = ["0", String(capacity), "--host", "127.0.0.1", "--data", file];
  const acknowledged = new Set<string>();
  const attempted = new Set<string>();
  const popped = new Set<string>();
  let popsInFlight = 0;
  {
    await using started = await startServer("queue-server", args);
    const clients = Array.from({ length: count }, () => clientOf(started.port));
    let calls = 0;
    const workers = clients.map(async (client, c) => {
      try {
        for (let i = 0;; i++) {
          const item = `r${round}-c${c}-${String(i).padStart(6, "0")}`;
          attempted.add(item);
          if (await client.put(item)) acknowledged.add(item);
          calls++;
          if (i % 3 === 2) {
            popsInFlight++;
            const got = await client.pop();
            popsInFlight--;
            if (got !== undefined) popped.add(got);
            calls++;
          }
        }
      } catch {
        // The server was killed: this client's last call has no answer.
      }
    });
    const killAfter = 100 +
      Math.floor(Math.random() * Math.max(0, maxCallsBeforeKill - 100));
    await within(
      (async () => {
        while (calls < killAfter) await new Promise((r) => setTimeout(r, 2));
      })(),
      "the load to get under way",
    );
    started.server.kill("SIGKILL");
    await started.server.exit();
    await within(Promise.all(workers), "every client to see the kill");
    for (const client of clients) client.close();
  }
  await using restarted = await startServer("queue-server", args);
  using reader = clientOf(restarted.port);
  const survivors = await drain(reader);
  restarted.server.kill("SIGTERM");
  const { code } = await restarted.server.exit();

  const problems: string[] = [];
  if (code !== 0) problems.push(`the restarted server exited ${code}`);
  if (new Set(survivors).size !== survivors.length) {
    problems.push("an item came back twice");
  }
  for (const item of survivors) {
    if (!attempted.has(item)) problems.push(`${item} was never put`);
    if (popped.has(item)) problems.push(`popped ${item} came back`);
  }
  const present = new Set(survivors);
  const missing = [...acknowledged].filter((item) =>
    !popped.has(item) && !present.has(item)
  );
  if (missing.length > popsInFlight) {
    problems.push(
      `acknowledged ${missing.join()} lost (${popsInFlight} pops unanswered)`,
    );
  }
  for (let c = 0; c < count; c++) {
    const mine = survivors.filter((item) => item.includes(`-c${c}-`));
    if (mine.join() !== [...mine].sort().join()) {
      problems.push(`client ${c}'s items came back out of order`);
    }
  }
  return {
    acknowledged: acknowledged.size,
    popped: popped.size,
    survivors: survivors.length,
    takenByUnansweredPops: missing.length,
    problems,
  };
}
