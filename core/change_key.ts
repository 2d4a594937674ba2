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
 */
export function parseChangeKey(key: string, prefix: string): ChangeKey | null {
  if (!key.startsWith(prefix)) return null;
  const fileName = key.slice(prefix.length);
  const exportedAt = parseChangeFileName(fileName);
  return exportedAt === null ? null : { key, fileName, exportedAt };
}
