/**
 * Keeps servers and load apart on a machine with two or more cores: every
 * server under test (ours and the peers alike) runs on core 0, the load
 * generator (this process and what it spawns) on core 1, as the figures of
 * issue 11 were taken. On one core, or without `taskset`, nothing is pinned.
 *
 * @module
 */
import { cpus } from "node:os";

const SERVER_CORE = 0;
const LOAD_CORE = 1;

/** Pins every thread of process `pid` (and the threads it starts) to `core`. */
async function pin(pid: number, core: number): Promise<boolean> {
  if (cpus().length < 2) return false;
  try {
    const { success } = await new Deno.Command("taskset", {
      args: ["--all-tasks", "--cpu-list", "--pid", String(core), String(pid)],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false; // No taskset: run unpinned.
  }
}

/** Pins a server under test to the server core. */
export async function pinServer(pid: number): Promise<void> {
  await pin(pid, SERVER_CORE);
}

/**
 * Pins this process, the load generator, to the load core; what it spawns
 * afterwards starts there too. Resolves to whether it pinned.
 */
export function pinLoad(): Promise<boolean> {
  return pin(Deno.pid, LOAD_CORE);
}
