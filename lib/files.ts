/**
 * Reading the small files named on a command line (certificates, keys,
 * tokens) with one-line errors that say which file and why.
 *
 * @module
 */

/**
 * Reads the text file at `path`; `what` names it in the error, as in
 * `Cannot read --tls-key "server.key": no such file`.
 *
 * @throws {Error} when the file cannot be read
 */
export async function readNamedFile(
  path: string,
  what: string,
): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error: unknown) {
    throw new Error(`Cannot read ${what} "${path}": ${why(error)}`);
  }
}

function why(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "no such file";
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory";
  if (
    error instanceof Deno.errors.PermissionDenied ||
    error instanceof Deno.errors.NotCapable
  ) {
    return "permission denied";
  }
  return error instanceof Error ? error.message : String(error);
}
