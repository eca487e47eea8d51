/**
 * Small statistics and formatting helpers for the benchmark report.
 *
 * @module
 */

/** The median of `samples` (the mean of the middle two for an even count). */
export function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2
    ? sorted[middle]!
    : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The `p`-th percentile (0 to 100) of `samples`, nearest rank. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? NaN;
}

/** Formats samples as `median (min-max)` with `format` for each number. */
export function spread(
  samples: readonly number[],
  format: (value: number) => string,
): string {
  if (samples.length === 1) return format(samples[0]!);
  return `${format(median(samples))} (${format(Math.min(...samples))}-${
    format(Math.max(...samples))
  })`;
}

/** Formats a number with `digits` significant digits and a unit. */
export function unit(digits = 3, suffix = ""): (value: number) => string {
  return (value) => `${Number(value.toPrecision(digits))}${suffix}`;
}
