/**
 * Where a bucket holds CSV files when a dataset's prefix holds none: files uploaded under
 * another prefix (`inc/changes/`, `changes/`) would otherwise only read as "no new change files".
 *
 * @module
 */

import { type Dataset, DATASETS } from "./datasets.ts";
import type { ObjectStore } from "./ports/mod.ts";

/** Keys looked at: one listing request's worth, the first in key order. */
export const CSV_ELSEWHERE_KEYS = 1000;

/** Folders named at most. */
const FOLDERS_NAMED = 5;

/**
 * The folders (`inc/changes/`; `""` for the top level) holding CSV files that could be the
 * dataset's misplaced change files, among `keys`; none when the dataset's `processed/` prefix
 * holds files (its prefix is in use, nothing is misplaced). Another dataset's folders (a path
 * segment naming it, such as `automations/crq/processed/`) do not count.
 *
 * @example Usage
 * ```ts
 * import { csvFoldersElsewhere, INC } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const uploaded = ["inc/changes/2026-06-15T17-00-00.csv", "automations/crq/changes/x.csv"];
 * assert.deepEqual(csvFoldersElsewhere(uploaded, INC), ["inc/changes/"]);
 * const archived = ["automations/inc/processed/2026-06-15T17-00-00.csv", "changes/y.csv"];
 * assert.deepEqual(csvFoldersElsewhere(archived, INC), []);
 * ```
 */
export function csvFoldersElsewhere(keys: readonly string[], dataset: Dataset): string[] {
  const csv = keys.filter((key) => /\.csv$/i.test(key));
  if (csv.some((key) => key.startsWith(dataset.processedPrefix))) return [];
  const others = Object.values(DATASETS).filter((d) => d.name !== dataset.name).map((d) => d.name);
  const folders = new Set<string>();
  for (const key of csv) {
    if (key.startsWith(dataset.changesPrefix)) continue; // not elsewhere
    const folder = key.slice(0, key.lastIndexOf("/") + 1);
    const segments = folder.toLowerCase().split("/");
    if (others.some((name) => segments.includes(name))) continue;
    folders.add(folder);
  }
  return [...folders].slice(0, FOLDERS_NAMED);
}

/**
 * Looks once (one listing of the store's first {@linkcode CSV_ELSEWHERE_KEYS} keys) for
 * {@linkcode csvFoldersElsewhere}; `undefined` when there are none, when the store cannot list
 * outside a prefix (a folder source) or when the look failed (it is a hint: a key allowed only
 * `automations/` is refused).
 */
export async function findCsvElsewhere(
  store: ObjectStore,
  dataset: Dataset,
): Promise<string[] | undefined> {
  return (await lookElsewhere(store, dataset)).csvElsewhere;
}

/** What one look at a bucket whose prefix for a dataset is empty found. */
export interface Elsewhere {
  /** Folders holding CSV files ({@linkcode csvFoldersElsewhere}), when there are any. */
  csvElsewhere?: string[];
  /** The bucket holds no object at all: the wrong bucket, most likely. */
  bucketEmpty?: true;
}

/**
 * Looks once (one listing of the store's first {@linkcode CSV_ELSEWHERE_KEYS} keys) at the
 * whole bucket: CSV files under another prefix, or no object at all (a bucket of the same name
 * as the one meant, made by mistake). Nothing when the store cannot list outside a prefix (a
 * folder source) or the look failed (it is a hint: a key allowed only `automations/` is refused).
 */
export async function lookElsewhere(store: ObjectStore, dataset: Dataset): Promise<Elsewhere> {
  if (store.listAnywhere === undefined) return {};
  try {
    const keys = await store.listAnywhere(CSV_ELSEWHERE_KEYS);
    if (keys.length === 0) return { bucketEmpty: true };
    const folders = csvFoldersElsewhere(keys, dataset);
    return folders.length > 0 ? { csvElsewhere: folders } : {};
  } catch {
    return {};
  }
}

/**
 * The folders of {@linkcode csvFoldersElsewhere} as messages quote them: `"inc/changes/", ""
 * (the top level)`.
 *
 * @example Usage
 * ```ts
 * import { quoteCsvFolders } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(quoteCsvFolders(["inc/changes/", ""]), `"inc/changes/", "" (the top level)`);
 * ```
 */
export function quoteCsvFolders(folders: readonly string[]): string {
  return folders.map((f) => f === "" ? `"" (the top level)` : `"${f}"`).join(", ");
}
