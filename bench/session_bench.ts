/**
 * The figures of `Session`: a piped, pipelined `queue-client` against
 * h2load's unary calls and against the same client with pipelining off, and
 * server CPU per command against per unary call. The waiting figures are the
 * store's (`store_bench.ts`).
 *
 * @module
 */
import { processStats, spawnProgram } from "../tests/harness.ts";
import type { TargetServer } from "./queue_bench.ts";

/** What a run of the piped client measured. */
export interface PipedResult {
  /** Commands answered per second, from start to exit of the client. */
  commandsPerSecond: number;
  /** Server CPU time per command, in microseconds. */
  serverCpuMicros: number;
}

/**
 * Pipes `commands` alternating `put` and `pop` lines into a `queue-client`
 * of `server` with `--window window`, checks every answer, and measures the
 * rate from the client's start to its exit and the server's CPU per
 * command.
 */
export async function pipedClient(
  server: TargetServer,
  commands: number,
  window: number,
): Promise<PipedResult> {
  const input = pipedInput(commands);
  const before = await processStats(server.pid);
  const start = performance.now();
  await using client = spawnProgram(
    "queue-client",
    [`127.0.0.1:${server.port}`, "--window", String(window)],
    { stdin: true },
  );
  const [lines] = await Promise.all([
    client.stdout.rest(600_000),
    (async () => {
      // In pieces, each written within the harness's bound.
      for (let at = 0; at < input.length; at += 64 * 1024) {
        await client.write(input.slice(at, at + 64 * 1024));
      }
      await client.closeStdin();
    })(),
  ]);
  const { code } = await client.exit(600_000);
  const seconds = (performance.now() - start) / 1000;
  const after = await processStats(server.pid);
  checkPipedAnswers(lines, code, commands);
  return {
    commandsPerSecond: commands / seconds,
    serverCpuMicros: (after.cpuSeconds - before.cpuSeconds) * 1e6 / commands,
  };
}

/** The piped client's input: `commands` lines alternating `put` and `pop`. */
export function pipedInput(commands: number): string {
  return Array.from(
    { length: commands },
    (_, i) => i % 2 === 0 ? `put item-${i}\n` : "pop\n",
  ).join("");
}

/**
 * Checks that a client fed {@linkcode pipedInput} exited 0 with every
 * answer right: `True` for each put, the item put just before for each pop.
 *
 * @throws {Error} naming the first wrong answer
 */
export function checkPipedAnswers(
  lines: readonly string[],
  code: number,
  commands: number,
): void {
  const wrong = lines.findIndex((line, i) =>
    line !== (i % 2 === 0 ? "True" : `item-${i - 1}`)
  );
  if (code !== 0 || lines.length !== commands || wrong >= 0) {
    throw new Error(
      `queue-client exited ${code} after ${lines.length} answers; ` +
        `answer ${wrong} is ${JSON.stringify(lines[wrong])}`,
    );
  }
}
