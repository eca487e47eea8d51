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
  /**
   * Modules that the program starts as workers, which `deno compile` must
   * embed (`--include`); `deno run` loads them from the source tree.
   */
  workers?: readonly string[];
  /** V8 options, given to `deno compile` and `deno run` as `--v8-flags`. */
  v8Flags?: readonly string[];
}

// Read access: every program reads the TLS and token files named on its
// command line (--tls-cert, --tls-key, --ca, --token-file). Their paths are
// only known at run time, and a compiled executable's permissions are fixed
// at compile time, so a narrower --allow-read=PATH cannot name them; leaving
// read ungranted would make the files unreadable wherever no one answers
// Deno's prompt (a service, a pipe). So all four get --allow-read, without
// write access; the programs read only the files they are given (and the
// queue server its packages' .proto files under node_modules).

// Metrics (--metrics on both servers): served by Deno.serve under the
// servers' --allow-net; prom-client needs no further permission, since its
// default process collectors, which read /proc (and would need --allow-all),
// are not used (lib/metrics_http.ts).

/** The programs by executable name. */
export const PROGRAMS = {
  "roster-server": {
    entry: "task2/server_main.ts",
    // @redis/client reads these two variables (debug switches of its
    // maintenance-notification support) when it connects to Redis.
    permissions: [
      "--allow-net",
      "--allow-read",
      "--allow-env=REDIS_DEBUG_MAINTENANCE,REDIS_EMIT_DIAGNOSTICS",
    ],
    // A young generation of 2 MiB semi-spaces instead of V8's up to 16 MiB:
    // after a burst of joins the server keeps the young generation it grew
    // to, which was most of its RSS per idle client (bench: storm N=1000,
    // about 43 KiB per client with the default, 28 KiB with this), for
    // about 5-10% more CPU per roster change from more frequent scavenges.
    v8Flags: ["--max-semi-space-size=2"],
  },
  "roster-client": {
    entry: "task2/client_main.ts",
    // ROSTER_TOKEN: the token, when --token-file is not given.
    permissions: ["--allow-net", "--allow-read", "--allow-env=ROSTER_TOKEN"],
  },
  "queue-server": {
    entry: "task1/server_main.ts",
    // A young generation of 4 MiB semi-spaces (V8's default grows to 16
    // MiB) and an old generation that grows by 50% before its next full
    // collection (V8's default factor is larger): without them the server
    // keeps about 130 MB of heap it grew to for grpc-js garbage under load,
    // however few items it holds (the items are UTF-8 slabs off the heap,
    // about 21 B per 16-byte item). Measured side by side (issue 19, one
    // quiet run, 16-byte items): gross RSS growth per item at 1M / 3M items
    // 152 / 65 B with V8's defaults, 47 / 30 B with issue 11's 1 MiB
    // semi-spaces and 20% growth, which cost about 20% more CPU per call
    // (put+pop at 0.91x the no-op server against 1.11x); these two kept
    // about the memory of issue 11's (34 MB against 26 MB and 119 MB of
    // growth after 300,000 Puts) at the CPU of the defaults (115 against
    // 113 and 144 us per put+pop call). `deno task bench v8` measures them
    // against V8's defaults.
    //
    // grpc-js reads these variables when it loads (and @redis/client, for
    // --redis, the last two: debug switches of its maintenance-notification
    // support, read when it connects); grpc-health-check and
    // @grpc/reflection read their own .proto files from node_modules (with
    // an access check that asks for the uid) when they load; read access is
    // broad for the TLS and token files (above).
    //
    // `--data FILE` names a file only at run time, and a permission list is
    // fixed when the executable is built, so writing cannot be narrowed to
    // it either: the narrowest form that works for any FILE is the
    // unrestricted --allow-write. Deno checks it on FILE when node:sqlite
    // opens it; SQLite then opens FILE-wal next to it by itself (FILE-shm is
    // never made: the server locks the file exclusively). node:sqlite needs
    // no --allow-ffi.
    //
    // The queued items are UTF-8 slabs outside the V8 heap, and --data loads
    // its file's items straight into them as bytes, but leased items are
    // strings on the heap (up to 2 bytes per UTF-8 byte), and so are a
    // file's items leased and not acked when it is loaded: the heap may grow
    // to 8 GiB so that up to about 3.8 GiB of them fit. --expose-gc
    // lets the server collect the garbage of large items every 32 MiB
    // instead of letting it pile up to twice the live heap (see
    // largeItemCollector in task1/operations.ts).
    permissions: [
      "--allow-net",
      "--allow-env=GRPC_NODE_VERBOSITY,GRPC_VERBOSITY,GRPC_NODE_TRACE,GRPC_TRACE,GRPC_NODE_USE_ALTERNATIVE_RESOLVER,GRPC_NODE_DEBUG_SEND_ERROR_DETAILS,GRPC_EXPERIMENTAL_ENABLE_OUTLIER_DETECTION,GRPC_SSL_CIPHER_SUITES,GRPC_DEFAULT_SSL_ROOTS_FILE_PATH,REDIS_DEBUG_MAINTENANCE,REDIS_EMIT_DIAGNOSTICS",
      "--allow-read",
      "--allow-write",
      "--allow-sys=uid",
    ],
    v8Flags: [
      "--max-old-space-size=8192",
      "--expose-gc",
      "--max-semi-space-size=4",
      "--heap-growing-percent=50",
    ],
    // The worker that owns the --data file (task1/store/sqlite/journal.ts).
    workers: ["task1/store/sqlite/worker.ts"],
  },
  "queue-client": {
    entry: "task1/client_main.ts",
    // grpc-js reads these variables when it loads, and the proxy ones when
    // it opens a channel; QUEUE_TOKEN is the token when --token-file is not
    // given; read access is for the TLS and token files (above).
    //
    // `work -- COMMAND` runs COMMAND, named only at run time, so running
    // cannot be narrowed when the executable is built: --allow-run. Its
    // `--dead-letter FILE` appends to a file named at run time too, so
    // writing cannot be narrowed either: --allow-write. (The commands run
    // with their own rights, not Deno's: whoever can pass COMMAND can run
    // anything as this user anyway.) Setting QUEUE_DELIVERY_COUNT in a
    // command's environment needs no --allow-env.
    permissions: [
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-run",
      "--allow-env=GRPC_NODE_VERBOSITY,GRPC_VERBOSITY,GRPC_NODE_TRACE,GRPC_TRACE,GRPC_NODE_USE_ALTERNATIVE_RESOLVER,GRPC_NODE_DEBUG_SEND_ERROR_DETAILS,GRPC_EXPERIMENTAL_ENABLE_OUTLIER_DETECTION,GRPC_SSL_CIPHER_SUITES,GRPC_DEFAULT_SSL_ROOTS_FILE_PATH,grpc_proxy,https_proxy,http_proxy,no_grpc_proxy,no_proxy,QUEUE_TOKEN",
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

/**
 * The `deno task` command that runs `spec` from source with exactly the
 * flags of its executable; deno.json's run tasks are these (a test checks
 * them).
 */
export function runTask(spec: ProgramSpec): string {
  return ["deno", "run", ...runtimeFlags(spec), spec.entry].join(" ");
}
