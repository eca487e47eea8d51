import assert from "node:assert/strict";
import { UsageError } from "../cli.ts";
import {
  readClientTlsFlags,
  readServerSecurity,
  readServerTlsFlags,
} from "./security.ts";

const tokenFile = new URL("./testdata/token.txt", import.meta.url).pathname;

Deno.test("readServerTlsFlags wants both --tls-cert and --tls-key or neither", async () => {
  assert.equal(await readServerTlsFlags(undefined, undefined), undefined);
  await assert.rejects(readServerTlsFlags("cert.pem", undefined), UsageError);
  await assert.rejects(readServerTlsFlags(undefined, "key.pem"), UsageError);
  await assert.rejects(
    readServerTlsFlags("/no/such/cert.pem", "/no/such/key.pem"),
    /^Error: Cannot read --tls-cert "\/no\/such\/cert.pem": no such file$/,
  );
});

Deno.test("readClientTlsFlags: --ca implies TLS, --server-name needs it", async () => {
  assert.equal(await readClientTlsFlags({ tls: false }), undefined);
  assert.deepEqual(await readClientTlsFlags({ tls: true }), { caCerts: [] });
  assert.deepEqual(
    await readClientTlsFlags({ tls: true, serverName: "localhost" }),
    { caCerts: [], serverName: "localhost" },
  );
  await assert.rejects(
    readClientTlsFlags({ tls: false, serverName: "localhost" }),
    UsageError,
  );
  await assert.rejects(
    readClientTlsFlags({ tls: false, ca: "/no/such/ca.pem" }),
    /Cannot read --ca "\/no\/such\/ca.pem": no such file/,
  );
});

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
