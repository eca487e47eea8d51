import assert from "node:assert/strict";
import {
  LocalMembership,
  type MembershipChange,
  type MembershipListener,
} from "./membership.ts";

/** A listener that records every call as one line. */
function recorder(): { calls: string[]; listener: MembershipListener } {
  const calls: string[] = [];
  const decoder = new TextDecoder();
  return {
    calls,
    listener: {
      admit: (name) => calls.push(`admit ${name}`),
      change: ({ kind, name, online, line }: MembershipChange) =>
        calls.push(
          `${kind} ${name} ${online} ${JSON.stringify(decoder.decode(line))}`,
        ),
      evict: (name, reason) => calls.push(`evict ${name} ${reason}`),
    },
  };
}

Deno.test("local membership admits a name before announcing its join, then announces leaves", async () => {
  const membership = new LocalMembership();
  const { calls, listener } = recorder();
  membership.listen(listener);
  assert.equal(await membership.join("greg"), undefined);
  assert.equal(await membership.join("bob"), undefined);
  membership.leave("greg");
  assert.deepEqual(calls, [
    "admit greg",
    'join greg 1 "greg\\n"',
    "admit bob",
    'join bob 2 "bob greg\\n"',
    'leave greg 1 "bob\\n"',
  ]);
});

Deno.test("local membership refuses a name it holds without telling the listener", async () => {
  const membership = new LocalMembership();
  const { calls, listener } = recorder();
  membership.listen(listener);
  await membership.join("greg");
  assert.equal(
    await membership.join("greg"),
    'name "greg" is already connected',
  );
  membership.leave("nobody");
  assert.deepEqual(calls, ["admit greg", 'join greg 1 "greg\\n"']);
  await membership.close();
});

Deno.test("local membership says at once that a name it holds is taken, and frees it on leave", async () => {
  const membership = new LocalMembership();
  membership.listen(recorder().listener);
  assert.equal(membership.check("greg"), undefined);
  await membership.join("greg");
  assert.equal(membership.check("greg"), 'name "greg" is already connected');
  membership.leave("greg");
  assert.equal(membership.check("greg"), undefined);
});
