/**
 * The ingest use case: for each dataset, drain the change files, run the dataset's post-apply
 * steps after an applying run, and record the run. The CLI, the demo and the bench all call this.
 *
 * @module
 */

import type { Dataset } from "./datasets.ts";
import { drain, type DrainProgress, type DrainReport } from "./drain.ts";
import type { Database, ObjectStore } from "./ports/mod.ts";
import { beginRun, recordRun } from "./record_run.ts";
import { type AfterApplyReport, runAfterApply } from "./run_after_apply.ts";

/** One dataset's drain report, with what its post-apply steps did. */
export interface IngestReport extends DrainReport {
  /** What the dataset's post-apply steps did (applying runs that were not locked out). */
  afterApply?: AfterApplyReport;
  /**
   * Why the run record could not be written (a read-only role, a full disk). `status` cannot
   * see such a run, so the run fails (exit 1) instead of passing silently.
   */
  recordError?: string;
}

/** Options for {@linkcode ingest}. */
export interface IngestOptions {
  /** Datasets, drained in this order. */
  datasets: readonly Dataset[];
  /** Write (true) or only plan (false, the default). */
  apply?: boolean;
  /** Apply every change file present, whatever the watermark and ledger say. */
  reseed?: boolean;
  /** Move applied files to `processed/` (default true). */
  archive?: boolean;
  /**
   * Stops the run: the statement running on the server is cancelled at once (PostgreSQL), else
   * the run stops between batches and files; the current file rolls back, the post-apply steps
   * not begun are left to the next run, the run is recorded as interrupted and later datasets
   * are skipped.
   */
  signal?: AbortSignal;
  /** Waits this long for another run's lock instead of skipping (default 0). */
  waitLockMs?: number;
  /** How long a folder's file must have been still before it is applied (drain.ts; default 0). */
  settleMs?: number;
  /** Applied to error text stored in the run record. */
  redact?: (text: string) => string;
  /** Progress events of the drain. */
  onProgress?: (event: DrainProgress) => void;
  /** Called when a dataset is done (report complete, before its run record is written). */
  onDatasetDone?: (report: IngestReport) => void;
  /** Called when a step that does not fail the run fails (post-apply step, run record). */
  onWarning?: (
    event: "after_apply_failed" | "run_record_failed",
    dataset: string,
    error: string,
  ) => void;
}

/**
 * Drains each dataset, runs its post-apply steps and records the run; one report per dataset.
 *
 * @example Usage
 * ```ts ignore
 * import {
 *   createDirObjectStore,
 *   createPgliteDatabase,
 *   DATASETS,
 *   ingest,
 *   migrate,
 * } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * await migrate(db);
 * const reports = await ingest(createDirObjectStore("bucket"), db, {
 *   datasets: Object.values(DATASETS),
 *   apply: true,
 *   signal: AbortSignal.timeout(10 * 60_000),
 *   onWarning: (event, dataset, error) => console.warn(event, dataset, error),
 * });
 * for (const r of reports) console.log(r.dataset, r.status, r.totals, r.afterApply?.errors);
 * await db.close();
 * ```
 */
export async function ingest(
  store: ObjectStore,
  db: Database,
  options: IngestOptions,
): Promise<IngestReport[]> {
  const reports: IngestReport[] = [];
  for (const dataset of options.datasets) {
    const run = { startedAt: new Date(), runKey: crypto.randomUUID() };
    const report = await cancellingStatements(
      db,
      options.signal,
      () => drainDataset(store, db, dataset, run, options),
    );
    reports.push(report);
    options.onDatasetDone?.(report);
    const interrupted = options.signal?.aborted === true;
    await recordOrWarn(db, report, dataset.name, { ...run, interrupted }, options);
    if (interrupted) break;
  }
  return reports;
}

/**
 * Runs `fn` with the signal cancelling the statement running on the server. A statement does not
 * see the signal, and a large file's merge runs for tens of seconds: cancelled, it rolls back at
 * once, the drain lets go of the run's lock and the run is recorded (by `ingest`, after this)
 * well within the signal's grace.
 */
async function cancellingStatements<T>(
  db: Database,
  signal: AbortSignal | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const cancel = () => void db.cancel?.();
  signal?.addEventListener("abort", cancel, { once: true });
  try {
    return await fn();
  } finally {
    signal?.removeEventListener("abort", cancel);
  }
}

/**
 * Drains one dataset, then runs its post-apply steps after an applying run neither locked out nor
 * refused its writes before it applied a file.
 */
async function drainDataset(
  store: ObjectStore,
  db: Database,
  dataset: Dataset,
  run: { startedAt: Date; runKey: string },
  options: IngestOptions,
): Promise<IngestReport> {
  const report: IngestReport = await drain(store, db, {
    dataset,
    apply: options.apply === true,
    reseed: options.reseed === true,
    archive: options.archive,
    signal: options.signal,
    waitLockMs: options.waitLockMs,
    settleMs: options.settleMs,
    onProgress: options.onProgress,
    onLocked: (begun) => beginRunQuietly(db, begun, run, options.redact),
  });
  if (
    report.mode === "apply" && report.status !== "locked" && !refusedBeforeApplying(report) &&
    !await databaseGone(db, report, options.signal)
  ) {
    const written = report.totals.inserted + report.totals.updated;
    report.afterApply = await runAfterApply(db, dataset, options.signal, written);
    // A run the signal stopped during its files says so itself (its error): the steps it left
    // are named only for a run whose files all went through.
    if (report.status !== "ok") delete report.afterApply.interrupted;
    for (const error of report.afterApply.errors) {
      options.onWarning?.("after_apply_failed", dataset.name, error);
    }
  }
  return report;
}

/**
 * Whether a failed run's database no longer answers (the connection lost and not back, refused,
 * given up on as frozen): each post-apply step would fail the same way and say so again (before:
 * two `after_apply_failed` lines repeating the run's error), so they are left to the next run,
 * which finds the files they have not seen by their marks. Asked with one `select 1`.
 */
async function databaseGone(
  db: Database,
  report: DrainReport,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  if (report.status !== "failed" || signal?.aborted) return false;
  return await db.query("select 1").then(() => false, () => true);
}

/**
 * Begins the run's record (status `running`) once it holds the lock. A failure does not stop the
 * run: the record at its end writes the whole row, and says why if it cannot either (a role that
 * may not write `tickets.runs` is refused both).
 */
async function beginRunQuietly(
  db: Database,
  report: DrainReport,
  run: { startedAt: Date; runKey: string },
  redact: ((text: string) => string) | undefined,
): Promise<void> {
  await beginRun(db, {
    runKey: run.runKey,
    dataset: report.dataset,
    startedAt: run.startedAt,
    reseed: report.reseed,
    source: (redact ?? ((text: string) => text))(report.source),
  }).then(() => void runsBegun.add(report), () => {});
}

/** The runs whose `running` row was written: `status` sees such a run, as died if it ends there. */
const runsBegun = new WeakSet<DrainReport>();

/**
 * Records the run in `tickets.runs`. A failure does not throw: it is kept on the report as
 * `recordError` (the run then fails) and warned of, unless the database refused the run its writes
 * before it applied a file: its error says so already, with the fix.
 */
async function recordOrWarn(
  db: Database,
  report: IngestReport,
  dataset: string,
  run: { startedAt: Date; runKey: string; interrupted: boolean },
  options: IngestOptions,
): Promise<void> {
  await recordRun(db, report, {
    runKey: run.runKey,
    startedAt: run.startedAt,
    redact: options.redact,
    interrupted: run.interrupted,
    afterApplyErrors: report.afterApply?.errors,
    afterApplyInterrupted: report.afterApply?.interrupted,
  })
    .catch((error) => {
      const message = error instanceof Error ? error.message : String(error);
      // Its `running` row stays (a connection lost at the end): status reports it as died.
      report.recordError = runsBegun.has(report)
        ? `Cannot record the end of the run in tickets.runs: ${message}; status will report ` +
          `the run as died`
        : `Cannot record the run in tickets.runs: ${message}; status cannot see this run`;
      if (!refusedBeforeApplying(report)) {
        options.onWarning?.("run_record_failed", dataset, report.recordError);
      }
    });
}

/**
 * The database refused the run a write before it applied any file (a reader's DATABASE_URL): its
 * post-apply steps and its record would be refused alike. A run refused after applying files (a
 * failover to a standby, one missing grant) still places and captures what it applied.
 */
function refusedBeforeApplying(report: DrainReport): boolean {
  return report.writeRefused === true && !report.files.some((f) => f.status === "applied");
}
