import assert from "node:assert/strict";
import { QUEUE_SEED_SESSION } from "../tests/seed_sessions.ts";
import { FakeQueue } from "./fake_queue.ts";
import {
  LeasesUnsupportedError,
  type QueueCount,
  type RemoteQueue,
} from "./queue_client.ts";
import {
  EMPTY_TEXT,
  executeCommand,
  formatCount,
  formatLease,
  HELP_TEXT,
  PROMPT,
  type ReplOptions,
  runRepl,
} from "./repl.ts";

/** The queue operations over an in-memory queue, as the server answers them. */
function memoryQueue(capacity: number): FakeQueue {
  return new FakeQueue(capacity);
}

/** `memoryQueue` as a plain object, whose methods a test may replace. */
function queueMethods(capacity: number): RemoteQueue {
  const queue = memoryQueue(capacity);
  return {
    put: (item) => queue.put(item),
    peek: () => queue.peek(),
    pop: () => queue.pop(),
    size: () => queue.size(),
    count: () => queue.count(),
    lease: (leaseMs, waitMs) => queue.lease(leaseMs, waitMs),
    ack: (receipt) => queue.ack(receipt),
    release: (receipt) => queue.release(receipt),
    extend: (receipt, leaseMs) => queue.extend(receipt, leaseMs),
  };
}

async function* linesOf(lines: string[]): AsyncGenerator<string> {
  for (const line of lines) yield line;
}

/** Runs the REPL over `lines` and records everything it writes, in order. */
async function transcript(
  lines: AsyncIterable<string>,
  queue: RemoteQueue,
  options: ReplOptions = {},
) {
  const written: string[] = [];
  const end = await runRepl(lines, queue, {
    line: (text) => written.push(`out ${text}`),
    error: (text) => written.push(`err ${text}`),
    prompt: (text) => written.push(`prompt ${text}`),
  }, options);
  return { end, written };
}

Deno.test("executeCommand formats each answer as the seed prints it", async () => {
  const queue = memoryQueue(1);
  assert.equal(await executeCommand({ name: "peek" }, queue), EMPTY_TEXT);
  assert.equal(await executeCommand({ name: "pop" }, queue), EMPTY_TEXT);
  assert.equal(await executeCommand({ name: "put", item: "A" }, queue), "True");
  assert.equal(
    await executeCommand({ name: "put", item: "B" }, queue),
    "False",
  );
  assert.equal(await executeCommand({ name: "size" }, queue), "1");
  assert.equal(await executeCommand({ name: "help" }, queue), HELP_TEXT);
});

Deno.test("runRepl answers the seed's example session line by line", async () => {
  const session = QUEUE_SEED_SESSION;
  const { end, written } = await transcript(
    linesOf(session.map(([line]) => line!)),
    memoryQueue(3),
  );
  assert.equal(end, "end of input");
  assert.deepEqual(written, session.map(([, answer]) => `out ${answer}`));
});

Deno.test("runRepl shows a prompt before each line only when asked", async () => {
  const { written } = await transcript(
    linesOf(["size", "put A"]),
    memoryQueue(3),
    { prompt: true },
  );
  assert.deepEqual(written, [
    `prompt ${PROMPT}`,
    "out 0",
    `prompt ${PROMPT}`,
    "out True",
    `prompt ${PROMPT}`,
  ]);
  const quiet = await transcript(linesOf(["size"]), memoryQueue(3));
  assert.deepEqual(quiet.written, ["out 0"]);
});

Deno.test("runRepl ignores blank lines and keeps going after mistakes", async () => {
  const { end, written } = await transcript(
    linesOf(["", "frobnicate", "put", "put a b", "   ", "put a", "size"]),
    memoryQueue(3),
  );
  assert.equal(end, "end of input");
  assert.equal(written.length, 5);
  assert.match(written[0]!, /^err error: Unknown command "frobnicate"/);
  assert.match(written[1]!, /^err error: Missing item/);
  assert.match(written[2]!, /^err error: Too many words/);
  assert.deepEqual(written.slice(3), ["out True", "out 1"]);
});

Deno.test("runRepl reports a failed call as one error line and goes on", async () => {
  let calls = 0;
  const flaky: RemoteQueue = {
    ...queueMethods(3),
    count: () => {
      calls++;
      return calls === 1
        ? Promise.reject(new Error("UNAVAILABLE: server down\n    at stack"))
        : Promise.resolve({ size: 7, leased: 0 });
    },
  };
  const { written } = await transcript(linesOf(["size", "size"]), flaky);
  assert.deepEqual(written, ["err error: UNAVAILABLE: server down", "out 7"]);
});

Deno.test("runRepl ends at once when aborted while waiting for a line", async () => {
  const controller = new AbortController();
  async function* typing(): AsyncGenerator<string> {
    yield "put A";
    controller.abort();
    await new Promise<never>(() => {}); // The person never types again.
  }
  const { end, written } = await transcript(typing(), memoryQueue(3), {
    signal: controller.signal,
  });
  assert.equal(end, "aborted");
  assert.deepEqual(written, ["out True"]);
});

Deno.test("runRepl ends at once when aborted while waiting for an answer", async () => {
  const controller = new AbortController();
  const hanging: RemoteQueue = {
    ...queueMethods(3),
    count: () => {
      controller.abort();
      return new Promise<never>(() => {});
    },
  };
  const { end, written } = await transcript(linesOf(["size"]), hanging, {
    signal: controller.signal,
  });
  assert.equal(end, "aborted");
  assert.deepEqual(written, []);
});

Deno.test("executeCommand passes --wait on to the queue as milliseconds", async () => {
  const waits: (number | undefined)[] = [];
  const queue: RemoteQueue = {
    ...queueMethods(1),
    put: (_item, waitMs) => {
      waits.push(waitMs);
      return Promise.resolve(true);
    },
    pop: (waitMs) => {
      waits.push(waitMs);
      return Promise.resolve(undefined);
    },
  };
  await executeCommand({ name: "put", item: "A", waitMs: 1500 }, queue);
  await executeCommand({ name: "pop", waitMs: 20 }, queue);
  await executeCommand({ name: "pop" }, queue);
  assert.deepEqual(waits, [1500, 20, undefined]);
});

Deno.test("runRepl with a window sends commands before earlier answers arrive and still writes the answers in line order", async () => {
  const gates: (() => void)[] = [];
  let started = 0;
  const inner = queueMethods(10);
  const slow: RemoteQueue = {
    ...inner,
    // Each put is applied at once, as a server runs it, but its answer
    // arrives only when the test opens its gate, last one first.
    put: async (item) => {
      started++;
      const added = await inner.put(item);
      return new Promise((resolve) => gates.push(() => resolve(added)));
    },
  };
  const written: string[] = [];
  const output = {
    line: (text: string) => written.push(`out ${text}`),
    error: (text: string) => written.push(`err ${text}`),
    prompt: (text: string) => written.push(`prompt ${text}`),
  };
  const done = runRepl(
    linesOf(["put A", "bogus", "put B", "", "put C", "size"]),
    slow,
    output,
    { window: 8 },
  );
  while (started < 3) await new Promise((resolve) => setTimeout(resolve, 1));
  assert.deepEqual(written, [], "nothing is written before the first answer");
  for (const open of gates.reverse()) open();
  assert.equal(await done, "end of input");
  assert.deepEqual(written, [
    "out True",
    'err error: Unknown command "bogus": expected put ITEM, peek, pop, size, ack RECEIPT, release RECEIPT, extend RECEIPT SECONDS or help',
    "out True",
    "out True",
    "out 3",
  ]);
});

Deno.test("runRepl with a window never has more commands unanswered than the window", async () => {
  let running = 0;
  let most = 0;
  const inner = queueMethods(1000);
  const counting: RemoteQueue = {
    ...inner,
    put: async (item) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 0));
      running--;
      return inner.put(item);
    },
  };
  const lines = Array.from({ length: 200 }, (_, i) => `put ${i}`);
  const { written } = await transcript(linesOf(lines), counting, {
    window: 16,
  });
  assert.equal(written.length, 200);
  assert.equal(most, 16);
});

Deno.test("runRepl writes nothing more once aborted, even answers that arrive later", async () => {
  const controller = new AbortController();
  const answer = Promise.withResolvers<QueueCount>();
  const late: RemoteQueue = {
    ...queueMethods(3),
    count: () => answer.promise,
  };
  const { end, written } = await transcript(
    (async function* () {
      yield "size";
      controller.abort();
      await new Promise<never>(() => {});
    })(),
    late,
    { signal: controller.signal, window: 8 },
  );
  assert.equal(end, "aborted");
  answer.reject(new Error("CANCELLED: Client closed"));
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(written, []);
});

Deno.test("executeCommand and runRepl show an item with a newline and ESC as one escaped line, and as stored when raw", async () => {
  const item = "job1\nQueue is empty\nTrue\x1b[2J";
  const escaped = "job1\\nQueue is empty\\nTrue\\x1b[2J";
  const queue = memoryQueue(3);
  await queue.put(item);
  assert.equal(await executeCommand({ name: "peek" }, queue), escaped);
  assert.equal(
    await executeCommand({ name: "peek" }, queue, { raw: true }),
    item,
  );
  for (const window of [1, 8]) {
    const { written } = await transcript(linesOf(["peek", "size"]), queue, {
      window,
    });
    assert.deepEqual(written, [`out ${escaped}`, "out 1"], `window ${window}`);
    const raw = await transcript(linesOf(["pop"]), queue, {
      window,
      raw: true,
    });
    assert.deepEqual(raw.written, [`out ${item}`]);
    await queue.put(item);
  }
});

Deno.test("executeCommand prints a leased item, then delivery and receipt on a line of their own, escaped unless raw", async () => {
  const queue = memoryQueue(3);
  await queue.put("two words\nand a line");
  const pop = { name: "pop", leaseMs: 30_000 } as const;
  assert.equal(
    await executeCommand(pop, queue),
    "two words\\nand a line\ndelivery 1 receipt r1",
  );
  assert.equal(await executeCommand({ name: "size" }, queue), "0 (1 leased)");
  assert.equal(
    await executeCommand({ name: "release", receipt: "r1" }, queue),
    "True",
  );
  assert.equal(
    await executeCommand(pop, queue, { raw: true }),
    "two words\nand a line\ndelivery 2 receipt r2",
  );
  assert.equal(
    await executeCommand({ name: "extend", receipt: "r2", leaseMs: 1 }, queue),
    "True",
  );
  assert.equal(
    await executeCommand({ name: "ack", receipt: "r2" }, queue),
    "True",
  );
  assert.equal(
    await executeCommand({ name: "ack", receipt: "r2" }, queue),
    "False",
  );
  assert.equal(await executeCommand({ name: "size" }, queue), "0");
  assert.equal(await executeCommand(pop, queue), EMPTY_TEXT);
});

Deno.test("formatLease escapes the receipt and formatCount hides a zero leased count", () => {
  assert.equal(
    formatLease({ item: "a", receipt: "x\ny", deliveryCount: 3 }),
    "a\ndelivery 3 receipt x\\ny",
  );
  assert.equal(formatCount({ size: 3, leased: 0 }), "3");
  assert.equal(formatCount({ size: 3, leased: 2 }), "3 (2 leased)");
});

Deno.test("runRepl reports a server without leases in one line and goes on", async () => {
  const old: RemoteQueue = {
    ...queueMethods(3),
    lease: () => Promise.reject(new LeasesUnsupportedError()),
  };
  const { written } = await transcript(linesOf(["pop --lease 5", "size"]), old);
  assert.deepEqual(written, [
    "err error: the server does not support leases (queue.proto version 3)",
    "out 0",
  ]);
});
