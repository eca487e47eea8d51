import assert from "node:assert/strict";
import { HeadDeadline } from "./head_deadline.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("HeadDeadline calls expired once the oldest command has waited the timeout plus its own wait", async () => {
  let expired = 0;
  const deadline = new HeadDeadline(30, () => 40, () => expired++);
  try {
    deadline.start(40);
    await sleep(40);
    assert.equal(expired, 0, "not before 70 ms");
    await sleep(80);
    assert.equal(expired, 1);
  } finally {
    deadline.stop();
  }
});

Deno.test("HeadDeadline gives each new oldest command a fresh clock, and nothing expires once none is left", async () => {
  let expired = 0;
  let head: number | undefined = 0;
  const deadline = new HeadDeadline(60, () => head, () => expired++);
  try {
    deadline.start(0);
    await sleep(40);
    deadline.start(0); // The next command became the oldest.
    await sleep(40);
    assert.equal(expired, 0, "the second command has had 40 of its 60 ms");
    head = undefined; // Every command answered.
    await sleep(80);
    assert.equal(expired, 0);
  } finally {
    deadline.stop();
  }
});
