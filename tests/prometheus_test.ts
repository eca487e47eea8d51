/**
 * A real Prometheus (Debian's prometheus 2.42) scrapes both servers with the
 * `prometheus.yml` of docs/metrics.md, and its HTTP API returns the values
 * the test produced. Set `PROMETHEUS_SHOW=1` to print the answers.
 */
import assert from "node:assert/strict";
import { joinRoster, runToEnd } from "./harness.ts";
import {
  eventually,
  PROMETHEUS_MISSING,
  type PrometheusAnswer,
  PrometheusServer,
  startMetered,
} from "./metrics_peers.ts";

/** The `prometheus.yml` example of docs/metrics.md, as written there. */
async function documentedConfig(): Promise<string> {
  const doc = await Deno.readTextFile(
    new URL("../docs/metrics.md", import.meta.url),
  );
  const yaml = doc.match(/```yaml\n([\s\S]*?)```/)?.[1];
  if (yaml === undefined) throw new Error("docs/metrics.md has no yaml block");
  return yaml;
}

Deno.test({
  name:
    "Prometheus scrapes both servers with the documented prometheus.yml and answers queue_items 2 and roster_clients 2",
  ignore: PROMETHEUS_MISSING,
  async fn() {
    await using queue = await startMetered("queue-server", [
      ...["0", "5", "--host", "127.0.0.1"],
    ]);
    await using roster = await startMetered("roster-server", [
      ...["0", "--host", "127.0.0.1", "--quiet"],
    ]);
    const { code } = await runToEnd("queue-client", [
      `127.0.0.1:${queue.port}`,
    ], { input: "put A\nput B\n" });
    assert.equal(code, 0);
    await using _greg = await joinRoster(roster.port, "greg");
    await using _bob = await joinRoster(roster.port, "bob");
    const hostPort = (url: string) => new URL(url).host;
    const config = (await documentedConfig())
      .replace("scrape_interval: 15s", "scrape_interval: 1s")
      .replace("127.0.0.1:9464", hostPort(queue.metricsUrl))
      .replace("127.0.0.1:9465", hostPort(roster.metricsUrl));
    await using prometheus = new PrometheusServer(config);
    const answers: Record<string, PrometheusAnswer> = {};
    for (const metric of ["queue_items", "roster_clients"]) {
      // Prometheus 2.42 scrapes first 5-6 s after it starts.
      await eventually(`Prometheus to have ${metric}`, async () => {
        answers[metric] = await prometheus.query(metric);
        return answers[metric].data.result.length > 0;
      }, 30_000);
    }
    if (Deno.env.get("PROMETHEUS_SHOW")) {
      console.log(JSON.stringify(answers, null, 1));
    }
    const only = (answer: PrometheusAnswer) => {
      assert.equal(answer.status, "success");
      assert.equal(answer.data.result.length, 1);
      return answer.data.result[0]!;
    };
    const items = only(answers["queue_items"]!);
    assert.equal(items.metric["job"], "queue-server");
    assert.equal(items.value[1], "2");
    const clients = only(answers["roster_clients"]!);
    assert.equal(clients.metric["job"], "roster-server");
    assert.equal(clients.value[1], "2");
  },
});
