/**
 * Side by side on one machine: the piped `Session` client (`queue-client`
 * fed the `session` section's put/pop lines) from this tree and from
 * another checkout of the project (say `git archive` of an older commit
 * unpacked in /tmp/before, with its `node_modules`), in alternating order,
 * against one `queue-server` from this tree on core 0, the clients on core
 * 1. Prints each run's commands/s, the client's CPU per command (user and
 * system, from `/usr/bin/time`) and the server's CPU per command.
 * Arguments after the numbers go to the client's `deno run`, such as
 * `--cpu-prof --cpu-prof-dir=DIR`.
 *
 *     deno run -A bench/client_ab.ts /tmp/before [rounds] [commands]
 *
 * @module
 */
import { processStats } from "../tests/harness.ts";
import { PROGRAMS, runtimeFlags } from "../scripts/programs.ts";
import { pinLoad } from "./cpu_pin.ts";
import { startFrom } from "./session_ab.ts";
import { checkPipedAnswers, pipedInput } from "./session_bench.ts";

/** What one run of the piped client measured. */
interface ClientRun {
  commandsPerSecond: number;
  clientUserMicros: number;
  clientSystemMicros: number;
  serverCpuMicros: number;
}

/**
 * Runs the client of the source tree in `dir` on `commands` piped commands
 * against the server at `port` (process `pid`), checking every answer.
 */
async function runClient(
  dir: string,
  server: { port: number; pid: number },
  commands: number,
  extra: string[],
): Promise<ClientRun> {
  const spec = PROGRAMS["queue-client"];
  const input = new TextEncoder().encode(pipedInput(commands));
  const before = await processStats(server.pid);
  const start = performance.now();
  const child = new Deno.Command("/usr/bin/time", {
    args: ["-f", "cpu %U %S", Deno.execPath(), "run", "--quiet", ...extra]
      .concat(runtimeFlags(spec), spec.entry, `127.0.0.1:${server.port}`)
      .concat(["--window", "256"]),
    cwd: dir,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const [output] = await Promise.all([
    child.output(),
    writer.write(input).then(() => writer.close()),
  ]);
  const seconds = (performance.now() - start) / 1000;
  const after = await processStats(server.pid);
  const lines = new TextDecoder().decode(output.stdout).split("\n");
  lines.pop();
  checkPipedAnswers(lines, output.code, commands);
  const times = new TextDecoder().decode(output.stderr);
  const [, user = "", system = ""] = /cpu ([\d.]+) ([\d.]+)/.exec(times) ?? [];
  return {
    commandsPerSecond: commands / seconds,
    clientUserMicros: Number(user) * 1e6 / commands,
    clientSystemMicros: Number(system) * 1e6 / commands,
    serverCpuMicros: (after.cpuSeconds - before.cpuSeconds) * 1e6 / commands,
  };
}

async function main(args: string[]): Promise<number> {
  const [other, rounds = "3", commands = "100000", ...extra] = args;
  if (other === undefined) {
    console.error("Usage: client_ab.ts OTHER_TREE [rounds] [commands]");
    return 2;
  }
  await pinLoad();
  await using server = await startFrom(".");
  const trees = { other, this: "." } as const;
  for (const dir of Object.values(trees)) {
    await runClient(dir, server, 2000, extra); // Warm-up.
  }
  for (let round = 1; round <= Number(rounds); round++) {
    const order = round % 2
      ? ["other", "this"] as const
      : ["this", "other"] as const;
    for (const name of order) {
      const run = await runClient(trees[name], server, Number(commands), extra);
      console.log(
        `round ${round}, ${name} client: ${run.commandsPerSecond.toFixed(0)} ` +
          `commands/s, client CPU ${
            run.clientUserMicros.toFixed(1)
          } us user + ` +
          `${run.clientSystemMicros.toFixed(1)} us sys per command, server ` +
          `CPU ${run.serverCpuMicros.toFixed(1)} us per command`,
      );
    }
  }
  return 0;
}

if (import.meta.main) Deno.exitCode = await main(Deno.args);
