/**
 * `ingest`: drains change files (dry run unless `--apply`), then the post-apply steps and the run record.
 *
 * @module
 */

import type { Config } from "../app/config.ts";
import { openDatabase } from "../app/open_database.ts";
import { DatabaseLockedError } from "../adapters/pglite_database.ts";
import { type Dataset, DATASETS, getDataset } from "../core/datasets.ts";
import { ingest, type IngestReport } from "../core/ingest.ts";
import { type Context, parse, seconds, UsageError } from "./_context.ts";
import { openStore } from "./_open_store.ts";
import { formatDrainReport, formatProfile } from "./format_report.ts";
import { createLogger } from "./logger.ts";

/** Opens the database, waiting up to `waitMs` for another process's embedded-database lock. */
export async function openWaiting(config: Config, waitMs: number) {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await openDatabase(config, { requireMigrated: true });
    } catch (error) {
      if (!(error instanceof DatabaseLockedError) || Date.now() >= deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

/** Runs `ingest`; returns the exit code. */
export async function runIngest(context: Context, args: string[]): Promise<number> {
  const { config, io, redact, out } = context;
  const values = parse(args, {
    "from-bucket": { type: "boolean" },
    "from-dir": { type: "string" },
    csv: { type: "string" },
    apply: { type: "boolean" },
    reseed: { type: "boolean" },
    json: { type: "boolean" },
    dataset: { type: "string", default: "inc" },
    "wait-lock": { type: "string" },
    "log-format": { type: "string", default: "auto" },
    profile: { type: "boolean" },
  });
  const sources = ["from-bucket", "from-dir", "csv"].filter((s) => values[s] !== undefined);
  if (sources.length !== 1) {
    throw new UsageError("Choose exactly one source: --from-bucket, --from-dir DIR or --csv FILE");
  }
  const name = String(values.dataset);
  let datasets: Dataset[];
  try {
    datasets = name === "all" ? Object.values(DATASETS) : [getDataset(name)];
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const csv = values.csv as string | undefined;
  if (csv !== undefined && datasets.length !== 1) {
    throw new UsageError("--csv takes one dataset, not --dataset all");
  }
  const logFormat = String(values["log-format"]);
  if (!["auto", "text", "json"].includes(logFormat)) {
    throw new UsageError(`Cannot read --log-format "${logFormat}": expected auto, text or json`);
  }
  const waitLockMs = seconds(values["wait-lock"], "--wait-lock") * 1000;
  // On a terminal: a progress bar and a readable report. Otherwise (cron, Coolify, Docker):
  // one JSON object per line. --json: exactly one report object on stdout, logs on stderr.
  const format = logFormat === "auto" ? (io.terminal.stdout ? "text" : "json") : logFormat;
  const logger = createLogger({
    format: values.json ? "json" : format as "text" | "json",
    write: values.json || format === "text" ? io.stderr : io.stdout,
    redact,
    progressBar: format === "text" && !values.json && io.terminal.stderr,
  });

  const store = await openStore(config, values, datasets[0]!);
  const controller = new AbortController();
  let interrupted: string | undefined;
  const unsubscribe = io.onSignal((signal) => {
    interrupted = signal;
    controller.abort(
      new Error(`Interrupted by ${signal}: the current file was rolled back; rerun to continue`),
    );
  });
  let reports: IngestReport[];
  try {
    const db = await openWaiting(config, waitLockMs);
    try {
      reports = await ingest(store, db, {
        datasets,
        apply: values.apply === true,
        reseed: values.reseed === true,
        archive: csv === undefined,
        signal: controller.signal,
        waitLockMs,
        redact,
        onProgress: (event) => logger.progress(event),
        onDatasetDone: (report) => logger.runEnd(report),
        onWarning: (event, dataset, error) =>
          logger.log(event === "after_apply_failed" ? "error" : "warn", event, { dataset, error }),
      });
    } finally {
      await db.close();
    }
  } finally {
    unsubscribe();
  }
  if (values.json) out(JSON.stringify(reports.length === 1 ? reports[0] : { datasets: reports }));
  else if (format === "text") out(reports.map(formatDrainReport).join("\n"));
  // --profile: where each file's time went, on stderr (stdout keeps the report's form).
  if (values.profile) io.stderr(formatProfile(reports) + "\n");
  if (interrupted) {
    io.stderr(redact(`Interrupted by ${interrupted}: nothing half-done was kept or archived\n`));
    return 1;
  }
  return reports.some((r) => r.status === "failed") ? 1 : 0;
}
