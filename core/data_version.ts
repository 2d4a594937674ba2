/**
 * What the read API's caches are tied to: each dataset's watermark (newest applied change file)
 * and apply count, read from `tickets.import_meta` alone, before any ticket table is touched.
 *
 * @module
 */

import { parseChangeFileName } from "./change_key.ts";
import type { SqlSession } from "./ports/mod.ts";

/** One dataset's applied state. */
export interface DatasetVersion {
  /** `inc` or `crq`. */
  dataset: string;
  /** Newest applied change file (null before the first). */
  watermark: string | null;
  /** Files applied so far. */
  filesApplied: number;
  /** When a file was last applied, ISO 8601 (null before the first). */
  lastAppliedAt: string | null;
}

/** The applied state of every dataset, and a token that changes whenever any of it does. */
export interface DataVersion {
  /** Per dataset, by name. */
  datasets: DatasetVersion[];
  /** Opaque text: equal tokens mean no change file was applied in between. */
  token: string;
}

const SELECT = `
select dataset, watermark, files_applied::int as files_applied,
       tickets.eat_iso(last_applied_at) as last_applied_at,
       last_applied_at::text as applied_exact
from tickets.import_meta order by dataset`;

/** Reads the applied state of every dataset (one small query on `tickets.import_meta`). */
export async function readDataVersion(tx: SqlSession): Promise<DataVersion> {
  const rows = await tx.query<{
    dataset: string;
    watermark: string | null;
    files_applied: number;
    last_applied_at: string | null;
    applied_exact: string | null;
  }>(SELECT);
  const datasets = rows.map((r) => ({
    dataset: r.dataset,
    watermark: r.watermark,
    filesApplied: r.files_applied,
    lastAppliedAt: r.last_applied_at,
  }));
  return {
    datasets,
    token: rows.map((r) => `${r.dataset}:${r.watermark}:${r.files_applied}:${r.applied_exact}`)
      .join("|"),
  };
}

/**
 * The export time of the newest applied change file among `datasets` (all when omitted), ISO
 * 8601 in EAT like every time in the payloads; null when none was applied.
 */
export function dataAsOf(version: DataVersion, datasets?: readonly string[]): string | null {
  let newest: Date | null = null;
  for (const d of version.datasets) {
    if (datasets !== undefined && !datasets.includes(d.dataset)) continue;
    const at = d.watermark === null ? null : parseChangeFileName(d.watermark);
    if (at !== null && (newest === null || at > newest)) newest = at;
  }
  if (newest === null) return null;
  return new Date(newest.getTime() + 3 * 3600_000).toISOString().slice(0, 19) + "+03:00";
}
