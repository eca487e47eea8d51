/**
 * `deno task build`: compiles each program into a standalone executable in the
 * repository root with `deno compile`, giving it the permissions listed in
 * `programs.ts` and nothing more, the V8 options listed there, and embedding
 * the workers it starts.
 *
 * @module
 */
import { PROGRAMS, runtimeFlags } from "./programs.ts";

const root = new URL("../", import.meta.url);

/** Compiles one program; resolves to `deno compile`'s exit code and output. */
async function compile(
  name: string,
  entry: string,
  flags: readonly string[],
  workers: readonly string[] = [],
) {
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      ...flags,
      ...workers.flatMap((worker) => ["--include", worker]),
      "--output",
      name,
      entry,
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await command.output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

/** Sums up in one line why `deno compile` failed. */
function failureSummary(name: string, output: string): string {
  const unreachable = output.match(/error sending request for url \((\S+)\)/);
  if (unreachable) {
    return `cannot build ${name}: deno compile could not download its runtime ` +
      `from ${unreachable[1]}; build on a machine that can reach that host`;
  }
  // deno-lint-ignore no-control-regex
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  const reason = plain.split("\n").find((line) => line.startsWith("error"));
  return `cannot build ${name}: ${reason ?? "deno compile failed"}`;
}

async function main(): Promise<number> {
  for (const [name, spec] of Object.entries(PROGRAMS)) {
    const workers = "workers" in spec ? spec.workers : [];
    const { code, output } = await compile(
      name,
      spec.entry,
      runtimeFlags(spec),
      workers,
    );
    if (code !== 0) {
      console.error(`error: ${failureSummary(name, output)}`);
      return 1;
    }
    console.error(`built ./${name}`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
