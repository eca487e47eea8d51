/**
 * What the metrics tests read the servers with: Python's
 * `prometheus_client.parser` (Debian's python3-prometheus-client) as the
 * text-format parser, and a real Prometheus (Debian's prometheus), started
 * on 127.0.0.1 in its own temporary folder. Where one is missing, the tests
 * that need it do not run and one line says so, except under CI (`CI=true`),
 * where a missing one fails the run (`.ci/run` installs both).
 *
 * @module
 */
import { commandSucceeds, deadPort, startServer, within } from "./harness.ts";
import type { StartedServer } from "./harness.ts";
import type { ProgramName } from "../scripts/programs.ts";

/** The Python that Debian's python3-prometheus-client goes with. */
const PYTHON = "/usr/bin/python3";

const underCi = Deno.env.get("CI") === "true";

/** True where the parser is missing (and not under CI): the tests' `ignore`. */
export const PARSER_MISSING: boolean = !underCi &&
  !commandSucceeds(PYTHON, ["-c", "import prometheus_client.parser"]);

/** True where Prometheus is missing (and not under CI): the tests' `ignore`. */
export const PROMETHEUS_MISSING: boolean = !underCi &&
  !commandSucceeds("prometheus", ["--version"]);

if (PARSER_MISSING) {
  console.error(
    "note: the metrics tests that parse /metrics did not run: they need " +
      "Python's prometheus_client (apt-get install python3-prometheus-client)",
  );
}
if (PROMETHEUS_MISSING) {
  console.error(
    "note: the test that scrapes the servers with Prometheus did not run: " +
      "it needs prometheus (apt-get install prometheus)",
  );
}

/** Reads the text format with `prometheus_client.parser`; prints JSON. */
const PARSE_SCRIPT = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
        samples[s.name + ("{" + labels + "}" if labels else "")] = s.value
print(json.dumps(samples))
`;

/**
 * Every sample of a scrape, keyed `name` or `name{label="value",...}` with
 * the labels sorted, as Python's parser reads them.
 */
export type Samples = Record<string, number>;

/** Parses the exposition `text` with Python's `prometheus_client.parser`. */
export async function parseExposition(text: string): Promise<Samples> {
  const child = new Deno.Command(PYTHON, {
    args: ["-c", PARSE_SCRIPT],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { success, stdout, stderr } = await within(
    child.output(),
    "the Prometheus text parser",
  );
  if (!success) {
    throw new Error(
      `prometheus_client.parser refused the scrape: ${
        new TextDecoder().decode(stderr)
      }`,
    );
  }
  return JSON.parse(new TextDecoder().decode(stdout));
}

/** GETs `url` and resolves to its status and body. */
export async function get(
  url: string,
): Promise<{ status: number; body: string; type: string | null }> {
  const response = await within(fetch(url), `GET ${url}`);
  return {
    status: response.status,
    body: await response.text(),
    type: response.headers.get("content-type"),
  };
}

/** Scrapes `url` (a `/metrics`) and parses it with Python's parser. */
export async function scrape(url: string): Promise<Samples> {
  const { status, body } = await get(url);
  if (status !== 200) throw new Error(`GET ${url} answered ${status}`);
  return await parseExposition(body);
}

/** Polls `check` every 100 ms until it returns true; rejects after `ms`. */
export async function eventually(
  what: string,
  check: () => Promise<boolean>,
  ms = 15_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A server started with `--metrics 127.0.0.1:0`, with its metrics URL. */
export interface MeteredServer extends StartedServer {
  /** Its `/metrics` URL, read from its second line on stderr. */
  metricsUrl: string;
  /** Its `/healthz` URL. */
  healthUrl: string;
}

/**
 * Starts `name` with `args` and `--metrics 127.0.0.1:0`, and reads the
 * metrics URL from the line that follows the listening line.
 */
export async function startMetered(
  name: ProgramName,
  args: string[],
): Promise<MeteredServer> {
  const started = await startServer(name, [
    ...args,
    "--metrics",
    "127.0.0.1:0",
  ]);
  const line = await started.server.stderr.next();
  const url = line?.match(/^[a-z-]+ metrics on (http:\/\/\S+\/metrics)$/)?.[1];
  if (url === undefined) {
    await started[Symbol.asyncDispose]();
    throw new Error(`${name} did not say where its metrics are: ${line}`);
  }
  return {
    ...started,
    metricsUrl: url,
    healthUrl: url.replace(/\/metrics$/, "/healthz"),
  };
}

/** A Prometheus started by a test; dispose it to stop it. */
export class PrometheusServer implements AsyncDisposable {
  /** Its HTTP API, `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly #dir: string;
  readonly #process: Deno.ChildProcess;

  /** Starts Prometheus with `config` (YAML) in a new temporary folder. */
  constructor(config: string) {
    const port = deadPort();
    this.url = `http://127.0.0.1:${port}`;
    const { stdout } = new Deno.Command("mktemp", {
      args: ["-d", "-t", "prometheus-test-XXXXXX"],
    }).outputSync();
    this.#dir = new TextDecoder().decode(stdout).trim();
    Deno.writeTextFileSync(`${this.#dir}/prometheus.yml`, config);
    this.#process = new Deno.Command("prometheus", {
      args: [
        `--config.file=${this.#dir}/prometheus.yml`,
        `--storage.tsdb.path=${this.#dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
  }

  /** Runs an instant query and resolves to the API's JSON answer. */
  async query(expression: string): Promise<PrometheusAnswer> {
    const { body } = await get(
      `${this.url}/api/v1/query?query=${encodeURIComponent(expression)}`,
    );
    return JSON.parse(body);
  }

  /** Stops Prometheus and removes its folder. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#process.kill("SIGKILL");
    } catch {
      // It has already exited.
    }
    await this.#process.status;
    await new Deno.Command("rm", { args: ["-rf", this.#dir] }).output();
  }
}

/** An instant query's answer from Prometheus's HTTP API. */
export interface PrometheusAnswer {
  /** `success` or `error`. */
  status: string;
  /** The vector of results. */
  data: {
    resultType: string;
    result: { metric: Record<string, string>; value: [number, string] }[];
  };
}
