import assert from "node:assert/strict";
import { Roster } from "./roster.ts";

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("roster keeps names in code-point order as they join and leave", () => {
  const roster = new Roster();
  for (const name of ["greg", "bob", "vlad", "Zed", "alice", "10", "9"]) {
    assert.ok(roster.add(name));
  }
  assert.deepEqual(roster.names, [
    "10",
    "9",
    "Zed",
    "alice",
    "bob",
    "greg",
    "vlad",
  ]);
  assert.ok(roster.remove("bob"));
  assert.ok(roster.remove("10"));
  assert.deepEqual(roster.names, ["9", "Zed", "alice", "greg", "vlad"]);
  assert.equal(roster.size, 5);
});

Deno.test("roster refuses a name twice and removing an absent name", () => {
  const roster = new Roster();
  assert.ok(roster.add("bob"));
  assert.equal(roster.add("bob"), false);
  assert.ok(roster.has("bob"));
  assert.equal(roster.remove("greg"), false);
  assert.ok(roster.remove("bob"));
  assert.equal(roster.has("bob"), false);
  assert.equal(roster.size, 0);
});

Deno.test("roster line is the names joined by spaces with a newline", () => {
  const roster = new Roster();
  assert.equal(decode(roster.line()), "\n");
  roster.add("greg");
  assert.equal(decode(roster.line()), "greg\n");
  roster.add("bob");
  roster.add("vlad");
  assert.equal(decode(roster.line()), "bob greg vlad\n");
});

Deno.test("roster line is encoded once per change, not once per read", () => {
  const roster = new Roster();
  roster.add("bob");
  const line = roster.line();
  assert.equal(roster.line(), line);
  roster.add("greg");
  assert.notEqual(roster.line(), line);
});

Deno.test("roster matches Python's sorted() on a shuffled set of names", () => {
  const names = Array.from({ length: 500 }, (_, i) => (i * 7919).toString(36));
  const roster = new Roster();
  for (const name of names) roster.add(name);
  const expected = [...new Set(names)].sort((a, b) => (a < b ? -1 : 1));
  assert.deepEqual(roster.names, expected);
});
