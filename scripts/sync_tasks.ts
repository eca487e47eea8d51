/**
 * `deno task sync-tasks`: writes the run task of each program into
 * `deno.json` from {@linkcode PROGRAMS}, so that `deno task queue-server`
 * and the others run exactly what the build compiles, with the same
 * permissions. A test checks that `deno.json` is in sync.
 *
 * @module
 */
import { PROGRAMS, runTask } from "./programs.ts";

const config = new URL("../deno.json", import.meta.url);
const json = JSON.parse(await Deno.readTextFile(config));
for (const [name, spec] of Object.entries(PROGRAMS)) {
  json.tasks[name] = runTask(spec);
}
await Deno.writeTextFile(config, JSON.stringify(json, null, 2) + "\n");
