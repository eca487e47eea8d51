import assert from "node:assert/strict";
import { WAIT_MS, within } from "../tests/harness.ts";
import { PROGRAMS, runTask } from "./programs.ts";

const root = new URL("../", import.meta.url);

Deno.test("deno.json has a run task for each program with exactly the permissions in scripts/programs.ts", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", root)),
  );
  for (const [name, spec] of Object.entries(PROGRAMS)) {
    assert.equal(
      config.tasks[name],
      runTask(spec),
      `deno.json's task "${name}" is out of date: run deno task sync-tasks`,
    );
  }
});

Deno.test("each program's deno task runs it: --help prints its usage and exits 0", async () => {
  for (const name of Object.keys(PROGRAMS)) {
    const { code, stdout } = await within(
      new Deno.Command(Deno.execPath(), {
        args: ["task", "--quiet", name, "--help"],
        cwd: root,
        stdout: "piped",
        stderr: "null",
      }).output(),
      `deno task ${name} --help`,
      WAIT_MS,
    );
    assert.equal(code, 0, name);
    assert.match(
      new TextDecoder().decode(stdout),
      new RegExp(`^Usage: ${name} `),
    );
  }
});
