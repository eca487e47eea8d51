import assert from "node:assert/strict";
import { UsageError } from "./cli.ts";
import { explainTlsFailure, readClientTls, readServerTls } from "./tls.ts";

Deno.test("readServerTls wants both --tls-cert and --tls-key or neither", async () => {
  assert.equal(await readServerTls(undefined, undefined), undefined);
  await assert.rejects(readServerTls("cert.pem", undefined), UsageError);
  await assert.rejects(readServerTls(undefined, "key.pem"), UsageError);
  await assert.rejects(
    readServerTls("/no/such/cert.pem", "/no/such/key.pem"),
    /^Error: Cannot read --tls-cert "\/no\/such\/cert.pem": no such file$/,
  );
});

Deno.test("readClientTls: --ca implies TLS, --server-name needs it", async () => {
  assert.equal(await readClientTls({ tls: false }), undefined);
  assert.deepEqual(await readClientTls({ tls: true }), { caCerts: [] });
  assert.deepEqual(
    await readClientTls({ tls: true, serverName: "localhost" }),
    { caCerts: [], serverName: "localhost" },
  );
  await assert.rejects(
    readClientTls({ tls: false, serverName: "localhost" }),
    UsageError,
  );
  await assert.rejects(
    readClientTls({ tls: false, ca: "/no/such/ca.pem" }),
    /Cannot read --ca "\/no\/such\/ca.pem": no such file/,
  );
});

Deno.test("explainTlsFailure says what to do for rustls and Node-style errors", () => {
  const cases: [string, RegExp | undefined][] = [
    ["invalid peer certificate: UnknownIssuer", /not signed by a trusted CA/],
    ["unable to get local issuer certificate", /not signed by a trusted CA/],
    [
      'invalid peer certificate: certificate not valid for name "x"; certificate is only valid for DnsName("localhost")',
      /not valid for this host name \(it names DnsName\("localhost"\)\)/,
    ],
    [
      "Hostname/IP does not match certificate's altnames: Host: x. is not in the cert's altnames: DNS:localhost",
      /not valid for this host name \(it names DNS:localhost\)/,
    ],
    [
      "received corrupt message of type InvalidContentType",
      /does not speak TLS/,
    ],
    ["connect ECONNREFUSED 127.0.0.1:1", undefined],
  ];
  for (const [message, expected] of cases) {
    const explained = explainTlsFailure(message);
    if (expected === undefined) assert.equal(explained, undefined);
    else assert.match(explained ?? "", expected, message);
  }
});
