/**
 * Where a command writes a file the user named. Under `deno task` fleettickets may write only
 * inside `./.data`, so a relative name is written there (and the message says so); any other
 * place is refused up front with what is allowed. Private to cli/.
 *
 * @module
 */

import { dirname, isAbsolute, relative, resolve } from "node:path";
import { UsageError } from "./_context.ts";

/** The folder a relative output name is written under. */
export const OUTPUT_ROOT = ".data";

/**
 * Resolves an output file name: `review.csv` → `.data/review.csv`, `.data/x/review.csv` as is,
 * an absolute path only when it is inside `./.data` (or the process may write there anyway).
 * Creates the parent folder.
 */
export async function outputPath(file: string): Promise<string> {
  const root = resolve(OUTPUT_ROOT);
  const inside = (path: string) => {
    const rel = relative(root, resolve(path));
    return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
  };
  let path = file;
  if (!inside(file) && !isAbsolute(file)) path = `${OUTPUT_ROOT}/${file}`;
  if (!inside(path) && Deno.permissions.querySync({ name: "write", path }).state !== "granted") {
    throw new UsageError(
      `Cannot write "${file}": fleettickets may write only under ./.data (the permission set in ` +
        `deno.json); give a relative name (it is written under .data/) or "-" for stdout`,
    );
  }
  await Deno.mkdir(dirname(path), { recursive: true });
  return path;
}
