/**
 * The four programs: where each one's entry point is and which permissions
 * its executable gets. The build compiles exactly these, and the tests run
 * exactly these, so both see the same programs with the same permissions.
 *
 * @module
 */

/** How one program is built and run. */
export interface ProgramSpec {
  /** The entry module, relative to the repository root. */
  entry: string;
  /** The permission flags given to `deno compile` and to `deno run` in tests. */
  permissions: readonly string[];
}

/** The programs by executable name. */
export const PROGRAMS = {
  "roster-server": {
    entry: "task2/server_main.ts",
    permissions: ["--allow-net"],
  },
  "roster-client": {
    entry: "task2/client_main.ts",
    permissions: ["--allow-net"],
  },
  "queue-server": {
    entry: "task1/server_main.ts",
    permissions: ["--allow-net", "--allow-env"],
  },
  "queue-client": {
    entry: "task1/client_main.ts",
    permissions: ["--allow-net", "--allow-env"],
  },
} as const satisfies Record<string, ProgramSpec>;

/** The name of one of the executables. */
export type ProgramName = keyof typeof PROGRAMS;
