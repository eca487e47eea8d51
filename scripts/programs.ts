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
  /** V8 options, given to `deno compile` and `deno run` as `--v8-flags`. */
  v8Flags?: readonly string[];
}

/** The programs by executable name. */
export const PROGRAMS = {
  "roster-server": {
    entry: "task2/server_main.ts",
    permissions: ["--allow-net"],
    // A young generation of 2 MiB semi-spaces instead of V8's up to 16 MiB:
    // after a burst of joins the server keeps the young generation it grew
    // to, which was most of its RSS per idle client (bench: storm N=1000,
    // about 43 KiB per client with the default, 28 KiB with this), for
    // about 5-10% more CPU per roster change from more frequent scavenges.
    v8Flags: ["--max-semi-space-size=2"],
  },
  "roster-client": {
    entry: "task2/client_main.ts",
    permissions: ["--allow-net"],
  },
  "queue-server": {
    entry: "task1/server_main.ts",
    // A young generation of 1 MiB semi-spaces and an old generation that
    // grows by 20% instead of V8's default factor: grpc-js garbage promoted
    // around the items otherwise stays in the heap. Bench, 1,000,000 Puts of
    // 16-byte items, gross RSS growth per Put: 299 B with V8's defaults,
    // 248 B with the semi-spaces alone, 84 B with both (the Python peer: 91
    // B), for about 40% more CPU per Put while the queue grows (117 against
    // 85 us; more frequent full collections over the items).
    v8Flags: ["--max-semi-space-size=1", "--heap-growing-percent=20"],
    // grpc-js reads these variables when it loads; grpc-health-check and
    // @grpc/reflection read their own .proto files from node_modules (with
    // an access check that asks for the uid) when they load.
    permissions: [
      "--allow-net",
      "--allow-env=GRPC_NODE_VERBOSITY,GRPC_VERBOSITY,GRPC_NODE_TRACE,GRPC_TRACE,GRPC_NODE_USE_ALTERNATIVE_RESOLVER,GRPC_NODE_DEBUG_SEND_ERROR_DETAILS,GRPC_EXPERIMENTAL_ENABLE_OUTLIER_DETECTION,GRPC_SSL_CIPHER_SUITES,GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
      "--allow-read=node_modules",
      "--allow-sys=uid",
    ],
  },
  "queue-client": {
    entry: "task1/client_main.ts",
    // grpc-js reads these variables when it loads, and the proxy ones when
    // it opens a channel.
    permissions: [
      "--allow-net",
      "--allow-env=GRPC_NODE_VERBOSITY,GRPC_VERBOSITY,GRPC_NODE_TRACE,GRPC_TRACE,GRPC_NODE_USE_ALTERNATIVE_RESOLVER,GRPC_NODE_DEBUG_SEND_ERROR_DETAILS,GRPC_EXPERIMENTAL_ENABLE_OUTLIER_DETECTION,GRPC_SSL_CIPHER_SUITES,GRPC_DEFAULT_SSL_ROOTS_FILE_PATH,grpc_proxy,https_proxy,http_proxy,no_grpc_proxy,no_proxy",
    ],
  },
} as const satisfies Record<string, ProgramSpec>;

/** The name of one of the executables. */
export type ProgramName = keyof typeof PROGRAMS;

/**
 * The flags of `deno run` and `deno compile` for one program: its
 * permissions, then its V8 options if it has any.
 */
export function runtimeFlags(spec: ProgramSpec): string[] {
  const { permissions, v8Flags = [] } = spec;
  return v8Flags.length
    ? [...permissions, `--v8-flags=${v8Flags.join(",")}`]
    : [...permissions];
}
