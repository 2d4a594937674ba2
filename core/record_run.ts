/**
 * The run record: one row in `tickets.runs` per applying run of a dataset, read by `status`.
 *
 * @module
 */

import type { DrainReport } from "./drain.ts";
import { isTransient } from "./is_transient.ts";
import type { Database } from "./ports/mod.ts";
import type { AfterApplyReport } from "./run_after_apply.ts";

const RUN_COLUMNS = `run_key, dataset, started_at, finished_at, status, reseed, source,
  files_applied, files_archived, totals, error, transient`;

/**
 * Both attempts insert the run under its key (drawn once per run), and whichever comes second
 * does nothing: the first attempt's row is there if its answer, not its write, was lost, even if
 * its server session outlived its connection and committed after the second attempt began
 * (migration 012; before, a check for the same dataset, start and end could miss that row).
 */
const INSERT_RUN = `
insert into tickets.runs (${RUN_COLUMNS})
values ($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::jsonb, $11, $12)
on conflict (run_key) do nothing`;

/** The wait before the second attempt, after a lost connection, ms. */
export const RECORD_RETRY_MS = 500;

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
  /**
   * The signal stopped the post-apply steps (after the files were applied): the run is recorded
   * as interrupted, naming the steps left to the next run.
   */
  afterApplyInterrupted?: AfterApplyReport["interrupted"];
}

/** The error stored for a run stopped by a signal during its post-apply steps. */
function afterApplyInterruptedError(stop: NonNullable<AfterApplyReport["interrupted"]>): string {
  return `${stop.reason} during the post-apply steps: the applied files are kept; ` +
    `${stop.left.join(", ")} left to the next run`;
}

/** The error stored for a run whose files are applied but some post-apply steps failed. */
export function afterApplyError(errors: readonly string[]): string {
  return `Post-apply steps failed (the next run does them again): ${errors.join("; ")}`;
}

/**
 * Stores a run record for an applying run; dry runs leave no trace, by design. A transient error
 * (a connection lost to a restart or failover, a statement timeout, too many connections) gets one
 * more attempt 0.5 s later, on a new connection if the old one is gone, under the same run key, so
 * the row is stored once whichever attempt's write lands (the first's answer may be what was
 * lost); a refusal is thrown at once, and so is any error of a run stopped by a signal (its grace
 * is short).
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
  const values = runValues(report, options);
  try {
    await db.query(INSERT_RUN, values);
  } catch (error) {
    if (options.interrupted || !isTransient(error)) throw error;
    await new Promise((resolve) => setTimeout(resolve, RECORD_RETRY_MS));
    await db.query(INSERT_RUN, values);
  }
}

/** The run record's values, in the order of RUN_COLUMNS. */
function runValues(report: DrainReport, options: RecordRunOptions): unknown[] {
  const redact = options.redact ?? ((text: string) => text);
  const stopped = options.interrupted &&
    (report.status === "failed" || options.afterApplyInterrupted !== undefined);
  return [
    crypto.randomUUID(),
    report.dataset,
    options.startedAt,
    options.finishedAt ?? new Date(),
    stopped ? "interrupted" : report.status,
    report.reseed,
    redact(report.source),
    report.files.filter((f) => f.status === "applied").length,
    report.files.filter((f) => f.status === "archived").length,
    JSON.stringify(report.totals),
    runError(report, options),
    // A stop during the post-apply steps: the next run does them (transient, as every stop).
    report.transient ?? (stopped ? true : null),
  ];
}

/** The run's error: the drain's, else the post-apply steps' stop and failures, else none. */
function runError(report: DrainReport, options: RecordRunOptions): string | null {
  const redact = options.redact ?? ((text: string) => text);
  if (report.error !== undefined) return redact(report.error);
  const said = [
    ...(options.afterApplyInterrupted
      ? [afterApplyInterruptedError(options.afterApplyInterrupted)]
      : []),
    ...(options.afterApplyErrors?.length ? [afterApplyError(options.afterApplyErrors)] : []),
  ];
  return said.length === 0 ? null : redact(said.join("; "));
}
