import assert from "node:assert/strict";
import { MAX_CAPACITY, parseByteSize, parseCapacity } from "./server_main.ts";

Deno.test("parseCapacity accepts 1 to 2^32-1, the range of the uint32 size", () => {
  assert.equal(parseCapacity("1"), 1);
  assert.equal(parseCapacity("500"), 500);
  assert.equal(parseCapacity(String(MAX_CAPACITY)), MAX_CAPACITY);
  for (const bad of ["", "0", "-1", "1.5", "1e3", " 3", "4294967296", "x"]) {
    assert.throws(() => parseCapacity(bad), RangeError, bad);
  }
});

Deno.test("parseByteSize accepts whole bytes with an optional KiB, MiB, GiB or TiB and nothing else", () => {
  assert.equal(parseByteSize("1"), 1);
  assert.equal(parseByteSize("1073741824"), 1024 ** 3);
  assert.equal(parseByteSize("512MiB"), 512 * 1024 ** 2);
  assert.equal(parseByteSize("2GiB"), 2 * 1024 ** 3);
  assert.equal(parseByteSize("64KiB"), 65536);
  assert.equal(parseByteSize("10B"), 10);
  for (const bad of ["", "0", "0MiB", "1.5GiB", "2 GiB", "1e3", "12XB", "-1"]) {
    assert.throws(() => parseByteSize(bad), RangeError, bad);
  }
});
