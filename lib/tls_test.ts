import assert from "node:assert/strict";
import { explainTlsFailure } from "./tls.ts";

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
