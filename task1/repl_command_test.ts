import assert from "node:assert/strict";
import { parseCommand, parseWait } from "./repl_command.ts";

Deno.test("parseCommand reads the five commands", () => {
  assert.deepEqual(parseCommand("put A"), {
    kind: "command",
    command: { name: "put", item: "A" },
  });
  assert.deepEqual(parseCommand("  put \t A  "), {
    kind: "command",
    command: { name: "put", item: "A" },
  });
  for (const name of ["peek", "pop", "size", "help"]) {
    assert.deepEqual(parseCommand(name), {
      kind: "command",
      command: { name },
    });
  }
});

Deno.test("parseCommand treats an empty or all-space line as blank", () => {
  assert.deepEqual(parseCommand(""), { kind: "blank" });
  assert.deepEqual(parseCommand(" \t "), { kind: "blank" });
});

Deno.test("parseCommand explains each mistake in one line", () => {
  const cases: [string, RegExp][] = [
    ["put", /^Missing item/],
    ["put   ", /^Missing item/],
    ["put a b", /^Too many words after "put".*"a b"/],
    ["peek now", /^Unexpected argument "now": "peek" takes none/],
    ["PUT A", /^Unknown command "PUT"/],
    ["constructor", /^Unknown command "constructor"/],
    ["get", /^Unknown command "get"/],
  ];
  for (const [line, message] of cases) {
    const parsed = parseCommand(line);
    assert.equal(parsed.kind, "invalid", line);
    if (parsed.kind === "invalid") assert.match(parsed.message, message);
  }
});

Deno.test("parseCommand reads --wait SECONDS after put and pop, in milliseconds", () => {
  assert.deepEqual(parseCommand("put A --wait 2.5"), {
    kind: "command",
    command: { name: "put", item: "A", waitMs: 2500 },
  });
  assert.deepEqual(parseCommand("put --wait 1 A"), {
    kind: "command",
    command: { name: "put", item: "A", waitMs: 1000 },
  });
  assert.deepEqual(parseCommand("pop --wait 30"), {
    kind: "command",
    command: { name: "pop", waitMs: 30_000 },
  });
  assert.deepEqual(parseCommand("pop --wait 0"), {
    kind: "command",
    command: { name: "pop", waitMs: 0 },
  });
});

Deno.test("parseCommand refuses a missing, negative, nonsense or over-an-hour --wait", () => {
  const cases: [string, RegExp][] = [
    ["pop --wait", /^Missing value after "--wait"/],
    ["put A --wait", /^Missing value after "--wait"/],
    [
      "pop --wait -1",
      /^Invalid wait "-1": expected a number of seconds from 0 to 3600$/,
    ],
    ["pop --wait soon", /^Invalid wait "soon"/],
    ["pop --wait 3600.5", /^Invalid wait "3600.5"/],
    ["pop --wait 1e3", /^Invalid wait "1e3"/],
    ["peek --wait 1", /^Unexpected argument "--wait": "peek" takes none/],
    ["pop now", /^Unexpected argument "now": "pop" takes only --wait SECONDS/],
    ["put --wait 1", /^Missing item/],
  ];
  for (const [line, message] of cases) {
    const parsed = parseCommand(line);
    assert.equal(parsed.kind, "invalid", line);
    if (parsed.kind === "invalid") assert.match(parsed.message, message, line);
  }
});

Deno.test("parseWait accepts 0 to 3600 seconds with decimals", () => {
  assert.equal(parseWait("0"), 0);
  assert.equal(parseWait(".25"), 250);
  assert.equal(parseWait("1.0005"), 1001);
  assert.equal(parseWait("3600"), 3_600_000);
  for (const bad of ["", "-0.5", "1.2.3", "3601", "Infinity", " 1"]) {
    assert.throws(() => parseWait(bad), RangeError, bad);
  }
});
