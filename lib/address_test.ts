import assert from "node:assert/strict";
import {
  formatHostPort,
  isLoopback,
  parseHostPort,
  parsePort,
} from "./address.ts";

Deno.test("parsePort accepts 0 to 65535 and rejects anything else", () => {
  assert.equal(parsePort("0"), 0);
  assert.equal(parsePort("5555"), 5555);
  assert.equal(parsePort("65535"), 65535);
  for (const bad of ["", "-1", "65536", "1.5", "0x10", " 80", "80 ", "abc"]) {
    assert.throws(() => parsePort(bad), RangeError, bad);
  }
});

Deno.test("parseHostPort reads IPv4, host names and bracketed IPv6", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:5555"), {
    hostname: "127.0.0.1",
    port: 5555,
  });
  assert.deepEqual(parseHostPort("localhost:1"), {
    hostname: "localhost",
    port: 1,
  });
  assert.deepEqual(parseHostPort("[::1]:65535"), {
    hostname: "::1",
    port: 65535,
  });
});

Deno.test("parseHostPort explains what is wrong with a bad address", () => {
  const cases: [string, RegExp][] = [
    ["127.0.0.1", /missing port/],
    [":5555", /missing host/],
    ["::1:5555", /must be in brackets/],
    ["[nope]:5555", /invalid IPv6/],
    ["bad_host:5555", /invalid host/],
    ["127.0.0.1:0", /port must be/],
    ["127.0.0.1:70000", /port must be/],
    ["127.0.0.1:", /port must be/],
  ];
  for (const [text, why] of cases) {
    assert.throws(() => parseHostPort(text), (error: unknown) => {
      assert.ok(error instanceof RangeError);
      assert.match(error.message, why);
      assert.ok(error.message.includes(`"${text}"`));
      return true;
    });
  }
});

Deno.test("formatHostPort brackets IPv6 addresses only", () => {
  assert.equal(formatHostPort("127.0.0.1", 80), "127.0.0.1:80");
  assert.equal(formatHostPort("::", 80), "[::]:80");
});

Deno.test("isLoopback knows loopback addresses from every-interface ones", () => {
  for (
    const host of [
      "127.0.0.1",
      "127.1.2.3",
      "::1",
      "localhost",
      "::ffff:127.0.0.1",
    ]
  ) {
    assert.ok(isLoopback(host), host);
  }
  for (
    const host of ["0.0.0.0", "::", "10.0.0.1", "example.com", "128.0.0.1"]
  ) {
    assert.ok(!isLoopback(host), host);
  }
});
