/**
 * `ingest`: drains change files (dry run unless `--apply`), then the post-apply steps and the run record.
 *
 * @module
 */

import { changesFolder, changesFolderKind, noChangesFolder } from "./_changes_folder.ts";
import { type Config, ConfigError } from "../app/config.ts";
import {
  NoEmbeddedDatabaseError,
  openDatabase,
  PendingMigrationsError,
} from "../app/open_database.ts";
import { PathNotAllowedError } from "../app/allowed_path.ts";
import { emptyCounts, readWatermark } from "../core/drain.ts";
import { parseChangeKey } from "../core/change_key.ts";
import { isTransient } from "../core/is_transient.ts";
import { type Dataset, DATASETS } from "../core/datasets.ts";
import type { Database, ObjectStore } from "../core/ports/mod.ts";
import { DatabaseLockedError, describeEmbedded } from "../adapters/pglite_database.ts";
import { besideServe, serveOfTheDemo, servesTheDemo } from "./_held_by_serve.ts";
import { describePostgres } from "../adapters/postgres_database.ts";
import { addCounts, type FileReport } from "../core/drain_report.ts";
import { ingest, type IngestReport } from "../core/ingest.ts";
import { SchemaRefusedError } from "../core/migrate.ts";
import { recordRun } from "../core/record_run.ts";
import {
  amount,
  type Context,
  datasetsFlag,
  type Flags,
  type MainIo,
  namingCommand,
  parse,
  SourceError,
  UsageError,
} from "./_context.ts";
import { describeSource, openStore } from "./_open_store.ts";
import { watchStopSignals } from "./_stop_signals.ts";
import { within } from "./_within.ts";
import { formatDrainReport, formatProfile } from "./format_report.ts";
import { isPermissionError } from "./_permission_message.ts";
import { createLogger, type Logger } from "./logger.ts";

/** Opens the database, waiting up to `waitMs` for another process's embedded-database lock. */
export async function openWaiting(
  config: Config,
  waitMs: number,
  signal?: AbortSignal,
  writesNothing = false,
  onWait?: () => void,
) {
  const deadline = Date.now() + waitMs;
  for (let waited = false;; waited = true) {
    try {
      return await openDatabase(config, { requireMigrated: true, signal, writesNothing });
    } catch (error) {
      // A serve never lets go while it runs: waiting for it only delays the same answer.
      if (!(error instanceof DatabaseLockedError) || error.heldByServe) throw error;
      if (Date.now() >= deadline) throw error;
      if (!waited) onWait?.();
      signal?.throwIfAborted();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      signal?.throwIfAborted();
    }
  }
}

/** `ingest`'s flags. */
const FLAGS = {
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
} as const;

/**
 * Where the run's lines go: on a terminal, a progress bar and a readable report; otherwise
 * (cron, Coolify, Docker) one JSON object per line. --json: one report object on stdout, logs on
 * stderr.
 */
function logFormatOf(values: Record<string, unknown>, io: MainIo): "text" | "json" {
  const logFormat = String(values["log-format"]);
  if (logFormat === "text" || logFormat === "json") return logFormat;
  if (logFormat !== "auto") {
    throw new UsageError(`Cannot read --log-format "${logFormat}": expected auto, text or json`);
  }
  return io.terminal.stdout ? "text" : "json";
}

function runLogger(
  values: Record<string, unknown>,
  format: "text" | "json",
  io: MainIo,
  redact: (text: string) => string,
) {
  return createLogger({
    format: values.json ? "json" : format,
    write: values.json || format === "text" ? io.stderr : io.stdout,
    redact,
    progressBar: format === "text" && !values.json && io.terminal.stderr,
  });
}

/**
 * A warning `main` says before the run (`.env` not loaded): in the run's log form, a JSON line
 * under cron as every other line of the run (before: one plain line among them, a tester's), the
 * text on a terminal and with `--json` (its logs go to stderr). Flags it cannot read: the text
 * (the run then says what is wrong with them).
 */
export function warnBeforeIngest(io: MainIo, args: string[], event: string, text: string): void {
  let values: Flags;
  let format: "text" | "json";
  try {
    values = parse(args, FLAGS);
    format = logFormatOf(values, io);
  } catch {
    return io.stderr(text);
  }
  if (format === "text" || values.json) return io.stderr(text);
  runLogger(values, format, io, (line) => line).log("warn", event, {
    error: text.trim().replace(/^Warning: /, ""),
  });
}

/**
 * `ingest` when the configuration cannot be read (an environment variable, before any flag is
 * read): the refusal in the form of any refused run, a JSON `run` line per dataset under cron
 * and one document with `--json`; on a terminal the one line `main` prints. Exit 2.
 */
export function refuseIngest(io: MainIo, args: string[], error: ConfigError): number {
  const values = parse(args, FLAGS);
  const format = logFormatOf(values, io);
  const startedAt = new Date();
  const reports = datasetsFlag(values.dataset).map((d) =>
    reportBeforeDrain(d, values, error, (text) => text, startedAt)
  );
  const logger = runLogger(values, format, io, (text) => text);
  for (const report of reports) logger.runEnd(report);
  if (values.json) io.stdout(reportDocument(values, reports) + "\n");
  else if (format === "text") throw error;
  return 2;
}

/** `--json`'s one document: the report of one dataset, `{"datasets": […]}` for `--dataset all`. */
function reportDocument(values: Record<string, unknown>, reports: IngestReport[]): string {
  return JSON.stringify(values.dataset === "all" ? { datasets: reports } : reports[0]);
}

/** One `ingest` run: its flags, read before anything is opened, and where its lines go. */
interface IngestRun {
  context: Context;
  values: Flags;
  datasets: Dataset[];
  csv: string | undefined;
  format: "text" | "json";
  waitLockMs: number;
  logger: Logger;
  startedAt: Date;
  /**
   * The datasets the default `--dataset inc` leaves out (none when `--dataset` or `--csv` is
   * given): their waiting change files are named after the run.
   */
  leftOut: Dataset[];
  /**
   * What the run finished so far: the reports of the datasets done and the files of the one under
   * way, for the report a signal prints without waiting ({@linkcode tellEndedWithoutWaiting}).
   */
  soFar: { reports: IngestReport[]; files: FileReport[] };
  /**
   * --json: one JSON document on stdout whatever happens after the flags were read (the lock
   * of the embedded database, pending migrations, a missing source, no connection).
   */
  print: (reports: IngestReport[]) => void;
}

/** Runs `ingest`; returns the exit code. */
export async function runIngest(context: Context, args: string[]): Promise<number> {
  const run = readIngestRun(context, args);
  const { values, datasets } = run;
  let store: ObjectStore;
  try {
    store = await openStore(context.config, values, datasets[0]!);
  } catch (error) {
    return await refuseSource(run, error);
  }
  if (values["from-dir"] !== undefined) {
    await warnMissingChanges(String(values["from-dir"]), datasets, (dataset, text) => {
      // Under cron a JSON line, as the rest of the log (before: one plain line in every run of
      // the wrapper, which drains both datasets, on a folder without CRQ's).
      if (run.format === "json" || values.json) {
        run.logger.log("warn", "no_changes_folder", { dataset, error: text });
      } else context.io.stderr(context.redact(`${text}\n`));
    });
  }
  const interruption = watchStopSignals(context.io, {
    redact: context.redact,
    // The drain says what the stop left (a file rolled back, nothing applied while it waited).
    reason: (signal) => new Error(`Interrupted by ${signal}`),
    tell: (message) => tellEndedWithoutWaiting(run, message, store),
  });
  let reports: IngestReport[];
  try {
    let db: Database;
    try {
      db = await openForRun(run, interruption.signal);
    } catch (error) {
      // Interrupted while connecting: on a terminal `main` says so, as for any interrupted run;
      // under cron (and with --json) it is the run's JSON line, as every other refusal (before:
      // the one plain text line of the cron log).
      if (interruption.by !== undefined && !values.json && run.format !== "json") throw error;
      return refuseDatabase(run, error, store);
    }
    try {
      reports = await drainDatasets(run, store, db, interruption.signal);
    } finally {
      // Interrupted: a statement still under way is not waited for (the server rolls back what
      // it had not committed), so the report comes well within the grace.
      await db.close(interruption.by === undefined ? undefined : 1);
    }
  } finally {
    interruption.stop();
  }
  const code = finishRun(run, reports, interruption.by, store.description);
  // After a run that went well only: a failure, or a skip for the lock, stays the last line.
  const wentWell = code === 0 && reports.every((r) => r.status === "ok");
  if (wentWell && interruption.by === undefined) await noteLeftOut(run, store);
  return code;
}

/** Reads `ingest`'s flags (a usage error for a wrong combination) and makes the run's logger. */
function readIngestRun(given: Context, args: string[]): IngestRun {
  const values = parse(args, FLAGS);
  const sources = ["from-bucket", "from-dir", "csv"].filter((s) => values[s] !== undefined);
  if (sources.length !== 1) {
    throw new UsageError("Choose exactly one source: --from-bucket, --from-dir DIR or --csv FILE");
  }
  const datasets = datasetsFlag(values.dataset);
  const csv = values.csv as string | undefined;
  if (csv !== undefined && datasets.length !== 1) {
    throw new UsageError("--csv takes one dataset, not --dataset all");
  }
  const context = csv === undefined ? given : namingCsvFile(given, datasets[0]!, csv);
  const { io, redact, out } = context;
  const format = logFormatOf(values, io);
  const waitLockMs = amount(values["wait-lock"], "--wait-lock", "seconds") * 1000;
  const logger = runLogger(values, format, io, redact);
  const print = (reports: IngestReport[]) => out(reportDocument(values, reports));
  const startedAt = new Date();
  const chosen = csv !== undefined || args.some((a) => /^--dataset(=|$)/.test(a));
  const leftOut = chosen ? [] : Object.values(DATASETS).filter((d) => !datasets.includes(d));
  const soFar = { reports: [], files: [] };
  return {
    context,
    values,
    datasets,
    csv,
    format,
    waitLockMs,
    logger,
    startedAt,
    leftOut,
    soFar,
    print,
  };
}

/**
 * A `--csv` file is drained as the only object under the dataset's changes prefix
 * (`automations/inc/changes/NAME.csv`): every line the run prints names the file as the user
 * gave it instead. A path JSON would escape, or one holding that key, keeps the key.
 */
function namingCsvFile(context: Context, dataset: Dataset, path: string): Context {
  const key = dataset.changesPrefix + path.slice(path.lastIndexOf("/") + 1);
  if (path.includes(key) || JSON.stringify(path) !== `"${path}"`) return context;
  const rename = (text: string) => text.replaceAll(key, path);
  return {
    ...context,
    redact: (text) => rename(context.redact(text)),
    out: (text) => context.out(rename(text)),
    io: {
      ...context.io,
      stdout: (text) => context.io.stdout(rename(text)),
      stderr: (text) => context.io.stderr(rename(text)),
    },
  };
}

/** `ingest` when its source cannot be opened; returns the exit code or throws for `main`. */
async function refuseSource(run: IngestRun, error: unknown): Promise<number> {
  const { context: { config, redact }, values, logger } = run;
  const reports = run.datasets.map((d) =>
    reportBeforeDrain(d, values, error, redact, run.startedAt, describeSource(config, values))
  );
  // A usage error is the command line's, not a run's. Any other refusal (no folder, no bucket,
  // no credentials) fails every scheduled run alike: an applying run from the bucket or a
  // folder records it for `status`, and the refusal is logged as the `run` line of any run.
  const usage = error instanceof UsageError;
  if (!usage && values.apply === true && run.csv === undefined) {
    const recordError = await recordRefusedRuns(config, reports, run.startedAt, redact);
    if (recordError !== undefined) {
      for (const report of reports) report.recordError = recordError;
    }
  }
  for (const report of usage ? [] : reports) {
    logger.runEnd(report);
    if (report.recordError !== undefined) {
      logger.log("warn", "run_record_failed", {
        dataset: report.dataset,
        error: report.recordError,
      });
    }
  }
  if (values.json) run.print(reports);
  // In text the refusal is the one line `main` prints (with its usage hint, for a usage error).
  else if (run.format !== "json" || usage) throw error;
  return exitCodeBeforeDrain(error);
}

/** Opens the run's database, waiting for the embedded one's lock as `--wait-lock` allows. */
async function openForRun(run: IngestRun, signal: AbortSignal): Promise<Database> {
  const { config, io } = run.context;
  const db = await openWaiting(
    config,
    run.waitLockMs,
    signal,
    run.values.apply !== true,
    () => tellDatabaseWait(run),
  );
  if (db.ephemeral) {
    io.stderr(
      `No embedded database in "${config.pgliteDir}" yet: planning against an empty one in memory (nothing is written; --apply makes it)\n`,
    );
  }
  await tellServeOfTheDemo(run);
  return db;
}

/**
 * An applying run into the default embedded folder while a serve shows the demo's database: the
 * page will not show what the run applies until serve starts again (before: nothing said so, and
 * the page's banner said no ingest could run beside it; a newcomer's).
 */
async function tellServeOfTheDemo(run: IngestRun): Promise<void> {
  const { context: { config, io }, values, logger } = run;
  if (values.apply !== true) return;
  const holder = await serveOfTheDemo(config);
  if (holder === undefined) return;
  if (run.format === "json" || values.json) {
    logger.log("warn", "serve_shows_demo", { pid: holder.pid, database: config.pgliteDir });
  } else io.stderr(`Note: ${servesTheDemo(holder, config.pgliteDir)}\n`);
}

/**
 * `--wait-lock` on an embedded database another process holds: said once, as `status` says it
 * and as a wait for a dataset's lock on PostgreSQL is (before: silence for up to the whole wait).
 */
function tellDatabaseWait(run: IngestRun): void {
  const { context: { config, io }, waitLockMs } = run;
  const waitS = Math.ceil(waitLockMs / 1000);
  if (run.format === "json" || run.values.json) {
    run.logger.log("info", "database_wait", { waitS, database: config.pgliteDir });
    return;
  }
  io.stderr(
    `Waiting up to ${waitS} s for the process that holds the embedded database ` +
      `"${config.pgliteDir}" (another run, or a running "deno task serve")\n`,
  );
}

/** `ingest` when the database refused the run; returns the exit code or throws for `main`. */
function refuseDatabase(run: IngestRun, error: unknown, store: ObjectStore): number {
  const { values } = run;
  // Refused by the database (unreachable, pending migrations, the embedded one held by
  // another process): the `run` line of any run, `locked` for a held embedded database.
  const database = databaseNamed(run.context.config);
  const reports = run.datasets.map((d) => ({
    ...reportBeforeDrain(d, values, error, run.context.redact, run.startedAt, store.description),
    database, // as every report names it (before: not on one refused before the drain)
  }));
  for (const report of reports) run.logger.runEnd(report);
  if (values.json) run.print(reports);
  else if (run.format !== "json") {
    // On a terminal, the one line `main` prints for a failure; a held database is a skip,
    // unless a running serve holds it: that is no run to wait for, and nothing will apply.
    if (!(error instanceof DatabaseLockedError) || error.heldByServe) throw error;
    run.context.out(reports[0]!.error!);
  }
  return exitCodeBeforeDrain(error);
}

/**
 * The database a run would have used, as a drained run's report names it (the adapters'
 * `description`), without opening it.
 */
function databaseNamed(config: Config): string {
  return config.databaseUrl === undefined
    ? describeEmbedded(config.pgliteDir)
    : describePostgres(config.databaseUrl);
}

/** Drains the run's datasets from the store into the database, logging as it goes. */
function drainDatasets(
  run: IngestRun,
  store: ObjectStore,
  db: Database,
  signal: AbortSignal,
): Promise<IngestReport[]> {
  const { values, logger } = run;
  return ingest(store, db, {
    datasets: run.datasets,
    apply: values.apply === true,
    reseed: values.reseed === true,
    archive: run.csv === undefined,
    signal,
    waitLockMs: run.waitLockMs,
    settleMs: run.context.config.folderSettleMs,
    redact: run.context.redact,
    onProgress: (event) => {
      if (event.type === "file_end") run.soFar.files.push(event.file);
      logger.progress(event);
    },
    onDatasetDone: (report) => {
      run.soFar = { reports: [...run.soFar.reports, report], files: [] };
      logger.runEnd(report);
    },
    onWarning: (event, dataset, error) =>
      logger.log(event === "after_apply_failed" ? "error" : "warn", event, { dataset, error }),
  });
}

/**
 * Prints the drained run's report; returns 1 if it was interrupted or anything failed, 2 if a
 * dataset failed because the role may not write (a setting to fix, as a refused password is),
 * else 0.
 */
function finishRun(
  run: IngestRun,
  reports: IngestReport[],
  interrupted: string | undefined,
  source: string,
): number {
  const { context: { io, out }, values } = run;
  const unbegun = interrupted === undefined ? [] : notBegun(run, reports, interrupted, source);
  if (values.json) run.print([...reports, ...unbegun]);
  else if (run.format === "text") out(reports.map(formatDrainReport).join("\n"));
  // --profile: where each file's time went, on stderr (stdout keeps the report's form).
  if (values.profile) io.stderr(formatProfile(reports) + "\n");
  if (interrupted) {
    tellInterrupted(run, interruptedLine(interrupted, reports) + notBegunWords(unbegun));
    return 1;
  }
  const failed = (r: IngestReport) =>
    r.status === "failed" || r.recordError !== undefined || (r.afterApply?.errors.length ?? 0) > 0;
  if (reports.some((r) => r.status === "failed" && r.writeRefused === true)) return 2;
  return reports.some(failed) ? 1 : 0;
}

/**
 * How an interrupted run ends: a line on stderr, or under cron (the JSON log on stdout, no
 * --json) one more JSON line, so that a log taking both streams holds only JSON lines.
 */
function tellInterrupted(run: IngestRun, message: string): void {
  const { context: { io, redact } } = run;
  // A JSON line wherever the log is JSON (before: plain text with --json, among JSON lines).
  if (run.format === "json") {
    run.logger.log("warn", "interrupted", { error: message });
  } else io.stderr(redact(`${message}\n`));
}

/**
 * A run ended without waiting for its step (the grace passed, or a second signal): the line, and
 * with --json its one document still (before: stdout stayed empty). The datasets done keep their
 * reports; the one under way is failed, with the files it had finished; any after it, failed.
 */
function tellEndedWithoutWaiting(run: IngestRun, message: string, store: ObjectStore): void {
  tellInterrupted(run, message);
  if (!run.values.json) return;
  const { context: { config, redact }, values, startedAt, soFar } = run;
  const error = new Error(
    `${message}: what it had not committed is rolled back; files applied before are kept`,
  );
  const database = databaseNamed(config);
  const rest = run.datasets.slice(soFar.reports.length).map((d, i): IngestReport => {
    const report = reportBeforeDrain(d, values, error, redact, startedAt, store.description);
    const files = i === 0 ? soFar.files : [];
    for (const { status, counts } of files) {
      if (status === "applied" && counts) addCounts(report.totals, counts);
    }
    return { ...report, database, files };
  });
  run.print([...soFar.reports, ...rest]);
}

/**
 * What an interrupted run kept: the files that had committed before the signal was acted on
 * (the embedded database acts on it only between its steps), never a half-applied one.
 */
function interruptedLine(signal: string, reports: readonly IngestReport[]): string {
  const kept = reports.flatMap((r) => r.files).filter((f) => f.status === "applied").length;
  return kept === 0
    ? `Interrupted by ${signal}: nothing half-done was kept or archived${leftSteps(reports)}`
    : `Interrupted by ${signal} after ${kept} file(s) had been applied: those are kept ` +
      `(committed); nothing half-done was kept${leftSteps(reports)}`;
}

/**
 * The datasets a signal stopped the run before (`--dataset all` stopped during INC): failed and
 * transient, nothing of them read. Before, the report held INC alone, as if CRQ was not asked for.
 */
function notBegun(
  run: IngestRun,
  reports: readonly IngestReport[],
  signal: string,
  source: string,
): IngestReport[] {
  const { context: { config, redact }, values, startedAt } = run;
  return run.datasets.slice(reports.length).map((d) => {
    const error = new Error(
      `Interrupted by ${signal} before ${d.name.toUpperCase()} began: nothing of it was read; ` +
        "the next run drains it",
    );
    const report = reportBeforeDrain(d, values, error, redact, startedAt, source);
    // Nothing of it ran: no time of its own, and its watermark not read (null).
    return { ...report, transient: true, database: databaseNamed(config), durationMs: 0 };
  });
}

/** The interrupted line's words for the datasets not begun. */
function notBegunWords(unbegun: readonly IngestReport[]): string {
  if (unbegun.length === 0) return "";
  const names = unbegun.map((r) => r.dataset.toUpperCase()).join(" and ");
  return `; ${names} not begun: the next run drains ${unbegun.length === 1 ? "it" : "them"}`;
}

/** The post-apply steps the signal left to the next run, said after the interrupted line. */
function leftSteps(reports: readonly IngestReport[]): string {
  const left = reports.flatMap((r) => r.afterApply?.interrupted?.left ?? []);
  return left.length === 0 ? "" : `; the post-apply steps ${[...new Set(left)].join(", ")} ` +
    "are left to the next run";
}

/**
 * The default drains INC alone: CRQ change files waiting in their folder would stay there
 * unsaid, as if the run had missed them. Named on stderr (a log line under cron) after a run that
 * went well (a failure stays the last line); a listing that fails or takes over
 * {@linkcode LEFT_OUT_WAIT_MS} says nothing.
 */
async function noteLeftOut(run: IngestRun, store: ObjectStore): Promise<void> {
  for (const dataset of run.leftOut) {
    const waiting = await countWaiting(run, store, dataset);
    if (waiting === 0) continue;
    const dir = run.values["from-dir"];
    const where = dir === undefined
      ? `the bucket's "${dataset.changesPrefix}"`
      : `"${changesFolder(dir, dataset)}"`;
    const error = `${waiting} ${dataset.name.toUpperCase()} change file(s) wait in ${where}: ` +
      `this run reads ${run.datasets.map((d) => d.name.toUpperCase()).join(" and ")} only ` +
      `(the default); --dataset ${dataset.name} or --dataset all drains them`;
    if (run.format === "json" || run.values.json) {
      run.logger.log("warn", "not_drained", { dataset: dataset.name, files: waiting, error });
    } else run.context.io.stderr(run.context.redact(`${error}\n`));
  }
}

/** Longest wait for the listing of a dataset the run left out (an S3 server that stalls). */
const LEFT_OUT_WAIT_MS = 3000;

/**
 * How many change files wait for `dataset`: names only (a folder's listing would read every file
 * for its ETag); 0 if the listing fails or is slow.
 */
async function countWaiting(run: IngestRun, store: ObjectStore, dataset: Dataset): Promise<number> {
  const prefix = dataset.changesPrefix;
  const dir = run.values["from-dir"];
  const listing = dir === undefined
    ? store.list(prefix).then((objects) => objects.map((o) => o.key))
    : Array.fromAsync(Deno.readDir(changesFolder(dir, dataset)), (e) => prefix + e.name);
  const keys = await within(LEFT_OUT_WAIT_MS, "The listing", listing).catch(() => []);
  return keys.filter((key) => parseChangeKey(key, prefix) !== null).length;
}

/**
 * A folder source without a dataset's `changes/` folder (files put one level up, or a name in
 * the wrong case) has nothing to drain for it: say where files go, rather than only "no new
 * change files".
 */
async function warnMissingChanges(
  dir: string,
  datasets: readonly Dataset[],
  say: (dataset: string, text: string) => void,
): Promise<void> {
  for (const dataset of datasets) {
    if (await changesFolderKind(dir, dataset) !== "folder") {
      say(dataset.name, noChangesFolder(dir, dataset));
    }
  }
}

/**
 * Records runs refused before the drain as failed in `tickets.runs`; returns why they could not
 * be recorded, if so. An embedded folder without a database has nothing to record into (and no
 * `status` to read it), so nothing is said; one is not made for it.
 */
async function recordRefusedRuns(
  config: Config,
  reports: readonly IngestReport[],
  startedAt: Date,
  redact: (text: string) => string,
): Promise<string | undefined> {
  let db: Database;
  try {
    db = await openDatabase(config, { requireMigrated: true, existing: true });
  } catch (error) {
    if (error instanceof NoEmbeddedDatabaseError) return undefined;
    return redact(
      `Cannot record the run in tickets.runs: ${messageOf(error)}; status cannot see this run`,
    );
  }
  try {
    for (const report of reports) {
      // Where the refused run would have written, and how far its dataset stands there.
      report.database = db.description;
      const dataset = DATASETS[report.dataset];
      if (dataset !== undefined) report.watermark = await readWatermark(db, dataset);
      await recordRun(db, report, { startedAt, redact });
    }
  } catch (error) {
    return redact(
      `Cannot record the run in tickets.runs: ${messageOf(error)}; status cannot see this run`,
    );
  } finally {
    await db.close();
  }
  return undefined;
}

const messageOf = (error: unknown) => error instanceof Error ? error.message : String(error);

/**
 * The report of a dataset that never reached the drain: `locked` when another process has the
 * embedded database, else `failed` with the error (what `--json` prints, what the `run` log line
 * says and what is recorded for a refused source).
 */
function reportBeforeDrain(
  dataset: Dataset,
  values: Record<string, unknown>,
  error: unknown,
  redact: (text: string) => string,
  startedAt: Date,
  source = "",
): IngestReport {
  const held = error instanceof DatabaseLockedError ? error : undefined;
  // A scheduled ingest that finds the embedded database held by another run has nothing to do
  // (exit 0). Held by a running serve, it never will: a failure (before: a skip, exit 0, every
  // run, while the files waited: a tester's).
  const locked = held !== undefined && !held.heldByServe;
  const message = redact(
    held?.heldByServe
      ? `${held.message}, and keeps it until stopped: ingest cannot run beside it (the ` +
        `embedded database takes one process at a time); nothing was applied; ` +
        besideServe("ingest", held)
      : locked
      ? `${held.message} (another run, or a running "deno task serve": the embedded database takes one process at a time); nothing was applied`
      // Worded as on stderr (cli/main.ts): a schema refusal names the command.
      : namingCommand(messageOf(error), "ingest"),
  );
  return {
    dataset: dataset.name,
    mode: values.apply === true ? "apply" : "dry-run",
    reseed: values.reseed === true,
    source,
    status: locked ? "locked" : "failed",
    files: [],
    ignoredKeys: [],
    setAside: [],
    totals: emptyCounts(),
    watermark: null,
    error: message,
    ...(locked ? {} : {
      transient: exitCodeBeforeDrain(error) === 1 && !held && isTransient(error),
    }),
    // The time the refusal took (the bucket check may have waited out a timeout).
    durationMs: Date.now() - startedAt.getTime(),
  };
}

/** The exit code `main` gives the same error: 0 locked, 2 usage or configuration, else 1. */
function exitCodeBeforeDrain(error: unknown): number {
  if (error instanceof DatabaseLockedError) return error.heldByServe ? 1 : 0;
  const configuration = error instanceof PendingMigrationsError ||
    error instanceof SchemaRefusedError || error instanceof SourceError ||
    error instanceof PathNotAllowedError || error instanceof ConfigError ||
    error instanceof UsageError || isPermissionError(error);
  return configuration ? 2 : 1;
}
