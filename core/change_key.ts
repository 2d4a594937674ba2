/**
 * Change-file keys: `automations/<dataset>/changes/YYYY-MM-DDTHH-mm-ss.csv` (EAT).
 *
 * @module
 */

const FILE_NAME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})\.csv$/;

/** A key that is a change file, with its parts. */
export interface ChangeKey {
  /** The full object key. */
  key: string;
  /** The file name, e.g. `2026-06-15T17-00-00.csv`; sorts in time order. */
  fileName: string;
  /** The export time the name states (EAT, UTC+3). */
  exportedAt: Date;
}

/**
 * Parses a change-file name (`2026-06-15T17-00-00.csv`); null for anything else,
 * including impossible dates such as `2026-02-30T10-00-00.csv`.
 *
 * @example Usage
 * ```ts
 * import { parseChangeFileName } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * // The name is East Africa Time (UTC+3).
 * assert.equal(
 *   parseChangeFileName("2026-06-15T17-00-00.csv")?.toISOString(),
 *   "2026-06-15T14:00:00.000Z",
 * );
 * assert.equal(parseChangeFileName("2026-02-30T10-00-00.csv"), null);
 * assert.equal(parseChangeFileName("2026-06-15T17-00-00.csv.tmp"), null);
 * ```
 */
export function parseChangeFileName(fileName: string): Date | null {
  const m = FILE_NAME.exec(fileName);
  if (m === null) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(y, mo - 1, d, h - 3, mi, s));
  const check = new Date(date.getTime() + 3 * 3600_000);
  if (
    check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d ||
    h > 23 || mi > 59 || s > 59
  ) {
    return null;
  }
  return date;
}

/**
 * Parses a key directly under `prefix` whose name is a change-file name; null for any other
 * key (temp files, sub-folders, `processed/`), which is never ingested and never moved.
 *
 * @example Usage
 * ```ts
 * import { INC, parseChangeKey } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const prefix = INC.changesPrefix; // "automations/inc/changes/"
 * const change = parseChangeKey("automations/inc/changes/2026-06-15T17-00-00.csv", prefix);
 * assert.equal(change?.fileName, "2026-06-15T17-00-00.csv");
 * assert.equal(change?.exportedAt.toISOString(), "2026-06-15T14:00:00.000Z");
 *
 * assert.equal(parseChangeKey("automations/inc/changes/old/2026-06-15T17-00-00.csv", prefix), null);
 * assert.equal(parseChangeKey("automations/inc/processed/2026-06-15T17-00-00.csv", prefix), null);
 * ```
 */
export function parseChangeKey(key: string, prefix: string): ChangeKey | null {
  if (!key.startsWith(prefix)) return null;
  const fileName = key.slice(prefix.length);
  const exportedAt = parseChangeFileName(fileName);
  return exportedAt === null ? null : { key, fileName, exportedAt };
}

/**
 * Names the first `shown` of the keys that are not change files, quoted, and how many more
 * (the ingest report, `status` and `doctor` say it alike).
 *
 * @example Usage
 * ```ts
 * import { quoteIgnoredKeys } from "./change_key.ts";
 * import assert from "node:assert/strict";
 *
 * const keys = ["automations/inc/changes/export (1).csv", "automations/inc/changes/notes.txt"];
 * assert.equal(
 *   quoteIgnoredKeys(keys, 1),
 *   '"automations/inc/changes/export (1).csv" and 1 more',
 * );
 * ```
 */
export function quoteIgnoredKeys(keys: readonly string[], shown = 5): string {
  const more = keys.length - shown;
  return keys.slice(0, shown).map((key) => `"${key}"`).join(", ") +
    (more > 0 ? ` and ${more} more` : "");
}
