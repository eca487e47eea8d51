import assert from "node:assert/strict";
import { serveMetrics } from "../lib/metrics_http.ts";
import { refusalReason, RosterMetrics } from "./metrics.ts";
import { Refusal } from "./protocol.ts";
import { serveRoster } from "./roster_server.ts";

Deno.test("refusalReason labels every refusal the server sends by its closed set of reasons, and none while shutting down", () => {
  assert.equal(refusalReason(Refusal.invalidName("a b")), "invalid");
  assert.equal(refusalReason(Refusal.nameTaken("greg")), "duplicate");
  assert.equal(refusalReason(Refusal.takenMeanwhile("greg")), "duplicate");
  assert.equal(refusalReason(Refusal.serverFull(10)), "full");
  assert.equal(refusalReason(Refusal.unexpectedToken), "token");
  assert.equal(refusalReason(Refusal.missingToken), "token");
  assert.equal(refusalReason("wrong token"), "token");
  assert.equal(refusalReason(Refusal.cutOff), "cut_off");
  assert.equal(refusalReason(Refusal.clusterUnreachable), "cut_off");
  assert.equal(refusalReason(Refusal.clusterRestarting), "cut_off");
  assert.equal(refusalReason(Refusal.shuttingDown), undefined);
});

Deno.test("roster /healthz answers 200 while the server serves and 503 shutting down once its signal aborts", async () => {
  const metrics = new RosterMetrics();
  const controller = new AbortController();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = serveRoster(listener, {
    signal: controller.signal,
    metrics,
  });
  await using http = serveMetrics(metrics.registry, () => metrics.health());
  const healthz = http.url.replace(/metrics$/, "healthz");
  const before = await fetch(healthz);
  assert.deepEqual([before.status, await before.text()], [200, "ok\n"]);
  controller.abort();
  const during = await fetch(healthz);
  assert.deepEqual(
    [during.status, await during.text()],
    [503, "shutting down\n"],
  );
  await serving;
});
