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

/** Whether `path` is inside `./.data` (not the folder itself). */
function insideOutputRoot(path: string): boolean {
  const rel = relative(resolve(OUTPUT_ROOT), resolve(path));
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

/**
 * A relative output name outside `./.data` as the name under it (`feed` → `.data/feed`); any
 * other as given.
 */
export function underOutputRoot(name: string): string {
  const root = resolve(name) === resolve(OUTPUT_ROOT);
  return root || insideOutputRoot(name) || isAbsolute(name) ? name : `${OUTPUT_ROOT}/${name}`;
}

/**
 * Resolves an output file name: `review.csv` → `.data/review.csv`, `.data/x/review.csv` as is,
 * an absolute path only when it is inside `./.data` (or the process may write there anyway).
 * Creates the parent folder.
 */
export async function outputPath(file: string): Promise<string> {
  const path = underOutputRoot(file);
  if (
    !insideOutputRoot(path) &&
    Deno.permissions.querySync({ name: "write", path }).state !== "granted"
  ) {
    throw new UsageError(
      `Cannot write "${file}": fleettickets may write only under ./.data (the permission set in ` +
        `deno.json); give a relative name (it is written under .data/) or "-" for stdout`,
    );
  }
  await Deno.mkdir(dirname(path), { recursive: true });
  return path;
}
