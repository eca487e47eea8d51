/**
 * The churn figure's reference: the least a Deno process can spend sending
 * one line to each of N sockets. Listens on 127.0.0.1:0 (port on the first
 * stderr line), accepts N connections, then for each line on stdin writes
 * the same LENGTH-byte line to every connection and prints one line when
 * every write has completed. Usage: `fanout_writer.ts N LENGTH`.
 *
 * @module
 */
import { readLines } from "../lib/lines.ts";

const [count, length] = Deno.args.map(Number);
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.error(`fanout-writer listening on 127.0.0.1:${listener.addr.port}`);
const conns: Deno.TcpConn[] = [];
while (conns.length < count!) conns.push(await listener.accept());
const line = new Uint8Array(length!).fill(0x61);
line[length! - 1] = 0x0a;
for await (const _ of readLines(Deno.stdin.readable)) {
  await Promise.all(conns.map((conn) => conn.write(line)));
  console.log("sent");
}
