/**
 * The loopback reference's sender: streams one reused 64 KiB buffer to
 * 127.0.0.1:PORT for MS milliseconds, then closes.
 *
 * @module
 */
const [port, ms] = Deno.args.map(Number);
const conn = await Deno.connect({ hostname: "127.0.0.1", port: port! });
const buffer = new Uint8Array(64 * 1024).fill(120);
const end = performance.now() + ms!;
while (performance.now() < end) await conn.write(buffer);
conn.close();
