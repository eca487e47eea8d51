import assert from "node:assert/strict";
import { serveMetrics } from "../lib/metrics_http.ts";
import { QueueMetrics } from "./metrics.ts";
import { queueOperations } from "./operations.ts";
import { createQueueServer } from "./queue_server.ts";
import { MemoryStore } from "./store/memory.ts";
import { openSqliteStore } from "./store/sqlite/mod.ts";

Deno.test("queue /healthz answers 200 while the server serves and 503 shutting down from the start of its shutdown", async () => {
  const metrics = new QueueMetrics("memory");
  const store = new MemoryStore(3);
  metrics.watchStore(store);
  const server = createQueueServer(store, { metrics });
  await server.listen("127.0.0.1", 0);
  await using http = serveMetrics(metrics.registry, () => metrics.health());
  const healthz = http.url.replace(/metrics$/, "healthz");
  const before = await fetch(healthz);
  assert.deepEqual([before.status, await before.text()], [200, "ok\n"]);
  const stopping = server.shutdown({ graceMs: 0 });
  const during = await fetch(healthz);
  assert.deepEqual(
    [during.status, await during.text()],
    [503, "shutting down\n"],
  );
  await stopping;
});

Deno.test("queue metrics count an operation that fails as error and time it", async () => {
  const metrics = new QueueMetrics("memory");
  const store = new MemoryStore(3);
  metrics.watchStore(store);
  const operations = metrics.instrument({
    put: () => Promise.reject(new RangeError("Item too large")),
    peek: () => Promise.resolve({}),
    pop: () => Promise.resolve({ item: "A" }),
    size: () => Promise.resolve({ size: 0 }),
    ack: () => Promise.resolve({ acked: true }),
    release: () => Promise.resolve({ released: false }),
    extend: () => Promise.resolve({ extended: false }),
  });
  await assert.rejects(
    operations.put({ item: "x" }, new AbortController().signal),
    RangeError,
  );
  const text = await metrics.registry.metrics();
  assert.match(text, /^queue_operations_total\{op="put",result="error"\} 1$/m);
  assert.match(
    text,
    /^queue_operation_duration_seconds_count\{op="put"\} 1$/m,
  );
  await store.close();
});

Deno.test("queue metrics count Ack, Release and Extend as ok or stale and report the leased items", async () => {
  const metrics = new QueueMetrics("memory");
  const store = new MemoryStore(3);
  metrics.watchStore(store);
  const operations = metrics.instrument(
    queueOperations(store, { maxItemBytes: 1024 }),
  );
  const signal = new AbortController().signal;
  for (const item of ["A", "B", "C"]) await store.put(item);
  const a = await store.lease({ leaseMs: 60_000 });
  const b = await store.lease({ leaseMs: 60_000 });
  await store.lease({ leaseMs: 60_000 });
  let text = await metrics.registry.metrics();
  assert.match(text, /^queue_leased_items 3$/m);
  await operations.ack({ receipt: a!.receipt }, signal);
  await operations.ack({ receipt: a!.receipt }, signal);
  await operations.extend({ receipt: b!.receipt, lease_ms: 1000 }, signal);
  await operations.release({ receipt: b!.receipt }, signal);
  await operations.release({ receipt: "nonsense" }, signal);
  text = await metrics.registry.metrics();
  for (
    const [op, result, count] of [
      ["ack", "ok", 1],
      ["ack", "stale", 1],
      ["ack", "error", 0],
      ["release", "ok", 1],
      ["release", "stale", 1],
      ["extend", "ok", 1],
      ["extend", "stale", 0],
    ] as const
  ) {
    assert.match(
      text,
      new RegExp(
        `^queue_operations_total\\{op="${op}",result="${result}"\\} ${count}$`,
        "m",
      ),
    );
  }
  assert.match(
    text,
    /^queue_operation_duration_seconds_count\{op="release"\} 2$/m,
  );
  assert.match(text, /^queue_leased_items 1$/m);
  await store.close();
});

Deno.test("queue metrics with --data count each change written and time each commit", async () => {
  const path = await Deno.makeTempFile({ suffix: ".db" });
  try {
    const metrics = new QueueMetrics("sqlite");
    const store = await openSqliteStore(path, 3, {
      onCommit: metrics.committed,
    });
    metrics.watchStore(store);
    assert.equal(await store.put("A"), true);
    assert.equal(await store.put("B"), true);
    assert.equal(await store.pop(), "A");
    await store.close();
    const text = await metrics.registry.metrics();
    assert.match(text, /^queue_store_committed_changes_total 3$/m);
    assert.match(text, /^queue_store_commit_duration_seconds_count [1-3]$/m);
    assert.match(text, /^queue_items 1$/m);
    assert.doesNotMatch(text, /queue_store_up/);
  } finally {
    await Deno.remove(path).catch(() => {});
    await Deno.remove(`${path}-wal`).catch(() => {});
  }
});
