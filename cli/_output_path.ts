/**
 * Where a command writes a file the user named. Under `deno task` fleettickets may write only
 * inside `./.data`, so a relative name is written there (and the message says so); any other
 * place is refused up front with what is allowed. Private to cli/.
 *
 * @module
 */

import { basename, dirname, isAbsolute, relative, resolve } from "node:path";
import { pgliteLockFile } from "../adapters/pglite_database.ts";
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
 * Refuses a folder, and a place inside the embedded database's folder `database` or its lock file
 * (before, `db export cp/PG_VERSION` wrote over the database's own file: it no longer opened).
 * Creates the parent folder.
 */
export async function outputPath(
  file: string,
  options: { database?: string } = {},
): Promise<string> {
  const path = underOutputRoot(file);
  if (/[/\\]$/.test(file) || (await Deno.stat(path).catch(() => undefined))?.isDirectory) {
    throw new UsageError(
      `Cannot write "${file}": it names a folder; name a file, such as "${
        file.replace(/[/\\]+$/, "") || "."
      }/export.sql"`,
    );
  }
  if (options.database !== undefined) await refuseInsideDatabase(file, path, options.database);
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

/** Refuses `path` when it is the embedded database's folder, inside it, or its lock file. */
async function refuseInsideDatabase(file: string, path: string, database: string): Promise<void> {
  const real = async (p: string) => await Deno.realPath(p).catch(() => resolve(p));
  const target = resolve(await real(dirname(path)), basename(path));
  const folder = await real(database);
  const inside = relative(folder, target);
  const lock = resolve(await pgliteLockFile(database));
  if (target === lock || inside === "" || (!inside.startsWith("..") && !isAbsolute(inside))) {
    throw new UsageError(
      `Cannot write "${file}": it is ${
        target === lock ? "the lock file of" : "inside"
      } the embedded database's folder "${database}" (PGLITE_DIR), which it would damage; ` +
        `name a file outside it, such as ".data/backup.sql"`,
    );
  }
}
