import assert from "node:assert/strict";
import { parseCommand, parseLease, parseWait } from "./repl_command.ts";

/** Asserts that each line is invalid with a message matching its pattern. */
function assertInvalid(cases: [string, RegExp][]): void {
  for (const [line, message] of cases) {
    const parsed = parseCommand(line);
    assert.equal(parsed.kind, "invalid", line);
    if (parsed.kind === "invalid") assert.match(parsed.message, message, line);
  }
}

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
  assertInvalid(cases);
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

Deno.test("parseCommand reads pop --lease, ack, release and extend, in milliseconds", () => {
  const cases: [string, unknown][] = [
    ["pop --lease 30", { name: "pop", leaseMs: 30_000 }],
    ["pop --lease 0.5 --wait 10", {
      name: "pop",
      waitMs: 10_000,
      leaseMs: 500,
    }],
    ["pop --wait 1 --lease 3600", {
      name: "pop",
      waitMs: 1000,
      leaseMs: 3_600_000,
    }],
    ["ack r-1", { name: "ack", receipt: "r-1" }],
    ["release r-1", { name: "release", receipt: "r-1" }],
    ["extend r-1 2.5", { name: "extend", receipt: "r-1", leaseMs: 2500 }],
  ];
  for (const [line, command] of cases) {
    assert.deepEqual(parseCommand(line), { kind: "command", command }, line);
  }
});

Deno.test("parseCommand refuses a zero, missing or over-an-hour lease and a missing receipt", () => {
  const cases: [string, RegExp][] = [
    ["pop --lease", /^Missing value after "--lease"/],
    [
      "pop --lease 0",
      /^Invalid lease "0": expected a number of seconds above 0, at most 3600$/,
    ],
    ["pop --lease 0.0001", /^Invalid lease "0.0001"/],
    ["pop --lease 3601", /^Invalid lease "3601"/],
    ["peek --lease 1", /^Unexpected argument "--lease": "peek" takes none/],
    ["put A --lease 1", /^Too many words after "put"/],
    ["ack", /^Expected one receipt: usage is "ack RECEIPT"/],
    ["release a b", /^Expected one receipt: usage is "release RECEIPT"/],
    ["extend r", /^Expected a receipt and SECONDS/],
    ["extend r 0", /^Invalid lease "0"/],
  ];
  assertInvalid(cases);
});

Deno.test("parseLease accepts above 0 to 3600 seconds with decimals", () => {
  assert.equal(parseLease("0.001"), 1);
  assert.equal(parseLease("30"), 30_000);
  assert.equal(parseLease("3600"), 3_600_000);
  for (const bad of ["", "0", "0.0004", "-1", "3600.5", "1e3"]) {
    assert.throws(() => parseLease(bad), RangeError, bad);
  }
});
