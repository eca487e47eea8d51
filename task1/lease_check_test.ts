import assert from "node:assert/strict";
import { LeaseCheck } from "./lease_check.ts";
import { LeasesUnsupportedError } from "./queue_client.ts";

/** A send that records its name, and the names sent so far. */
function recorder() {
  const sent: string[] = [];
  const send = (name: string) => () => {
    sent.push(name);
    return Promise.resolve(name);
  };
  return { sent, send };
}

Deno.test("LeaseCheck holds every later send behind the first lease command's check, in order", async () => {
  const check = Promise.withResolvers<boolean>();
  let checks = 0;
  const leases = new LeaseCheck<string>(() => {
    checks++;
    return check.promise;
  });
  const { sent, send } = recorder();
  const before = leases.run(false, send("put"));
  const lease = leases.run(true, send("lease"));
  const after = [
    leases.run(false, send("size")),
    leases.run(true, send("ack")),
  ];
  assert.deepEqual(
    sent,
    ["put"],
    "nothing after the lease command goes before the check",
  );
  check.resolve(true);
  assert.deepEqual(await Promise.all([before, lease, ...after]), [
    "put",
    "lease",
    "size",
    "ack",
  ]);
  assert.deepEqual(sent, ["put", "lease", "size", "ack"]);
  await leases.run(true, send("release"));
  assert.equal(checks, 1, "checked once");
});

Deno.test("LeaseCheck fails lease commands against a server without leases and sends the others", async () => {
  const leases = new LeaseCheck<string>(() => Promise.resolve(false));
  const { sent, send } = recorder();
  const lease = leases.run(true, send("lease"));
  const size = leases.run(false, send("size"));
  await assert.rejects(lease, LeasesUnsupportedError);
  assert.equal(await size, "size");
  await assert.rejects(leases.run(true, send("ack")), LeasesUnsupportedError);
  assert.deepEqual(sent, ["size"]);
});

Deno.test("LeaseCheck reports a failed check on the lease command and checks again next time", async () => {
  let checks = 0;
  const leases = new LeaseCheck<string>(() =>
    ++checks === 1
      ? Promise.reject(new Error("UNAVAILABLE: down"))
      : Promise.resolve(true)
  );
  await assert.rejects(
    leases.run(true, () => Promise.resolve("lease")),
    /down/,
  );
  assert.equal(await leases.run(true, () => Promise.resolve("lease")), "lease");
  assert.equal(checks, 2);
});
