/**
 * `deno task bench [SECTION...]`: measures the roster and queue servers side
 * by side with references and the Python peers taken in the same run, prints
 * one Markdown table and writes it to `bench/RESULTS.md` with the date, Deno
 * version and machine. The sections are `roster`, `queue`, `session`,
 * `store`, `cluster`, `security`, `redis`, `web`, `metrics`, `v8` and
 * `lease`; naming some runs only those,
 * and then their table replaces only their own block at the end of
 * `bench/RESULTS.md`. Servers run on core 0 and the load on core 1
 * (taskset), when there are two.
 *
 * @module
 */
import { cpus, totalmem } from "node:os";
import { clusterFigures } from "./cluster_figures.ts";
import { pinLoad } from "./cpu_pin.ts";
import { leaseFigures } from "./lease_figures.ts";
import { metricsFigures } from "./metrics_figures.ts";
import { queueFigures, v8OptionFigures } from "./queue_figures.ts";
import { redisFigures } from "./redis_figures.ts";
import { Report } from "./report.ts";
import { rosterFigures } from "./roster_figures.ts";
import { securityFigures } from "./security_figures.ts";
import { sessionFigures } from "./session_figures.ts";
import { storeFigures } from "./store_figures.ts";
import { webFigures } from "./web_figures.ts";

/** The sections of the benchmark, in the order a full run takes them. */
const SECTIONS = {
  roster: rosterFigures,
  queue: queueFigures,
  session: sessionFigures,
  store: storeFigures,
  cluster: clusterFigures,
  security: securityFigures,
  redis: redisFigures,
  web: webFigures,
  metrics: metricsFigures,
  v8: v8OptionFigures,
  lease: leaseFigures,
} as const;

/** Marks the block of a section run alone in RESULTS.md. */
const sectionMarker = (name: string) => `<!-- bench section ${name} -->`;

async function main(args: string[]): Promise<void> {
  const unknown = args.filter((name) => !(name in SECTIONS));
  if (unknown.length > 0) {
    console.error(
      `error: Unknown section "${unknown[0]}": expected ${
        Object.keys(SECTIONS).join(", ")
      }`,
    );
    Deno.exit(2);
  }
  const names = (args.length > 0 ? args : Object.keys(SECTIONS)) as (
    keyof typeof SECTIONS
  )[];
  const started = new Date();
  const pinned = await pinLoad();
  const report = new Report();
  for (const name of names) {
    try {
      await SECTIONS[name](report);
    } catch (error: unknown) {
      // One broken section must not cost the figures of the others.
      const why = error instanceof Error ? error.message : String(error);
      console.error(`error: section ${name} failed: ${why}`);
      report.row(`section ${name}: FAILED`, why.split("\n")[0] ?? "");
    }
  }
  const table = report.table();
  console.log(table);
  const machine =
    `Deno ${Deno.version.deno}, ${cpus().length} cores (${
      cpus()[0]?.model ?? "unknown CPU"
    }), ` +
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB. Servers ran as ` +
    (Deno.env.get("BIN_DIR")
      ? "compiled executables"
      : "`deno run` with the build's permissions and V8 options") +
    (pinned
      ? ", pinned to core 0, with the load generator on core 1"
      : ", unpinned");
  const results = new URL("./RESULTS.md", import.meta.url);
  if (args.length === 0) {
    const header = [
      "# Benchmark results",
      "",
      `Run ${started.toISOString()} with \`deno task bench\`: ${machine}` +
      ". Each figure is the median of 3 runs with min-max; idle N=10000, queue memory, " +
      "the --max-bytes RSS, the 10,000 waiters and the kill -9 soak ran once. " +
      "The Python peers are the seed's design written plainly (`../shared/reference/`).",
      "",
      "",
    ].join("\n");
    await Deno.writeTextFile(results, header + table + "\n");
    return;
  }
  // A section run alone replaces only its own block, kept at the end.
  let text = await Deno.readTextFile(results).catch(() => "");
  for (const name of names) {
    const at = text.indexOf(sectionMarker(name));
    if (at >= 0) {
      const end = text.indexOf(sectionMarker("end"), at);
      text = text.slice(0, at) +
        (end >= 0 ? text.slice(end + sectionMarker("end").length + 1) : "");
    }
  }
  const block = [
    names.map(sectionMarker).join("\n"),
    `## ${names.join(", ")} (run alone)`,
    "",
    `Run ${started.toISOString()} with \`deno task bench ${
      names.join(" ")
    }\`: ${machine}. Each figure is the median of 3 runs with min-max unless it says otherwise.`,
    "",
    table,
    sectionMarker("end"),
    "",
  ].join("\n");
  await Deno.writeTextFile(results, text.trimEnd() + "\n\n" + block);
}

if (import.meta.main) await main(Deno.args);
