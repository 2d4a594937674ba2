/**
 * A dataset's post-apply steps (geometry resolution, INC history capture), run after every
 * applying run whether or not a file was new, each in its own transaction: a failing step is
 * reported and never undoes applied files, and the next run does what it left (both steps keep
 * marks in the ledger: `placed_at`, `captured_at`).
 *
 * @module
 */

import { capture } from "./capture.ts";
import type { Dataset } from "./datasets.ts";
import { resolveAppliedGeometry } from "./geocode.ts";
import type { Database } from "./ports/mod.ts";

/** Outcome of a dataset's post-apply steps. */
export interface AfterApplyReport {
  /** Tickets whose geometry changed (resolve_geometry). */
  geometryResolved?: number;
  /** History capture (INC). */
  capture?: unknown;
  /** Steps that failed, with why; applied files stay applied. */
  errors: string[];
  /**
   * Set when the run's signal stopped the steps: why (the signal's reason) and which steps are
   * left to the next run (the one it stopped and those not begun). Not an error of a step.
   */
  interrupted?: { reason: string; left: string[] };
  /** Wall time of all steps, ms. */
  durationMs: number;
  /** Wall time of each step run, ms, in order (`ingest --profile` prints them). */
  stepsMs?: Record<string, number>;
}

/**
 * Runs the dataset's post-apply steps in order; once `signal` is aborted, the steps not begun are
 * left to the next run. Then, on a database that needs it ({@linkcode Database.tidy}: the
 * embedded one) and when the run wrote rows (`rowsWritten`, its files' inserted and updated
 * tickets, plus those the geometry step placed), the `tidy` step. Never throws.
 *
 * @example Usage
 * ```ts ignore
 * import { createPgliteDatabase, INC, runAfterApply } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * const report = await runAfterApply(db, INC);
 * for (const error of report.errors) console.warn(error); // the applied files stay applied
 * await db.close();
 * ```
 */
export async function runAfterApply(
  db: Database,
  dataset: Dataset,
  signal?: AbortSignal,
  rowsWritten = 0,
): Promise<AfterApplyReport> {
  const started = performance.now();
  const report: AfterApplyReport = { errors: [], durationMs: 0 };
  for (const [i, step] of dataset.afterApply.entries()) {
    if (signal?.aborted) {
      report.interrupted = interruption(signal, dataset.afterApply.slice(i));
      break;
    }
    const stepStarted = performance.now();
    try {
      if (step === "resolve_geometry") {
        // Only rows written by applied files can have a new cluster or place (gazetteer changes
        // re-resolve everything themselves): the files not yet placed, this run's and any an
        // earlier run left (stopped after a commit, or this step failed), in one transaction.
        report.geometryResolved = await resolveAppliedGeometry(db, dataset);
      } else if (step === "capture_history") {
        report.capture = await capture(db);
      }
    } catch (error) {
      // Stopped by the signal (its statement cancelled): left to the next run, not failed (before:
      // "resolve_geometry: canceling statement due to user request", a cancel nobody asked for).
      if (signal?.aborted) {
        report.interrupted = interruption(signal, dataset.afterApply.slice(i));
        break;
      }
      report.errors.push(`${step}: ${error instanceof Error ? error.message : String(error)}`);
    }
    (report.stepsMs ??= {})[step] = Math.round(performance.now() - stepStarted);
  }
  const written = rowsWritten + (report.geometryResolved ?? 0);
  if (db.tidy !== undefined && written > 0 && !signal?.aborted) {
    await tidy(db, dataset, written, report);
  }
  report.durationMs = Math.round(performance.now() - started);
  return report;
}

/**
 * The tables a dataset's run writes, tidied after a run that wrote rows where the database does
 * not do it itself ({@linkcode Database.tidy}: the embedded database), the ticket table first.
 */
function writtenTables(dataset: Dataset): string[] {
  const capture = dataset.afterApply.includes("capture_history")
    ? ["tickets.closure_events", "tickets.inc_daily_snapshot"]
    : [];
  return [dataset.table, ...capture, "tickets.import_meta", "tickets.applied_files"];
}

/** The `tidy` step: a failure is reported as a failed step's; the run's files stay applied. */
async function tidy(
  db: Database,
  dataset: Dataset,
  written: number,
  report: AfterApplyReport,
): Promise<void> {
  const started = performance.now();
  try {
    await db.tidy!(writtenTables(dataset), written);
  } catch (error) {
    report.errors.push(`tidy: ${error instanceof Error ? error.message : String(error)}`);
  }
  (report.stepsMs ??= {}).tidy = Math.round(performance.now() - started);
}

/** Why the steps stopped, and the steps left. */
function interruption(signal: AbortSignal, left: readonly string[]) {
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
  return { reason, left: [...left] };
}
