/**
 * The roster handshake: how a client's name is read from the first bytes it
 * sends.
 *
 * @module
 */
import { isValidName, NAME_RULE } from "./roster.ts";

/** The most bytes the server reads for a client's first line. */
export const HANDSHAKE_READ_BYTES = 64;

/** The outcome of a handshake: a valid name, or why there is none. */
export type Handshake = { name: string } | { error: string };

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const latin1 = new TextDecoder("latin1");

/**
 * Reads the client's name from its first read: the bytes up to "\n" without a
 * trailing "\r", or, when the read holds no "\n", all of it (as the seed's
 * Python client sends the bare name). Anything after the "\n" is ignored.
 */
export function parseHandshake(firstRead: Uint8Array): Handshake {
  let end = firstRead.indexOf(NEWLINE);
  if (end < 0) end = firstRead.length;
  else if (end > 0 && firstRead[end - 1] === CARRIAGE_RETURN) end--;
  // Latin-1 maps each byte to one character, so a non-ASCII byte stays
  // visible to the name check instead of merging into a UTF-8 character.
  const name = latin1.decode(firstRead.subarray(0, end));
  if (isValidName(name)) return { name };
  const shown = JSON.stringify(
    name.length > 24 ? name.slice(0, 24) + "..." : name,
  );
  return { error: `invalid name ${shown}: ${NAME_RULE}` };
}
