/**
 * fleettickets command line: `migrate`, `ingest`, `demo`.
 *
 * Exit codes: 0 done (including nothing to do, or another run holds the lock), 1 a file or the
 * run failed, 2 usage or configuration error.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { type Config, ConfigError, configSecrets, loadConfig } from "../app/config.ts";
import { type Dataset, DATASETS, getDataset } from "../core/datasets.ts";
import { createDirObjectStore, digest } from "../adapters/dir_object_store.ts";
import { drain, type DrainReport } from "../core/drain.ts";
import { formatDrainReport } from "./format_report.ts";
import { migrate } from "../core/migrate.ts";
import { openDatabase, PendingMigrationsError } from "../app/open_database.ts";
import { DatabaseLockedError } from "../adapters/pglite_database.ts";
import type { Database, ObjectStore } from "../core/ports/mod.ts";
import { createRedactor } from "../app/redact.ts";
import { runDemo } from "./run_demo.ts";
import { createLogger } from "./logger.ts";
import { formatStatus, readStatus } from "../core/read_status.ts";
import { recordRun } from "../core/record_run.ts";
import { createGeocoder } from "../app/create_geocoder.ts";
import { exportGazetteer, importGazetteer } from "../core/gazetteer.ts";
import { geocode } from "../core/geocode.ts";
import { runAfterApply } from "../core/run_after_apply.ts";
import { capture, formatCaptureReport } from "../core/capture.ts";
import { buildReport, formatReport } from "../core/run_report.ts";

const USAGE = `Usage: fleettickets <command> [options]

Commands:
  migrate                          apply pending schema migrations
  ingest --from-bucket|--from-dir DIR|--csv FILE [--apply] [--reseed] [--json] [--dataset NAME]
                                   drain change files (dry run unless --apply)
  geocode --clusters|--locations [--apply] [--budget N] [--dataset inc|crq|all] [--retry-misses]
                                   look up places tickets need (dry run unless --apply)
  capture [--json]                 append new INC closures, upsert today's backlog snapshot
  report [--json]                  backlog by cluster with SLA split, oldest open, closures,
                                   backlog over time, freshness
  gazetteer export FILE.csv|-      the review sheet (place, lat, lon, source, verified, reason)
  gazetteer import FILE.csv        curated coordinates back in (stored as verified "manual")
  status [--json] [--max-age HOURS] [--from-bucket|--from-dir DIR]
                                   per dataset: watermark, pending files, last run, backlog, lag;
                                   exit 1 when stale or failing
  demo                             drain a generated stream into a fresh embedded database

Options:
  --from-bucket       read the bucket named by TICKETS_BUCKET (RUSTFS_* / AWS_* credentials)
  --from-dir DIR      read a folder that mirrors the bucket root (DIR/automations/inc/changes/)
  --csv FILE          apply one local change file (dev use; never moved)
  --apply             write to the database and archive applied files (default: dry run)
  --reseed            apply every change file present, ignoring the watermark and ledger
  --dataset NAME      ${Object.keys(DATASETS).join(", ")} or all (default inc)
  --json              print one machine-readable report on stdout
  --wait-lock SECS    wait up to SECS for another run's lock instead of skipping (default 0)
  --log-format F      auto (default: text on a terminal, JSON lines otherwise), text or json
  -h, --help          show this help`;

/** Where the CLI writes and what it reads; injected by tests. */
export interface MainIo {
  /** Environment lookup. */
  env: (name: string) => string | undefined;
  /** Writes to standard output (no newline added). */
  stdout: (text: string) => void;
  /** Writes to standard error (no newline added). */
  stderr: (text: string) => void;
  /** Whether standard output / error are terminals. */
  terminal: { stdout: boolean; stderr: boolean };
  /** Subscribes to SIGINT/SIGTERM; returns an unsubscribe function. */
  onSignal: (handler: (signal: string) => void) => () => void;
}

const encoder = new TextEncoder();

function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  for (let done = 0; done < bytes.length;) done += file.writeSync(bytes.subarray(done));
}

const defaultIo: MainIo = {
  env: (name) => Deno.env.get(name),
  stdout: (text) => writeAll(Deno.stdout, text),
  stderr: (text) => writeAll(Deno.stderr, text),
  terminal: { stdout: Deno.stdout.isTerminal(), stderr: Deno.stderr.isTerminal() },
  onSignal(handler) {
    const signals = ["SIGINT", "SIGTERM"] as const;
    const listeners = signals.map((signal) => {
      const listener = () => handler(signal);
      Deno.addSignalListener(signal, listener);
      return [signal, listener] as const;
    });
    return () => {
      for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    };
  },
};

class UsageError extends Error {}

interface Context {
  config: Config;
  io: MainIo;
  redact: (text: string) => string;
  out: (text: string) => void;
}

/** Runs the CLI and returns the process exit code. */
export async function main(args: string[], io: MainIo = defaultIo): Promise<number> {
  let redact = (text: string) => text;
  const out = (text: string) => io.stdout(redact(text) + "\n");
  const err = (text: string) => io.stderr(redact(text) + "\n");
  try {
    const [command, ...rest] = args;
    if (command === undefined || command === "-h" || command === "--help") {
      out(USAGE);
      return command === undefined ? 2 : 0;
    }
    const config = loadConfig(io.env);
    redact = createRedactor(configSecrets(config));
    const context: Context = { config, io, redact, out };
    switch (command) {
      case "migrate":
        return await runMigrate(config, out);
      case "ingest":
        return await runIngest(context, rest);
      case "status":
        return await runStatus(context, rest);
      case "geocode":
        return await runGeocode(context, rest);
      case "capture":
        return await runCapture(context, rest);
      case "report":
        return await runReport(context, rest);
      case "gazetteer":
        return await runGazetteer(context, rest);
      case "demo":
        return await runDemo({ out });
      default:
        throw new UsageError(`Unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      err(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof PendingMigrationsError) {
      err(error.message);
      return 2;
    }
    if (error instanceof DatabaseLockedError) {
      out(error.message);
      return 0;
    }
    err(`fleettickets: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

type Flags = Record<string, string | boolean | undefined>;

function parse(args: string[], options: ParseArgsConfig["options"]): Flags {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as Flags;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function seconds(value: string | boolean | undefined, flag: string): number {
  if (value === undefined) return 0;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) {
    throw new UsageError(`Cannot read ${flag} "${value}": expected a number of seconds or hours`);
  }
  return n;
}

async function runMigrate(config: Config, out: (text: string) => void): Promise<number> {
  const db = await openDatabase(config);
  try {
    const status = await migrate(db);
    out(
      status.pending.length === 0
        ? `Schema is up to date (${status.applied.length} migrations)`
        : `Applied ${status.pending.length} migration(s): ${status.pending.join(", ")}`,
    );
    return 0;
  } finally {
    await db.close();
  }
}

/** Opens the database, waiting up to `waitMs` for another process's embedded-database lock. */
async function openWaiting(config: Config, waitMs: number) {
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

async function runIngest(context: Context, args: string[]): Promise<number> {
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
  const reports: DrainReport[] = [];
  try {
    const db = await openWaiting(config, waitLockMs);
    try {
      for (const dataset of datasets) {
        const startedAt = new Date();
        const report = await drain(store, db, {
          dataset,
          apply: values.apply === true,
          reseed: values.reseed === true,
          archive: csv === undefined,
          signal: controller.signal,
          waitLockMs,
          onProgress: (event) => logger.progress(event),
        });
        reports.push(report);
        if (report.mode === "apply" && report.status !== "locked") {
          report.afterApply = await runAfterApply(db, dataset, {
            appliedFiles: report.files.filter((f) => f.status === "applied").map((f) => f.fileName),
          });
          for (const error of report.afterApply.errors) {
            logger.log("error", "after_apply_failed", { dataset: dataset.name, error });
          }
        }
        logger.runEnd(report);
        await recordRun(db, report, { startedAt, redact, interrupted: interrupted !== undefined })
          .catch((error) =>
            logger.log("warn", "run_record_failed", { dataset: dataset.name, error: String(error) })
          );
        if (interrupted) break;
      }
    } finally {
      await db.close();
    }
  } finally {
    unsubscribe();
  }
  if (values.json) out(JSON.stringify(reports.length === 1 ? reports[0] : { datasets: reports }));
  else if (format === "text") out(reports.map(formatDrainReport).join("\n"));
  if (interrupted) {
    io.stderr(redact(`Interrupted by ${interrupted}: nothing half-done was kept or archived\n`));
    return 1;
  }
  return reports.some((r) => r.status === "failed") ? 1 : 0;
}

async function runGeocode(context: Context, args: string[]): Promise<number> {
  const { config, io, out } = context;
  const values = parse(args, {
    clusters: { type: "boolean" },
    locations: { type: "boolean" },
    apply: { type: "boolean" },
    budget: { type: "string" },
    dataset: { type: "string", default: "all" },
    "retry-misses": { type: "boolean" },
    json: { type: "boolean" },
  });
  if (!values.clusters === !values.locations) {
    throw new UsageError("Choose one of --clusters or --locations");
  }
  const name = String(values.dataset);
  let datasets: Dataset[];
  try {
    datasets = name === "all" ? Object.values(DATASETS) : [getDataset(name)];
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const budget = values.budget === undefined
    ? config.geocoder.budget
    : seconds(values.budget, "--budget");
  const geocoder = createGeocoder(config.geocoder);
  if (values.apply && geocoder === undefined) {
    throw new ConfigError(
      `Cannot geocode with --apply: set GEOCODER_API_KEY for "${config.geocoder.provider}"`,
    );
  }
  const controller = new AbortController();
  const unsubscribe = io.onSignal(() => controller.abort());
  const db = await openDatabase(config, { requireMigrated: true });
  try {
    const report = await geocode(db, geocoder, {
      mode: values.clusters ? "clusters" : "locations",
      apply: values.apply === true,
      budget,
      datasets,
      retryMisses: values["retry-misses"] === true,
      signal: controller.signal,
    });
    if (values.json) out(JSON.stringify(report));
    else {
      out(
        `${report.mode}: ${report.places} distinct places for ${report.tickets} tickets; ` +
          `${report.cached} cached, ${report.toLookUp} to look up` +
          (report.waitingForCluster
            ? `, ${report.waitingForCluster} waiting for a cluster centroid`
            : "") +
          (report.apply
            ? `; ${report.calls} calls to ${report.provider}: ${report.hits} hits, ${report.misses} misses, ` +
              `${report.rejected} rejected; ${report.resolved} tickets re-resolved`
            : " (dry run: --apply looks them up)") +
          (report.stoppedBy ? `; stopped by ${report.stoppedBy}` : "") +
          (report.error ? `\n  ${report.error}` : ""),
      );
    }
    return report.stoppedBy === "provider" || report.stoppedBy === "signal" ? 1 : 0;
  } finally {
    unsubscribe();
    await db.close();
  }
}

async function runCapture(context: Context, args: string[]): Promise<number> {
  return await printFromDatabase(context, args, capture, formatCaptureReport);
}

async function runReport(context: Context, args: string[]): Promise<number> {
  return await printFromDatabase(context, args, buildReport, formatReport);
}

/** Computes one result on the migrated database and prints it as text, or JSON with --json. */
async function printFromDatabase<T>(
  context: Context,
  args: string[],
  compute: (db: Database) => Promise<T>,
  format: (result: T) => string,
): Promise<number> {
  const { config, out } = context;
  const values = parse(args, { json: { type: "boolean" } });
  const db = await openDatabase(config, { requireMigrated: true });
  try {
    const result = await compute(db);
    out(values.json ? JSON.stringify(result) : format(result));
    return 0;
  } finally {
    await db.close();
  }
}

async function runGazetteer(context: Context, args: string[]): Promise<number> {
  const { config, io, out } = context;
  const [action, file, ...extra] = args;
  if ((action !== "export" && action !== "import") || file === undefined || extra.length > 0) {
    throw new UsageError("Use: gazetteer export FILE.csv|- or gazetteer import FILE.csv");
  }
  const db = await openDatabase(config, { requireMigrated: true });
  try {
    if (action === "export") {
      const csv = await exportGazetteer(db);
      if (file === "-") io.stdout(csv);
      else {
        await Deno.writeTextFile(file, csv);
        out(`Wrote ${csv.split("\n").length - 2} gazetteer entries to ${file}`);
      }
      return 0;
    }
    const report = await importGazetteer(db, await Deno.readTextFile(file));
    for (const e of report.errors) out(`${file}: line ${e.line} ${e.reason}`);
    out(
      report.errors.length > 0
        ? `Imported nothing: fix the ${report.errors.length} row(s) above and import again`
        : `Imported ${report.updated} curated entries (${report.skipped} unchanged or without coordinates); ` +
          `${report.resolved} tickets re-resolved`,
    );
    return report.errors.length > 0 ? 1 : 0;
  } finally {
    await db.close();
  }
}

async function runStatus(context: Context, args: string[]): Promise<number> {
  const { config, out } = context;
  const values = parse(args, {
    json: { type: "boolean" },
    "max-age": { type: "string", default: "2" },
    "from-bucket": { type: "boolean" },
    "from-dir": { type: "string" },
  });
  const maxAgeHours = seconds(values["max-age"], "--max-age");
  let store: ObjectStore | undefined;
  if (values["from-dir"] !== undefined || values["from-bucket"] !== undefined) {
    store = await openStore(config, values, DATASETS.inc!);
  }
  const db = await openDatabase(config, { requireMigrated: true });
  try {
    const status = await readStatus(db, { store, maxAgeHours });
    out(values.json ? JSON.stringify(status) : formatStatus(status));
    return status.healthy ? 0 : 1;
  } finally {
    await db.close();
  }
}

async function openStore(
  config: Config,
  values: Record<string, unknown>,
  dataset: Dataset,
): Promise<ObjectStore> {
  if (values["from-dir"] !== undefined) return createDirObjectStore(String(values["from-dir"]));
  if (values.csv !== undefined) return createSingleFileStore(String(values.csv), dataset);
  const { accessKeyId, secretAccessKey } = config.s3;
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new ConfigError(
      "Cannot read the bucket: set RUSTFS_ACCESS_KEY and RUSTFS_SECRET_KEY " +
        "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
    );
  }
  // Loaded on demand: the AWS SDK is large, and folder and file runs do not need it.
  const { createS3ObjectStore } = await import("../adapters/s3_object_store.ts");
  return createS3ObjectStore({ ...config.s3, accessKeyId, secretAccessKey });
}

// A local file presented as the only object under the dataset's changes prefix.
function createSingleFileStore(path: string, dataset: Dataset): ObjectStore {
  const fileName = path.slice(path.lastIndexOf("/") + 1);
  const key = dataset.changesPrefix + fileName;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.csv$/.test(fileName)) {
    throw new UsageError(
      `Cannot tell when "${path}" was exported: name it YYYY-MM-DDTHH-mm-ss.csv (EAT)`,
    );
  }
  return {
    description: `file:${path}`,
    async list() {
      return [{ key, ...await digest(path) }];
    },
    async read() {
      return (await Deno.open(path)).readable;
    },
    move: () => Promise.resolve(),
  };
}
