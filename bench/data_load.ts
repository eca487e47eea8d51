/**
 * Measures how `openSqliteStore` loads a large `--data` file: the time to
 * open it, the JavaScript heap sampled every millisecond while it loads, and
 * the process's peak RSS. Not part of `deno task bench`; run by hand:
 *
 * ```sh
 * deno run -A --v8-flags=--expose-gc bench/data_load.ts write FILE 1000000
 * deno run -A --v8-flags=--expose-gc bench/data_load.ts load FILE
 * ```
 *
 * `write` fills FILE with that many 16-byte items straight through
 * `QueueFile.commit`; `load` opens it in a fresh process, prints one JSON
 * line, then pops every item and checks their order.
 *
 * @module
 */
import { QueueFile } from "../task1/store/sqlite/file.ts";
import { openSqliteStore } from "../task1/store/sqlite/mod.ts";

/** Item `i` of a file `write` made: 16 bytes, numbered. */
export function benchItem(i: number): string {
  return `item-${String(i).padStart(11, "0")}`;
}

/** Fills `path` with `count` items in transactions of 100,000. */
function write(path: string, count: number): void {
  const file = new QueueFile(path);
  try {
    for (let from = 0; from < count; from += 100_000) {
      const items = [];
      for (let i = from; i < Math.min(count, from + 100_000); i++) {
        items.push(benchItem(i));
      }
      file.commit(file.next + from, items);
    }
  } finally {
    file.close();
  }
}

/** The process's peak RSS in bytes (`VmHWM`). */
function peakRss(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
}

/** Opens `path`, reports the figures, pops everything back in order. */
async function load(path: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = Deno.memoryUsage();
  let peakHeap = before.heapUsed;
  const sampler = setInterval(() => {
    peakHeap = Math.max(peakHeap, Deno.memoryUsage().heapUsed);
  }, 1);
  const start = performance.now();
  const store = await openSqliteStore(path, 2 ** 32 - 1, {
    maxBytes: 2 ** 40,
  });
  const loadMs = performance.now() - start;
  clearInterval(sampler);
  peakHeap = Math.max(peakHeap, Deno.memoryUsage().heapUsed);
  const rssPeakAtLoad = peakRss();
  // The heap V8 reserved: it has not shrunk back yet, so it shows the peak.
  const heapTotalAtLoad = Deno.memoryUsage().heapTotal;
  gc?.();
  const after = Deno.memoryUsage();
  const { size } = store.status();
  console.log(JSON.stringify({
    items: size,
    loadMs: Math.round(loadMs),
    heapBeforeMiB: mib(before.heapUsed),
    peakHeapMiB: mib(peakHeap),
    heapTotalAtLoadMiB: mib(heapTotalAtLoad),
    heapAfterGcMiB: mib(after.heapUsed),
    rssAfterMiB: mib(after.rss),
    peakRssMiB: mib(rssPeakAtLoad),
  }));
  // Pops in rounds of 10,000 at once, so that each round is one commit.
  for (let from = 0; from < size; from += 10_000) {
    const round = Array.from(
      { length: Math.min(10_000, size - from) },
      () => store.pop(),
    );
    for (const [i, item] of (await Promise.all(round)).entries()) {
      if (item !== benchItem(from + i)) {
        throw new Error(`Item ${from + i} is "${item}", not the one put`);
      }
    }
  }
  await store.close();
  console.log(`popped ${size} items in order`);
}

function mib(bytes: number): number {
  return Math.round(bytes / 1024 / 1024 * 10) / 10;
}

if (import.meta.main) {
  const [command, path, count] = Deno.args;
  if (command === "write" && path && count) write(path, Number(count));
  else if (command === "load" && path) await load(path);
  else throw new Error("Usage: data_load.ts write FILE COUNT | load FILE");
}
