/**
 * The run record: one row in `tickets.runs` per applying run of a dataset, read by `status`.
 *
 * @module
 */

import type { DrainReport } from "./drain.ts";
import type { Database } from "./ports/mod.ts";

const INSERT_RUN = `
insert into tickets.runs (
  dataset, started_at, finished_at, status, reseed, source, files_applied, files_archived,
  totals, error, transient
) values ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb, $10, $11)`;

/** Options for {@linkcode recordRun}. */
export interface RecordRunOptions {
  /** When the run started. */
  startedAt: Date;
  /** When it ended (default now). */
  finishedAt?: Date;
  /** Applied to the error text before it is stored. */
  redact?: (text: string) => string;
  /** The run was stopped by a signal. */
  interrupted?: boolean;
  /**
   * Post-apply steps that failed: stored as the run's error (its status stays what the drain
   * says: the files are applied), so `status` sees them.
   */
  afterApplyErrors?: readonly string[];
}

/** The error stored for a run whose files are applied but some post-apply steps failed. */
export function afterApplyError(errors: readonly string[]): string {
  return `Post-apply steps failed (the next run does them again): ${errors.join("; ")}`;
}

/**
 * Stores a run record for an applying run; dry runs leave no trace, by design.
 *
 * @example Usage
 * ```ts ignore
 * import { createDirObjectStore, createPgliteDatabase, drain, INC, recordRun } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * const startedAt = new Date();
 * const report = await drain(createDirObjectStore("bucket"), db, { dataset: INC, apply: true });
 * await recordRun(db, report, { startedAt }); // read back by `status`
 * await db.close();
 * ```
 */
export async function recordRun(
  db: Database,
  report: DrainReport,
  options: RecordRunOptions,
): Promise<void> {
  if (report.mode !== "apply") return;
  const redact = options.redact ?? ((text: string) => text);
  const status = options.interrupted && report.status === "failed" ? "interrupted" : report.status;
  await db.query(INSERT_RUN, [
    report.dataset,
    options.startedAt,
    options.finishedAt ?? new Date(),
    status,
    report.reseed,
    redact(report.source),
    report.files.filter((f) => f.status === "applied").length,
    report.files.filter((f) => f.status === "archived").length,
    JSON.stringify(report.totals),
    report.error !== undefined
      ? redact(report.error)
      : options.afterApplyErrors?.length
      ? redact(afterApplyError(options.afterApplyErrors))
      : null,
    report.transient ?? null,
  ]);
}
