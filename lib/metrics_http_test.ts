import assert from "node:assert/strict";
import { Registry } from "prom-client";
import {
  parseMetricsAddress,
  registerCounter,
  serveMetrics,
} from "./metrics_http.ts";

Deno.test("parseMetricsAddress takes PORT on 127.0.0.1, HOST:PORT and [IPv6]:PORT, port 0 included", () => {
  assert.deepEqual(parseMetricsAddress("9464"), {
    hostname: "127.0.0.1",
    port: 9464,
  });
  assert.deepEqual(parseMetricsAddress("0.0.0.0:0"), {
    hostname: "0.0.0.0",
    port: 0,
  });
  assert.deepEqual(parseMetricsAddress("[::1]:9464"), {
    hostname: "::1",
    port: 9464,
  });
  assert.throws(() => parseMetricsAddress("x"), RangeError);
  assert.throws(() => parseMetricsAddress(":9464"), RangeError);
  assert.throws(() => parseMetricsAddress("host:70000"), RangeError);
});

Deno.test("serveMetrics answers /metrics in text format 0.0.4, /healthz 200 ok or 503 with the reason, and 404 otherwise", async () => {
  const registry = new Registry();
  registerCounter(registry, "things_total", "Things.", () => 7);
  const health: { why?: string } = {};
  await using server = serveMetrics(registry, () => health.why, { port: 0 });
  const metrics = await fetch(server.url);
  assert.equal(
    metrics.headers.get("content-type"),
    "text/plain; version=0.0.4; charset=utf-8",
  );
  assert.match(await metrics.text(), /^things_total 7$/m);
  const healthz = server.url.replace(/metrics$/, "healthz");
  const ok = await fetch(healthz);
  assert.deepEqual([ok.status, await ok.text()], [200, "ok\n"]);
  health.why = "shutting down";
  const down = await fetch(healthz);
  assert.deepEqual([down.status, await down.text()], [503, "shutting down\n"]);
  const other = await fetch(server.url.replace(/metrics$/, "other"));
  assert.equal(other.status, 404);
  await other.body?.cancel();
  const post = await fetch(server.url, { method: "POST" });
  assert.equal(post.status, 404);
  await post.body?.cancel();
});
