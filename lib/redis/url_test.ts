import assert from "node:assert/strict";
import { describeUrl, parseRedisUrl } from "./url.ts";

Deno.test("describeUrl shows a Redis URL without its user and password, valid or not", () => {
  for (
    const [url, shown] of [
      ["redis://127.0.0.1:6379", "redis://127.0.0.1:6379"],
      ["redis://:hunter2@127.0.0.1:6379/2", "redis://127.0.0.1:6379/2"],
      ["rediss://user:hunter2@host:6380", "rediss://host:6380"],
      ["redis://:hunter2@127.0.0.1:99999", "redis://127.0.0.1:99999"],
      ["redis://:hun@ter2@127.0.0.1:99999", "redis://127.0.0.1:99999"],
      ["redis//:hunter2@127.0.0.1:1", "redis//127.0.0.1:1"],
      [":hunter2@127.0.0.1", "127.0.0.1"],
      ["not a url", "not a url"],
    ] as const
  ) {
    assert.equal(describeUrl(url), shown, url);
  }
});

Deno.test("parseRedisUrl refuses a URL that is not redis:// without showing its password", () => {
  assert.equal(parseRedisUrl("redis://:pw@host:1/0"), "redis://:pw@host:1/0");
  for (
    const url of [
      "redis://:hunter2@127.0.0.1:99999",
      "http://:hunter2@host:1",
      "redis://:hunter2@host:1/x",
    ]
  ) {
    assert.throws(
      () => parseRedisUrl(url),
      (error: Error) =>
        error instanceof RangeError &&
        /^Invalid Redis URL "/.test(error.message) &&
        !error.message.includes("hunter2"),
      url,
    );
  }
});
