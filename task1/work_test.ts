import assert from "node:assert/strict";
import { eventually } from "../tests/harness.ts";
import { FakeQueue } from "./fake_queue.ts";
import {
  type JobExit,
  type JobRunner,
  type RunningJob,
  runWorker,
  type WorkOptions,
} from "./work.ts";

/** What a scripted command does with one delivery of an item. */
type Script = (item: string, deliveryCount: number) => {
  code: number;
  ms: number;
};

/** A runner whose commands end as `script` says, after its delay. */
function scriptedRunner(script: Script) {
  const runs: [string, number][] = [];
  let running = 0;
  let most = 0;
  const runner: JobRunner = {
    start(item, deliveryCount): RunningJob {
      runs.push([item, deliveryCount]);
      running++;
      most = Math.max(most, running);
      const { code, ms } = script(item, deliveryCount);
      const exit = Promise.withResolvers<JobExit>();
      const end = (result: JobExit) => {
        clearTimeout(timer);
        running--;
        exit.resolve(result);
      };
      const timer = setTimeout(() => end({ code, signal: null }), ms);
      return {
        exit: exit.promise,
        kill: () => end({ code: 137, signal: "SIGKILL" }),
      };
    },
  };
  return {
    runner,
    runs,
    get running() {
      return running;
    },
    get most() {
      return most;
    },
  };
}

/** The options of a test worker, recording what it writes. */
function testOptions(overrides: Partial<WorkOptions> = {}) {
  const stop = new AbortController();
  const kill = new AbortController();
  const deadLetters: string[] = [];
  const logs: string[] = [];
  const errors: string[] = [];
  const options: WorkOptions = {
    deadLetter: (line) => {
      deadLetters.push(line);
      return Promise.resolve();
    },
    log: (line) => logs.push(line),
    error: (line) => errors.push(line),
    stop: stop.signal,
    kill: kill.signal,
    ...overrides,
  };
  return { options, stop, kill, deadLetters, logs, errors };
}

Deno.test("worker with 4 jobs completes 200 items, a third failing their first attempt, and leaves the queue empty", async () => {
  const queue = new FakeQueue();
  for (let i = 0; i < 200; i++) await queue.put(`job-${i}`);
  const scripted = scriptedRunner((item, delivery) => ({
    code: Number(item.slice(4)) % 3 === 0 && delivery === 1 ? 1 : 0,
    ms: 1,
  }));
  const t = testOptions({ leaseMs: 5000 });
  const { runner, runs } = scripted;
  const done = runWorker([queue, queue, queue, queue], runner, t.options);
  await eventually(
    () => queue.ready.length === 0 && queue.held.size === 0,
    "queue.ready.length === 0 && queue.held.size === 0",
    undefined,
    2,
  );
  t.stop.abort();
  assert.equal(await done, 0);
  const succeeded = new Set(
    runs.filter(([item, delivery]) =>
      !(Number(item.slice(4)) % 3 === 0 && delivery === 1)
    ).map(([item]) => item),
  );
  assert.equal(succeeded.size, 200, "every item completed");
  assert.equal(runs.length, 200 + 67, "each failing item ran twice, no more");
  assert.equal(scripted.most, 4, "4 commands ran at once, never more");
  assert.deepEqual(await queue.count(), { size: 0, leased: 0 });
  assert.equal(t.logs.filter((line) => line.startsWith("ok ")).length, 200);
  assert.equal(
    t.logs.filter((line) => line.startsWith("failed (exit 1), released"))
      .length,
    67,
  );
  assert.deepEqual(t.deadLetters, []);
  assert.deepEqual(t.errors, []);
});

Deno.test("worker with --max-attempts 3 runs a poison item exactly 3 times and dead-letters it", async () => {
  const queue = new FakeQueue();
  await queue.put('poison "pill"\n');
  await queue.put("fine");
  const { runner, runs } = scriptedRunner((item) => ({
    code: item === "fine" ? 0 : 3,
    ms: 1,
  }));
  const t = testOptions({ maxAttempts: 3 });
  const done = runWorker([queue], runner, t.options);
  await eventually(
    () => t.deadLetters.length === 1 && queue.ready.length === 0,
    "t.deadLetters.length === 1 && queue.ready.length === 0",
    undefined,
    2,
  );
  await eventually(
    () => queue.held.size === 0,
    "queue.held.size === 0",
    undefined,
    2,
  );
  t.stop.abort();
  assert.equal(await done, 0);
  assert.equal(runs.filter(([item]) => item !== "fine").length, 3);
  assert.deepEqual(JSON.parse(t.deadLetters[0]!), {
    item: 'poison "pill"\n',
    delivery_count: 3,
    exit_status: 3,
  });
  assert.ok(
    t.logs.includes(
      'failed (exit 3), dead-lettered (delivery 3): poison "pill"\\n',
    ),
    t.logs.join("\n"),
  );
  assert.deepEqual(await queue.count(), { size: 0, leased: 0 });
});

Deno.test("worker extends a long job's lease before it ends, so it never runs out", async () => {
  const queue = new FakeQueue();
  await queue.put("long");
  const { runner } = scriptedRunner(() => ({ code: 0, ms: 700 }));
  const t = testOptions({ leaseMs: 150 });
  const done = runWorker([queue], runner, t.options);
  await eventually(
    () => t.logs.length === 1,
    "t.logs.length === 1",
    undefined,
    2,
  );
  t.stop.abort();
  assert.equal(await done, 0);
  assert.equal(queue.expired, 0, "the lease never ran out");
  assert.ok(queue.extends.length >= 4, `extended ${queue.extends.length}x`);
  for (const [, left] of queue.extends) assert.ok(left > 0);
  assert.deepEqual(t.logs, ["ok (delivery 1): long"]);
});

Deno.test("worker on SIGTERM takes no more items, cancels the waiting Pops, lets the running commands finish and exits 0", async () => {
  const queue = new FakeQueue();
  for (const item of ["a", "b", "c", "d"]) await queue.put(item);
  const { runner, runs } = scriptedRunner(() => ({ code: 0, ms: 200 }));
  const t = testOptions();
  const done = runWorker([queue, queue, queue], runner, t.options);
  await eventually(() => runs.length === 3, "runs.length === 3", undefined, 2);
  t.stop.abort();
  assert.equal(await done, 0);
  assert.deepEqual(runs.map(([item]) => item), ["a", "b", "c"]);
  assert.deepEqual(t.logs.toSorted(), [
    "ok (delivery 1): a",
    "ok (delivery 1): b",
    "ok (delivery 1): c",
  ]);
  assert.deepEqual(await queue.count(), { size: 1, leased: 0 });
});

Deno.test("worker on a second signal kills the running commands, releases their items and exits 1", async () => {
  const queue = new FakeQueue();
  for (const item of ["a", "b"]) await queue.put(item);
  const sleeper = scriptedRunner(() => ({ code: 0, ms: 60_000 }));
  const t = testOptions();
  const done = runWorker([queue, queue], sleeper.runner, t.options);
  await eventually(
    () => sleeper.runs.length === 2,
    "sleeper.runs.length === 2",
    undefined,
    2,
  );
  t.stop.abort();
  t.kill.abort();
  assert.equal(await done, 1);
  assert.equal(sleeper.running, 0);
  assert.deepEqual(t.logs.toSorted(), [
    "killed by SIGKILL (stopping), released (delivery 1): a",
    "killed by SIGKILL (stopping), released (delivery 1): b",
  ]);
  assert.deepEqual(await queue.count(), { size: 2, leased: 0 });
});

Deno.test("worker releases, unrun, an item that arrives as it stops", async () => {
  const queue = new FakeQueue();
  const { runner, runs } = scriptedRunner(() => ({ code: 0, ms: 1 }));
  const t = testOptions();
  const stopping: FakeQueue["lease"] = async (leaseMs, waitMs, signal) => {
    await queue.put("late");
    const leased = await queue.lease(leaseMs, waitMs);
    t.stop.abort();
    void signal;
    return leased;
  };
  const slot = {
    lease: stopping,
    ack: (receipt: string) => queue.ack(receipt),
    release: (receipt: string) => queue.release(receipt),
    extend: (receipt: string, ms: number) => queue.extend(receipt, ms),
  };
  assert.equal(await runWorker([slot], runner, t.options), 0);
  assert.deepEqual(runs, []);
  assert.deepEqual(t.logs, ["not run (stopping) (delivery 1): late"]);
  assert.deepEqual(await queue.count(), { size: 1, leased: 0 });
});

Deno.test("worker stops with exit 1 and one error line when the command cannot start, releasing the item", async () => {
  const queue = new FakeQueue();
  await queue.put("x");
  const runner: JobRunner = {
    start() {
      throw new Error('Cannot run "nope": not found');
    },
  };
  const t = testOptions();
  assert.equal(await runWorker([queue, queue], runner, t.options), 1);
  assert.deepEqual(t.errors, ['error: Cannot run "nope": not found']);
  assert.deepEqual(await queue.count(), { size: 1, leased: 0 });
});
