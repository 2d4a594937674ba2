/**
 * Where a command writes a file the user named. Under `deno task` fleettickets may write only
 * inside `./.data`, so a relative name is written there (and the message says so); any other
 * place is refused up front with what is allowed. Private to cli/.
 *
 * @module
 */

import { basename, dirname, extname, isAbsolute, relative, resolve } from "node:path";
import { pgliteLockFile } from "../adapters/pglite_database.ts";
import { allowedPath } from "../app/allowed_path.ts";
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
 * Refuses a folder, a place a link carries out of `./.data`, and a place inside an embedded
 * database's folder (the configured `database`, or any folder holding one) or onto its lock file
 * (before, `db export cp/PG_VERSION` wrote over the database's own file: it no longer opened).
 * Creates the parent folder.
 */
export async function outputPath(
  file: string,
  options: { database?: string; what?: string; extension?: string } = {},
): Promise<string> {
  const path = underOutputRoot(file);
  // The example named for a folder: the file's own extension, else what the command writes
  // (before: "export.sql" for the gazetteer's CSV sheet too).
  const extension = extname(file.replace(/[/\\]+$/, ""));
  const fallback = options.extension ?? ".sql";
  const example = `export${extension === "" || extension === ".lock" ? fallback : extension}`;
  if (/[/\\]$/.test(file) || (await Deno.stat(path).catch(() => undefined))?.isDirectory) {
    throw new UsageError(
      `Cannot write "${file}": it names a folder; name a file, such as "${
        file.replace(/[/\\]+$/, "") || "."
      }/${example}"`,
    );
  }
  if (
    !insideOutputRoot(path) &&
    Deno.permissions.querySync({ name: "write", path }).state !== "granted"
  ) {
    throw new UsageError(
      `Cannot write "${file}": fleettickets may write only under ./.data (the permission set in ` +
        `deno.json); give a relative name (it is written under .data/) or "-" for stdout`,
    );
  }
  // Through the real path: a link under .data must not carry the file elsewhere (before, db
  // export wrote through one and said it had written under .data).
  await allowedPath(path, "write", options.what ?? "the output file");
  await refuseInsideDatabase(file, path, options.database, example);
  await Deno.mkdir(dirname(path), { recursive: true }).catch((error) => {
    const fileInTheWay = error instanceof Deno.errors.AlreadyExists ||
      error instanceof Deno.errors.NotADirectory;
    const why = fileInTheWay
      ? "a part of it is a file"
      : error instanceof Error
      ? error.message.replace(/ \(os error \d+\).*$/, "").toLowerCase()
      : String(error);
    throw new UsageError(
      `Cannot write "${file}": its folder "${dirname(path)}" cannot be made (${why})`,
    );
  });
  return path;
}

/**
 * Refuses `path` when it is inside an embedded database's folder (`database`, made or not, or any
 * folder under ./.data holding one: a `PG_VERSION` file) or is such a folder's lock file.
 */
async function refuseInsideDatabase(
  file: string,
  path: string,
  database: string | undefined,
  example: string,
): Promise<void> {
  const real = async (p: string) => await Deno.realPath(p).catch(() => resolve(p));
  const target = resolve(await real(dirname(path)), basename(path));
  const root = await real(OUTPUT_ROOT);
  const refuse = (folder: string, lock: boolean) => {
    throw new UsageError(
      `Cannot write "${file}": it is ${lock ? "the lock file of" : "inside"} the embedded ` +
        `database's folder "${folder}", which it would damage; name a file outside it, such as ` +
        `".data/${example}"`,
    );
  };
  if (database !== undefined) {
    const folder = await real(database);
    const inside = relative(folder, target);
    if (target === resolve(await pgliteLockFile(database))) refuse(database, true);
    if (inside === "" || (!inside.startsWith("..") && !isAbsolute(inside))) refuse(database, false);
  }
  const holdsDatabase = (dir: string) =>
    Deno.stat(`${dir}/PG_VERSION`).then((s) => s.isFile, () => false);
  for (let dir = dirname(target); dir.startsWith(root + "/"); dir = dirname(dir)) {
    if (await holdsDatabase(dir)) refuse(relative(Deno.cwd(), dir), false);
  }
  if (target.endsWith(".lock") && await holdsDatabase(target.slice(0, -".lock".length))) {
    refuse(relative(Deno.cwd(), target.slice(0, -".lock".length)), true);
  }
}
