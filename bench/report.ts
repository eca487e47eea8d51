/**
 * The benchmark's report: the rows each section adds, the Markdown table
 * they make, and the helpers every section uses to repeat a measurement and
 * format its figures.
 *
 * @module
 */
import { median, unit } from "./stats.ts";

/** How many times a figure is measured unless it says otherwise. */
export const RUNS = 3;

/** One megabyte (10^6 bytes), for rates and sizes in MB. */
export const MB = 1e6;

/** Formats milliseconds with 3 significant digits. */
export const ms: (value: number) => string = unit(3, " ms");

/** Formats seconds with 3 significant digits. */
export const seconds: (value: number) => string = unit(3, " s");

/** One row of the report. */
interface Row {
  figure: string;
  value: string;
  reference: string;
  ratio: string;
  target: string;
}

/** The rows of one benchmark run, in the order the sections added them. */
export class Report {
  readonly #rows: Row[] = [];

  /** Adds a row: the figure, its value, and the reference, ratio and target. */
  row(
    figure: string,
    value: string,
    reference = "",
    ratio = "",
    target = "",
  ): void {
    this.#rows.push({ figure, value, reference, ratio, target });
  }

  /** The rows as one Markdown table with its header. */
  table(): string {
    const lines = [
      "| figure | value: median (min-max) | reference, same run | ratio | target |",
      "| --- | --- | --- | --- | --- |",
      ...this.#rows.map((r) =>
        `| ${r.figure} | ${r.value} | ${r.reference} | ${r.ratio} | ${r.target} |`
      ),
    ];
    return lines.join("\n");
  }
}

/** Runs `run` `runs` times in turn, saying which run it is on stderr. */
export async function repeat<T>(
  what: string,
  run: () => Promise<T>,
  runs = RUNS,
): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < runs; i++) {
    console.error(`  ${what}: run ${i + 1} of ${runs}`);
    results.push(await run());
  }
  return results;
}

/** Formats the ratio of two medians. */
export function ratio(
  ours: readonly number[],
  reference: readonly number[],
): string {
  return unit(2, "x")(median(ours) / median(reference));
}

/**
 * Runs `ours` and `peer` in turn, `RUNS` times each, so both see the same
 * machine; `peer` is skipped (empty results) when the Python peer is missing.
 */
export async function sideBySide<T>(
  what: string,
  withPeer: boolean,
  ours: () => Promise<T>,
  peer: () => Promise<T>,
  runs = RUNS,
): Promise<[T[], T[]]> {
  const results: [T[], T[]] = [[], []];
  for (let i = 0; i < runs; i++) {
    console.error(`  ${what}: run ${i + 1} of ${runs}`);
    results[0].push(await ours());
    if (withPeer) results[1].push(await peer());
  }
  return results;
}
