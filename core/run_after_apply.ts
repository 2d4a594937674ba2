/**
 * A dataset's post-apply steps (geometry resolution, INC history capture), run after every
 * applying run whether or not a file was new, each in its own transaction: a failing step is
 * reported and never undoes applied files.
 *
 * @module
 */

import { capture } from "./capture.ts";
import type { Dataset } from "./datasets.ts";
import { resolveGeometry } from "./geocode.ts";
import type { Database } from "./ports/mod.ts";

/** Outcome of a dataset's post-apply steps. */
export interface AfterApplyReport {
  /** Tickets whose geometry changed (resolve_geometry). */
  geometryResolved?: number;
  /** History capture (INC). */
  capture?: unknown;
  /** Steps that failed, with why; applied files stay applied. */
  errors: string[];
  /** Wall time of all steps, ms. */
  durationMs: number;
}

/** Options for {@linkcode runAfterApply}. */
export interface RunAfterApplyOptions {
  /** Names of the files the run applied (their rows are re-resolved). */
  appliedFiles: readonly string[];
}

/**
 * Runs the dataset's post-apply steps in order. Never throws.
 *
 * @example Usage
 * ```ts ignore
 * import { createPgliteDatabase, INC, runAfterApply } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * const report = await runAfterApply(db, INC, { appliedFiles: ["2026-06-15T17-00-00.csv"] });
 * for (const error of report.errors) console.warn(error); // the applied files stay applied
 * await db.close();
 * ```
 */
export async function runAfterApply(
  db: Database,
  dataset: Dataset,
  options: RunAfterApplyOptions,
): Promise<AfterApplyReport> {
  const { appliedFiles } = options;
  const started = performance.now();
  const report: AfterApplyReport = { errors: [], durationMs: 0 };
  for (const step of dataset.afterApply) {
    try {
      if (step === "resolve_geometry") {
        // One statement per table: atomic on its own. Only rows written by this run's files can
        // have a new cluster or place; gazetteer changes re-resolve everything themselves.
        report.geometryResolved = await resolveGeometry(db, [dataset], { files: appliedFiles });
      } else if (step === "capture_history") {
        report.capture = await capture(db);
      }
    } catch (error) {
      report.errors.push(`${step}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  report.durationMs = Math.round(performance.now() - started);
  return report;
}
