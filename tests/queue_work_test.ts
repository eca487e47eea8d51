/**
 * `queue-client HOST:PORT work -- COMMAND` end to end: the real queue-server
 * and real workers as processes, running small `sh` commands that keep
 * marker files in a temporary folder. A worker killed with -9 and started
 * again (in memory and with `--data`), commands that fail once or always
 * (`--max-attempts`, `--dead-letter`), one and two SIGTERMs while commands
 * run, a command that outlives its first lease, the log lines and `--quiet`,
 * and the item on standard input exactly as stored.
 */
import assert from "node:assert/strict";
import { QueueClient, type QueueCount } from "../task1/queue_client.ts";
import { SessionClient } from "../task1/session_client.ts";
import {
  eventually,
  type RunningProgram,
  spawnProgram,
  startQueueServer,
  tempDir,
} from "./harness.ts";

/** Starts `queue-client 127.0.0.1:PORT work FLAGS... -- sh -c SCRIPT sh ARGS...`. */
function startWorker(
  port: number,
  flags: string[],
  script: string,
  args: string[],
): RunningProgram {
  return spawnProgram("queue-client", [
    `127.0.0.1:${port}`,
    "work",
    ...flags,
    "--",
    ...["sh", "-c", script, "sh", ...args],
  ]);
}

/** A unary client of the server on 127.0.0.1:`port`. */
function clientOf(port: number): QueueClient {
  return new QueueClient({ hostname: "127.0.0.1", port });
}

/** Puts `items` in order, pipelined on one Session; each must be added. */
async function putAll(client: QueueClient, items: string[]): Promise<void> {
  using session = new SessionClient(client);
  const added = await Promise.all(items.map((item) => session.put(item)));
  assert.ok(added.every((yes) => yes), `not all added: ${added}`);
}

/** The lines of `path`, or none if it does not exist. */
async function linesOf(path: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(path)).split("\n").filter((line) =>
      line !== ""
    );
  } catch (error: unknown) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** The item during whose run the first worker is killed. */
const SLOW_ITEM = "item-100";

/**
 * The command of the 200-item test: it appends `start RUN N` to the item's
 * marker file (N its delivery count), then `ok RUN N` and exits 0; but an
 * item named `...-fail` on its first run (no marker file yet) appends
 * `fail RUN N` and exits 3. {@linkcode SLOW_ITEM} prints `running ITEM` and
 * waits for the file `go` (10 s at most), so that the test can kill the
 * worker while it runs.
 */
const MARKING_SCRIPT = `dir=$1 run=$2
IFS= read -r item || :
file="$dir/$item"
first=no; [ -e "$file" ] || first=yes
echo "start $run $QUEUE_DELIVERY_COUNT" >> "$file"
case "$item" in
  *-fail) if [ $first = yes ]; then
    echo "fail $run $QUEUE_DELIVERY_COUNT" >> "$file"; exit 3
  fi ;;
  ${SLOW_ITEM}) echo "running $item"; i=0
    while [ ! -e "$dir/go" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done ;;
esac
echo "ok $run $QUEUE_DELIVERY_COUNT" >> "$file"`;

const STORES: { name: string; flags: (dir: string) => string[] }[] = [
  { name: "memory", flags: () => [] },
  { name: "--data", flags: (dir) => ["--data", `${dir}/q.db`] },
];

for (const { name, flags } of STORES) {
  Deno.test(`queue-client work (${name}): 200 items, 4 jobs, a third failing their first run, the worker killed with -9 halfway and started again: every item completes, the ones it was running run again, and the queue ends empty with nothing leased`, async () => {
    await using dir = await tempDir("queue-work-");
    const markers = `${dir.path}/markers`;
    await Deno.mkdir(markers);
    await using started = await startQueueServer(1000, ...flags(dir.path));
    using client = clientOf(started.port);
    const items = Array.from(
      { length: 200 },
      (_, i) =>
        `item-${String(i).padStart(3, "0")}${i % 3 === 0 ? "-fail" : ""}`,
    );
    await putAll(client, items);
    const workFlags = ["--jobs", "4", "--lease", "60"];

    // The first worker: killed with -9 while it runs SLOW_ITEM, about
    // halfway through the queue.
    const runningAtKill = new Set<string>();
    {
      await using first = startWorker(
        started.port,
        workFlags,
        MARKING_SCRIPT,
        [markers, "1"],
      );
      try {
        assert.equal(await first.stdout.next(30_000), `running ${SLOW_ITEM}`);
        first.kill("SIGKILL");
        assert.equal((await first.exit()).signal, "SIGKILL");
        // A command without an end line now had not exited when the worker
        // died, so its item was not acked: the server must hand it out again.
        for (const item of items) {
          const last = (await linesOf(`${markers}/${item}`)).at(-1);
          if (last?.startsWith("start 1 ")) runningAtKill.add(item);
        }
        // Its Sessions ended with it, so the server gave its leases back at
        // once, long before they would have run out.
        await eventually(
          async () => (await client.count()).leased === 0,
          "the killed worker's leases back",
          3_000,
        );
      } finally {
        // SLOW_ITEM's command, left running by the killed worker, may end.
        await Deno.writeTextFile(`${markers}/go`, "");
      }
      const done = (await first.stderr.rest()).filter((line) =>
        line.startsWith("ok ")
      );
      assert.ok(done.length >= 50, `only ${done.length} done before the kill`);
    }
    assert.ok(runningAtKill.has(SLOW_ITEM), `${[...runningAtKill]}`);

    // The second worker finishes the queue.
    await using second = startWorker(
      started.port,
      workFlags,
      MARKING_SCRIPT,
      [markers, "2"],
    );
    let count: QueueCount | undefined;
    await eventually(
      async () => {
        count = await client.count();
        return count.size === 0 && count.leased === 0;
      },
      "the queue to be empty with nothing leased",
      45_000,
    );
    second.kill("SIGTERM");
    assert.equal((await second.exit()).code, 0);
    assert.deepEqual(count, { size: 0, leased: 0 });
    assert.deepEqual(await client.count(), { size: 0, leased: 0 });

    for (const item of items) {
      const lines = await linesOf(`${markers}/${item}`);
      const ends = lines.filter((line) => !line.startsWith("start "));
      assert.ok(
        ends.some((line) => line.startsWith("ok ")),
        `${item}: ${lines}`,
      );
      if (item.endsWith("-fail")) {
        assert.match(ends[0] ?? "", /^fail /, `${item}: ${lines}`);
      }
      if (runningAtKill.has(item)) {
        // Run again by the second worker, delivered once more at least.
        const again = lines.map((line) => line.match(/^start 2 (\d+)$/))
          .find((match) => match !== null);
        assert.ok(again, `${item} did not run again: ${lines}`);
        assert.ok(Number(again[1]) >= 2, `${item}: ${lines}`);
      }
    }
  });
}

Deno.test("queue-client work: a command that always fails runs exactly --max-attempts times, then its item is one JSON line in --dead-letter FILE; each item is one log line", async () => {
  await using dir = await tempDir("queue-work-");
  await using started = await startQueueServer(10);
  using client = clientOf(started.port);
  await putAll(client, ["poison pill", "fine"]);
  const deadLetters = `${dir.path}/dead.jsonl`;
  await using worker = startWorker(
    started.port,
    ["--max-attempts", "3", "--dead-letter", deadLetters],
    'item=$(cat); echo "$item" >> "$1/runs"; [ "$item" = fine ] || exit 7',
    [dir.path],
  );
  assert.deepEqual(await worker.stderr.take(4), [
    "failed (exit 7), released (delivery 1): poison pill",
    "failed (exit 7), released (delivery 2): poison pill",
    "failed (exit 7), dead-lettered (delivery 3): poison pill",
    "ok (delivery 1): fine",
  ]);
  assert.deepEqual(await linesOf(`${dir.path}/runs`), [
    "poison pill",
    "poison pill",
    "poison pill",
    "fine",
  ]);
  assert.equal(
    await Deno.readTextFile(deadLetters),
    '{"item":"poison pill","delivery_count":3,"exit_status":7}\n',
  );
  assert.deepEqual(await client.count(), { size: 0, leased: 0 });
  worker.kill("SIGTERM");
  assert.equal((await worker.exit()).code, 0);
  assert.deepEqual(await worker.stderr.rest(), []);
});

Deno.test("queue-client work --quiet: each command gets its item exactly as stored and QUEUE_DELIVERY_COUNT, its output passes through, and only the dead letters reach standard error", async () => {
  await using dir = await tempDir("queue-work-");
  await using started = await startQueueServer(10);
  using client = clientOf(started.port);
  await putAll(client, ["a b", "tab\there ü\n", ""]);
  await using worker = startWorker(
    started.port,
    ["--quiet", "--max-attempts", "1"],
    `cat > "$1/item"; cat "$1/item" >> "$1/in"
printf "[%s]" "$QUEUE_DELIVERY_COUNT" >> "$1/in"
echo "out $QUEUE_DELIVERY_COUNT"; [ -s "$1/item" ]`,
    [dir.path],
  );
  assert.deepEqual(await worker.stdout.take(3), ["out 1", "out 1", "out 1"]);
  assert.equal(
    await worker.stderr.next(),
    '{"item":"","delivery_count":1,"exit_status":1}',
  );
  await eventually(
    async () => (await client.count()).leased === 0,
    "the last item acked",
  );
  assert.equal(
    await Deno.readTextFile(`${dir.path}/in`),
    "a b[1]tab\there ü\n[1][1]",
  );
  assert.deepEqual(await client.count(), { size: 0, leased: 0 });
  worker.kill("SIGTERM");
  assert.equal((await worker.exit()).code, 0);
  assert.deepEqual(await worker.stderr.rest(), []);
});

Deno.test("queue-client work on SIGTERM lets the running commands finish, acks their items, exits 0 and leaves the unstarted items queued", async () => {
  await using dir = await tempDir("queue-work-");
  await using started = await startQueueServer(10);
  using client = clientOf(started.port);
  const items = ["job-1", "job-2", "job-3", "job-4", "job-5", "job-6"];
  await putAll(client, items);
  const log = `${dir.path}/log`;
  await using worker = startWorker(
    started.port,
    ["--jobs", "2"],
    'item=$(cat); echo "start $item" >> "$1"; sleep 1; echo "end $item" >> "$1"',
    [log],
  );
  await eventually(
    async () => (await linesOf(log)).length >= 2,
    "two commands to start",
  );
  worker.kill("SIGTERM");
  assert.equal((await worker.exit()).code, 0);
  // Both ended before the worker did.
  assert.deepEqual((await linesOf(log)).sort(), [
    "end job-1",
    "end job-2",
    "start job-1",
    "start job-2",
  ]);
  assert.deepEqual((await worker.stderr.rest()).sort(), [
    "ok (delivery 1): job-1",
    "ok (delivery 1): job-2",
  ]);
  assert.deepEqual(await client.count(), { size: 4, leased: 0 });
  assert.equal(await client.peek(), "job-3");
});

Deno.test("queue-client work extends the lease of a command that runs past it, so no other job slot gets its item", async () => {
  await using dir = await tempDir("queue-work-");
  await using started = await startQueueServer(10);
  using client = clientOf(started.port);
  await putAll(client, ["long job"]);
  const runs = `${dir.path}/runs`;
  await using worker = startWorker(
    started.port,
    ["--jobs", "2", "--lease", "1"],
    'echo "$QUEUE_DELIVERY_COUNT" >> "$1"; sleep 2',
    [runs],
  );
  assert.equal(await worker.stderr.next(), "ok (delivery 1): long job");
  assert.deepEqual(await linesOf(runs), ["1"]);
  assert.deepEqual(await client.count(), { size: 0, leased: 0 });
  worker.kill("SIGTERM");
  assert.equal((await worker.exit()).code, 0);
});

Deno.test("queue-client work whose server dies lets the running command finish, then exits 1 with error lines", async () => {
  await using dir = await tempDir("queue-work-");
  await using started = await startQueueServer(10);
  {
    using client = clientOf(started.port);
    await putAll(client, ["job-1"]);
  }
  const log = `${dir.path}/log`;
  await using worker = startWorker(
    started.port,
    [],
    'echo start >> "$1"; sleep 1; echo end >> "$1"',
    [log],
  );
  await eventually(async () => (await linesOf(log)).length > 0, "the start");
  started.server.kill("SIGKILL");
  assert.equal((await worker.exit()).code, 1);
  assert.deepEqual(await linesOf(log), ["start", "end"]);
  const lines = await worker.stderr.rest();
  assert.equal(lines[0], "ok, but the ack failed (delivery 1): job-1");
  assert.ok(lines.length > 1, `${lines}`);
  for (const line of lines.slice(1)) {
    assert.match(line, /^error: UNAVAILABLE: /);
  }
});

/** Whether process `pid` is still running, asked with `kill -0`. */
async function isRunning(pid: number): Promise<boolean> {
  const { success } = await new Deno.Command("sh", {
    args: ["-c", 'kill -0 "$1" 2>/dev/null', "sh", String(pid)],
  }).output();
  return success;
}

Deno.test("queue-client work on a second SIGTERM kills the running commands and their children, releases their items and exits 1", async () => {
  await using dir = await tempDir("queue-work-");
  await using started = await startQueueServer(10);
  using client = clientOf(started.port);
  await putAll(client, ["job-1", "job-2", "job-3"]);
  const pids = `${dir.path}/pids`;
  // Each command records its process id and its child's.
  await using worker = startWorker(
    started.port,
    ["--jobs", "2"],
    'sleep 30 & echo "$$ $!" >> "$1"; wait',
    [pids],
  );
  let processes: number[] = [];
  const running = async () => {
    const all = await Promise.all(processes.map(isRunning));
    return processes.filter((_, i) => all[i]);
  };
  try {
    await eventually(
      async () => (await linesOf(pids)).length >= 2,
      "two commands to start",
    );
    processes = (await linesOf(pids)).flatMap((line) =>
      line.split(" ").map(Number)
    );
    worker.kill("SIGTERM");
    // Signals of one kind that arrive together may be seen as one.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.deepEqual(await client.count(), { size: 1, leased: 2 });
    worker.kill("SIGTERM");
    assert.equal((await worker.exit()).code, 1);
    await eventually(
      async () => (await running()).length === 0,
      "the commands and their children to end",
    ).catch(async () => {
      assert.fail(`still running: ${await running()} of ${processes}`);
    });
    const lines = (await worker.stderr.rest()).sort();
    assert.deepEqual(lines, [
      "killed by SIGKILL (stopping), released (delivery 1): job-1",
      "killed by SIGKILL (stopping), released (delivery 1): job-2",
    ]);
    assert.deepEqual(await client.count(), { size: 3, leased: 0 });
  } finally {
    // Started by this test: never left behind, whatever failed above.
    for (const pid of await running()) Deno.kill(pid, "SIGKILL");
  }
});
