/**
 * Side by side on one machine: the piped `Session` client (as the `session`
 * section runs it) against `queue-server` from this tree and from another
 * checkout of the project (say `git worktree add /tmp/before HEAD~3`, with
 * its `node_modules`), in alternating order, server on core 0 and load on
 * core 1. Prints commands/s and server CPU per command of each run and the
 * ratios, and with `--strace` the server's socket system calls per run.
 *
 *     deno run -A bench/session_ab.ts /tmp/before [rounds] [commands] [--strace]
 *
 * @module
 */
import { readLines } from "../lib/lines.ts";
import { PROGRAMS, runtimeFlags } from "../scripts/programs.ts";
import { pinLoad, pinServer } from "./cpu_pin.ts";
import { pipedClient, type PipedResult } from "./session_bench.ts";

/** Starts `queue-server` from the source tree in `dir`, pinned. */
export async function startFrom(dir: string): Promise<
  { port: number; pid: number } & AsyncDisposable
> {
  const spec = PROGRAMS["queue-server"];
  const args = [...runtimeFlags(spec), spec.entry, "0", "1000000"];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...args, "--host", "127.0.0.1"],
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines = readLines(child.stderr);
  let port = 0;
  while (port === 0) {
    const { value, done } = await lines.next();
    if (done) {
      throw new Error(`queue-server in "${dir}" ended before listening`);
    }
    port = Number(/listening on .*:(\d+)/.exec(value)?.[1] ?? 0);
  }
  void (async () => {
    for await (const _ of lines);
  })();
  await pinServer(child.pid);
  return {
    port,
    pid: child.pid,
    async [Symbol.asyncDispose]() {
      child.kill("SIGINT");
      await child.status;
    },
  };
}

/** One run of `commands` piped commands against the server from `dir`. */
async function runOnce(
  dir: string,
  commands: number,
  strace: boolean,
): Promise<PipedResult> {
  await using server = await startFrom(dir);
  await pipedClient(server, 2000, 256); // Warm-up.
  const out = await Deno.makeTempFile({ suffix: ".strace" });
  const tracer = strace
    ? new Deno.Command("strace", {
      args: ["-f", "-c", "-e", "trace=%network,write,writev", "-o", out]
        .concat(["-p", String(server.pid)]),
      stderr: "null",
    }).spawn()
    : undefined;
  // Time for strace to attach to every thread.
  if (tracer) await new Promise((resolve) => setTimeout(resolve, 1000));
  const result = await pipedClient(server, commands, 256);
  if (tracer) {
    tracer.kill("SIGINT");
    await tracer.status;
    console.log(await Deno.readTextFile(out));
  }
  await Deno.remove(out);
  return result;
}

async function main(args: string[]): Promise<number> {
  const strace = args.includes("--strace");
  const [other, rounds = "3", commands = "100000"] = args.filter((arg) =>
    arg !== "--strace"
  );
  if (other === undefined) {
    console.error(
      "Usage: session_ab.ts OTHER_TREE [rounds] [commands] [--strace]",
    );
    return 2;
  }
  await pinLoad();
  const trees = { other, this: "." } as const;
  for (let round = 1; round <= Number(rounds); round++) {
    const order = round % 2
      ? ["other", "this"] as const
      : ["this", "other"] as const;
    const results: Partial<Record<keyof typeof trees, PipedResult>> = {};
    for (const name of order) {
      const result = await runOnce(trees[name], Number(commands), strace);
      results[name] = result;
      console.log(
        `round ${round}, ${name} tree: ${
          result.commandsPerSecond.toFixed(0)
        } ` +
          `commands/s, ${
            result.serverCpuMicros.toFixed(1)
          } us server CPU per command`,
      );
    }
    const { other: a, this: b } = results as Record<string, PipedResult>;
    console.log(
      `round ${round}: this/other: commands/s ${
        (b!.commandsPerSecond / a!.commandsPerSecond).toFixed(2)
      }x, CPU per command ${
        (b!.serverCpuMicros / a!.serverCpuMicros).toFixed(2)
      }x`,
    );
  }
  return 0;
}

if (import.meta.main) Deno.exitCode = await main(Deno.args);
