/**
 * A dataset's `changes/` folder under `--from-dir`'s folder, and what is there: shared by
 * `ingest --from-dir` (which warns when it is not a folder) and `doctor --from-dir` (which checks
 * it). Private to cli/.
 *
 * @module
 */

import type { Dataset } from "../core/datasets.ts";

/**
 * A dataset's `changes/` folder under `--from-dir`'s folder as written, without doubling a slash
 * the folder ends with (not "feed//automations"; "/" stays "/").
 */
export function changesFolder(dir: unknown, dataset: Dataset): string {
  return `${folderRoot(dir)}/${dataset.changesPrefix}`.replace(/^\/\//, "/");
}

/** `--from-dir`'s folder as written, without the slashes it ends with ("/" stays "/"). */
export function folderRoot(dir: unknown): string {
  return String(dir).replace(/(?<=.)\/+$/, "");
}

/** What is at a dataset's `changes/` folder: a folder, nothing, a file, or what cannot be read. */
export async function changesFolderKind(
  dir: string,
  dataset: Dataset,
): Promise<"folder" | "none" | "file" | "unreadable"> {
  return await Deno.stat(changesFolder(dir, dataset)).then(
    (stat) => stat.isDirectory ? "folder" : "file",
    (error) => error instanceof Deno.errors.NotFound ? "none" : "unreadable",
  );
}

/** The words for a dataset whose `changes/` folder is not there. */
export function noChangesFolder(dir: string, dataset: Dataset): string {
  return `No folder "${changesFolder(dir, dataset)}": nothing to read for ` +
    `${dataset.name.toUpperCase()} (its change files go in DIR/${dataset.changesPrefix})`;
}
