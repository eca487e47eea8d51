import assert from "node:assert/strict";
import { readServerSecurity } from "./security.ts";

const tokenFile = new URL("./testdata/token.txt", import.meta.url).pathname;

Deno.test("readServerSecurity warns about a token without TLS on a non-loopback address only", async () => {
  const open = await readServerSecurity({ "token-file": tokenFile }, "0.0.0.0");
  assert.ok(open.token !== undefined);
  assert.match(
    open.warning ?? "",
    /^warning: a token without TLS on 0\.0\.0\.0: the token crosses the network in clear text/,
  );
  for (const host of ["127.0.0.1", "::1", "localhost"]) {
    const local = await readServerSecurity({ "token-file": tokenFile }, host);
    assert.equal(local.warning, undefined, host);
  }
  const none = await readServerSecurity({}, "0.0.0.0");
  assert.deepEqual(none, {});
});
