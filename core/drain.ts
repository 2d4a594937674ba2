/**
 * The drain engine: every not-yet-applied change file of a dataset, oldest first, applied
 * exactly once (rows + ledger + watermark in one transaction), then archived. The files are
 * listed here (extract); `parse_change_file.ts` cleans their lines (normalize) and
 * `_apply_file.ts` loads one file in its transaction (load).
 *
 * @module
 */

import {
  SELECT_LEDGER,
  SELECT_LOCK_HOLDER,
  SELECT_WATERMARK,
  TOUCH_LAST_RUN,
  WARM_UP,
} from "./_drain_queries.ts";
import { applyFile, type FileContext, type ListedFile } from "./_apply_file.ts";
import { parseChangeKey } from "./change_key.ts";
import { lookElsewhere } from "./csv_elsewhere.ts";
import {
  addCounts,
  type DrainProgress,
  type DrainReport,
  emptyCounts,
  type FileReport,
} from "./drain_report.ts";
import { isTransient } from "./is_transient.ts";
import { LOCK_NOT_AVAILABLE, lockHolders } from "./_lock_holders.ts";
import { boundLockWaits, FILE_LOCK_TIMEOUT_MS } from "./lock_wait.ts";
import { sqlState } from "./_sql.ts";
import {
  SELECT_WRITE_SESSION,
  writeRefusedHint,
  type WriteRefusedSession,
} from "./write_refused.ts";
import { type Clock, ObjectChangedError, systemClock } from "./ports/mod.ts";
import type { Dataset } from "./datasets.ts";
import { CREATE_COPY_TABLE } from "./_stage_by_copy.ts";
import { stopwatch } from "./_stopwatch.ts";
import { sleep, untilStopped } from "./sleep.ts";
import type { Database, ObjectStore, Row } from "./ports/mod.ts";

export {
  type DrainProgress,
  type DrainReport,
  emptyCounts,
  type FileCounts,
  type FileProfile,
  type FileReport,
  type ReplacedVersion,
} from "./drain_report.ts";

/** Files over this size go through the JavaScript parser on PGlite (COPY input is held whole). */
const PGLITE_COPY_MAX_BYTES = 64 << 20;

/** Options for {@linkcode drain}. */
export interface DrainOptions {
  /** The dataset to drain. */
  dataset: Dataset;
  /** Write (true) or only plan (false, the default). */
  apply?: boolean;
  /** Apply every change file present, whatever the watermark and ledger say. */
  reseed?: boolean;
  /** Move applied files to `processed/` (default true; false for a single local file). */
  archive?: boolean;
  /**
   * Stops between batches and files; the current file rolls back. A statement failing once it is
   * aborted (cancelled by `ingest()`) reports the signal's reason as the run's error.
   */
  signal?: AbortSignal;
  /** Progress callback (a file started, a batch loaded, a file finished). */
  onProgress?: (event: DrainProgress) => void;
  /** How long to wait for another run's lock before giving up (default 0: do not wait). */
  waitLockMs?: number;
  /**
   * Called once an applying run holds the dataset's lock, before it lists the files, with the
   * report so far (`ingest` begins the run's record there). What it throws fails the run.
   */
  onLocked?: (report: DrainReport) => Promise<void>;
  /** Time source for the far-future check (tests). */
  clock?: Clock;
  /**
   * A file a folder lists as written less than this long ago (ms) may still be being written:
   * the run waits until it has been still that long and lists again; one written meanwhile,
   * and every later file, is left for the next run (`waiting`). Default 0: no wait.
   */
  settleMs?: number;
  /**
   * `auto` (default): a plain file is parsed by the database (COPY … FORMAT csv), anything else
   * by the JavaScript parser; `javascript`: every file by the JavaScript parser. Same result.
   */
  parser?: "auto" | "javascript";
  /**
   * How long an applying run's statement waits for rows or tables another session holds
   * (PostgreSQL; default {@linkcode FILE_LOCK_TIMEOUT_MS}); past it the file rolls back, and the
   * error names the sessions that hold them (transient: the next run tries again). 0: no bound.
   */
  lockTimeoutMs?: number;
}

export { FILE_LOCK_TIMEOUT_MS } from "./lock_wait.ts";

/**
 * How far ahead of now a change file may be named (clock skew between the exporter and the
 * worker). A file named later is set aside: rows keep the newest source file, so applying a
 * far-future file would freeze its tickets against every later file.
 */
export const MAX_FUTURE_SKEW_MS = 60 * 60_000;

/** Sentinel used to roll back a dry run's transaction. */
class DryRunRollback extends Error {}

/**
 * Drains one dataset's change stream from `store` into `db`. Never throws for a bad file or a
 * failed run: the report says what happened (`status`, per-file `error`).
 *
 * @example Usage
 * ```ts ignore
 * import { createDirObjectStore, createPgliteDatabase, drain, INC, migrate } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * await migrate(db);
 * const store = createDirObjectStore("bucket"); // bucket/automations/inc/changes/*.csv
 * const plan = await drain(store, db, { dataset: INC }); // a dry run: nothing is written
 * console.log(plan.files.map((f) => `${f.fileName} ${f.status}`));
 * const report = await drain(store, db, { dataset: INC, apply: true });
 * if (report.status === "failed") console.error(report.error, { retry: report.transient });
 * await db.close();
 * ```
 */
export async function drain(
  store: ObjectStore,
  db: Database,
  options: DrainOptions,
): Promise<DrainReport> {
  const started = performance.now();
  const { dataset, apply = false, signal } = options;
  const lockDeadline = Date.now() + (options.waitLockMs ?? 0);
  const report = newReport(store, db, options);
  const context = runContext(db, options);
  const lockName = `fleettickets:drain:${dataset.name}`;
  let locked = false;
  let stage: RunStage = "lock";
  try {
    if (apply) {
      const onWait = () => tellLockWait(db, options, lockName, lockDeadline);
      locked = await takeLock(db, lockName, lockDeadline, signal, onWait);
      if (!locked) {
        await reportLocked(db, dataset, report, lockName);
        return report;
      }
      await options.onLocked?.(report);
    }
    // Every later wait of the run's session for rows or tables another session holds: the
    // files, the post-apply steps (a run with nothing new too) and the run's record. A dry run's
    // reads wait only for a lock that keeps every reader out (DDL, VACUUM FULL, LOCK TABLE):
    // bounded alike (before: as long as a psql held tickets.inc locked).
    await boundLockWaits(db, context.lockTimeoutMs);
    stage = "listing";
    const files = await extract(store, db, report, options);
    stage = "files";
    if (apply) {
      await applyAll(store, db, report, files, context);
      await db.query(TOUCH_LAST_RUN, [dataset.name]);
    } else {
      await planAll(store, db, report, files, context);
    }
    report.watermark = await readWatermark(db, dataset);
    failIfSetAside(report);
  } catch (thrown) {
    const error = stopReason(thrown, signal, stage);
    failRun(report, error, await context.describe(error));
    // Stopped before the listing read it: where the data stands, as a locked run says.
    if (stage === "lock" && signal?.aborted) {
      report.watermark = await readWatermark(db, dataset).catch(() => null);
    }
  } finally {
    if (locked) await db.unlock(lockName).catch(() => {});
    report.durationMs = Math.round(performance.now() - started);
  }
  return report;
}

/**
 * {@linkcode DrainOptions.lockTimeoutMs} as PostgreSQL takes it: whole milliseconds, 0 for no
 * bound; the default for anything that is not a number of 0 or more.
 */
function lockTimeout(options: DrainOptions): number {
  const ms = options.lockTimeoutMs;
  return ms !== undefined && Number.isFinite(ms) && ms >= 0 ? Math.round(ms) : FILE_LOCK_TIMEOUT_MS;
}

/** The report before anything ran: status ok, no files, zero counts. */
function newReport(store: ObjectStore, db: Database, options: DrainOptions): DrainReport {
  const { dataset, apply = false, reseed = false } = options;
  return {
    dataset: dataset.name,
    mode: apply ? "apply" : "dry-run",
    reseed,
    source: store.description,
    database: db.description,
    status: "ok",
    files: [],
    ignoredKeys: [],
    setAside: [],
    totals: emptyCounts(),
    watermark: null,
    durationMs: 0,
  };
}

function runContext(db: Database, options: DrainOptions): RunContext {
  const { dataset, archive = true, signal, onProgress } = options;
  const lockTimeoutMs = lockTimeout(options);
  return {
    dataset,
    archive,
    signal,
    onProgress,
    parser: options.parser,
    lockTimeoutMs,
    copyMaxBytes: db.kind === "pglite" ? PGLITE_COPY_MAX_BYTES : Infinity,
    inThread: db.kind === "pglite",
    // A dry run writes too (its session's temporary tables), so a reader's role fails it alike;
    // its one transaction is still open when a file fails, so the role is not looked up (the
    // lookup would wait for the connection that transaction holds).
    describe: (error) =>
      options.apply
        ? describeWrite(db, error, lockTimeoutMs)
        : Promise.resolve(describeDryRun(error, lockTimeoutMs)),
  };
}

/** Takes the dataset's lock, trying again each second until `deadline`; false if another run holds it. */
async function takeLock(
  db: Database,
  lockName: string,
  deadline: number,
  signal: AbortSignal | undefined,
  onWait: () => Promise<void>,
): Promise<boolean> {
  let locked = await db.tryLock(lockName);
  // Said once, as it begins (before: `--wait-lock 45` on PostgreSQL waited without a word).
  if (!locked && Date.now() < deadline) await onWait();
  while (!locked && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, deadline - Date.now())));
    signal?.throwIfAborted();
    locked = await db.tryLock(lockName);
  }
  return locked;
}

/** Tells `onProgress` that the run waits for the lock until `deadline`, and who holds it. */
async function tellLockWait(
  db: Database,
  options: DrainOptions,
  lockName: string,
  deadline: number,
): Promise<void> {
  if (options.onProgress === undefined) return;
  options.onProgress({
    type: "lock_wait",
    dataset: options.dataset.name,
    waitMs: Math.max(0, deadline - Date.now()),
    holder: await lockHolder(db, lockName),
  });
}

async function reportLocked(
  db: Database,
  dataset: Dataset,
  report: DrainReport,
  lockName: string,
): Promise<void> {
  report.status = "locked";
  report.error = `Another run holds the lock for dataset "${dataset.name}"` +
    await describeLockHolder(db, lockName);
  report.watermark = await readWatermark(db, dataset).catch(() => null); // informative
}

/** What PostgreSQL's `pg_stat_activity` shows of a session. */
type LockHolder = {
  pid: number;
  application_name: string | null;
  client_addr: string | null;
  connected_s: number | null;
  state: string | null;
};

/**
 * Who holds the lock on PostgreSQL, and how to end it: a lock left by a session that never ended
 * (a stuck or forgotten client) would otherwise skip every run, saying only "another run". Best
 * effort: "" when it cannot be seen (the embedded database, a lock let go meanwhile, an error).
 */
async function describeLockHolder(db: Database, lockName: string): Promise<string> {
  const holder = await lockHolder(db, lockName);
  return holder === undefined ? "" : ` (${holder.who}); ${endHolder(holder.pid)}`;
}

/** How to end the holder `pid` of the run lock. */
export function endHolder(pid: number): string {
  return `if no run is going, end it with: select pg_terminate_backend(${pid}, 5000)`;
}

/**
 * The holder of the run lock on PostgreSQL (`PostgreSQL process 123, "fleettickets" from
 * 10.0.0.5, connected 14 min ago, idle`); undefined when it cannot be seen.
 */
async function lockHolder(
  db: Database,
  lockName: string,
): Promise<{ pid: number; who: string } | undefined> {
  if (db.kind !== "postgres") return undefined;
  const [holder] = await db.query<LockHolder>(SELECT_LOCK_HOLDER, [lockName])
    .catch(() => [] as LockHolder[]);
  if (holder?.pid == null) return undefined;
  const { pid, application_name: app, client_addr: client, connected_s: age, state } = holder;
  const who =
    `PostgreSQL process ${pid}${app ? `, "${app}"` : ""}${client ? ` from ${client}` : ""}` +
    `${age == null ? "" : `, connected ${ago(age)}`}${state ? `, ${state}` : ""}`;
  return { pid, who };
}

/** `40 s ago`, `14 min ago`, `5 h ago`, `3 days ago`. */
function ago(seconds: number): string {
  return seconds < 60
    ? `${seconds} s ago`
    : seconds < 2 * 3600
    ? `${Math.floor(seconds / 60)} min ago`
    : seconds < 2 * 86_400
    ? `${Math.floor(seconds / 3600)} h ago`
    : `${Math.floor(seconds / 86_400)} days ago`;
}

/**
 * Lists the change files and puts each in the report with what it needs (apply or archive);
 * returns them oldest first.
 */
async function extract(
  store: ObjectStore,
  db: Database,
  report: DrainReport,
  options: DrainOptions,
): Promise<ListedFile[]> {
  const { dataset, reseed = false } = options;
  // Read after the lock (whose first query rides out a connection that died while idle), and
  // before the listing, so a run that fails there still reports where the data stands; each
  // committed file moves it on.
  report.watermark = await readWatermark(db, dataset);
  const files = await settledChangeFiles(store, report, options);
  // Nothing under the prefix and nothing ever applied: the files may sit under another prefix.
  // A run with files, or whose dataset has applied some (the no-op run), pays nothing for it.
  const listedNothing = files.length === 0 && report.ignoredKeys.length === 0 &&
    report.setAside.length === 0;
  if (listedNothing && report.watermark === null) {
    Object.assign(report, await lookElsewhere(store, dataset));
  }
  const ledger = await readLedger(db, dataset, files);
  for (const file of files) report.files.push(fileEntry(file, ledger.get(file.fileName), reseed));
  return files;
}

/** A listed file's line in the report, before it is reached. */
function fileEntry(
  file: ListedFile,
  applied: LedgerEntry | undefined,
  reseed: boolean,
): FileReport {
  // Another version of this name applied before (a ledger row without an ETag counts as this one).
  const replaces = applied?.etag != null && applied.etag !== file.etag
    ? { etag: applied.etag, appliedAt: applied.appliedAt }
    : undefined;
  const committed = applied !== undefined && replaces === undefined;
  return {
    key: file.key,
    fileName: file.fileName,
    etag: file.etag,
    action: committed && !reseed ? "archive" : "apply",
    ...(replaces === undefined ? {} : { replaces }),
    status: "not_reached",
    durationMs: 0,
  };
}

/** Files set aside fail a run that otherwise went well: not transient, a person must look. */
function failIfSetAside(report: DrainReport): void {
  if (report.status === "ok" && report.setAside.length > 0) {
    report.status = "failed";
    report.error = `Set aside ${report.setAside.length} change file(s) for a person: ` +
      report.setAside.map((f) => `"${f.key}" ${f.reason}`).join("; ");
    report.transient = false;
  }
}

/** The newest change file applied for `dataset` (its name), or null before the first. */
export async function readWatermark(db: Database, dataset: Dataset): Promise<string | null> {
  const [meta] = await db.query<{ watermark: string | null }>(SELECT_WATERMARK, [dataset.name]);
  return meta?.watermark ?? null;
}

async function listChangeFiles(
  store: ObjectStore,
  dataset: Dataset,
  report: DrainReport,
  now: Date,
  signal: AbortSignal | undefined,
): Promise<ListedFile[]> {
  const files: ListedFile[] = [];
  // A stop ends a stalled listing at once (before: the run waited out its grace, then ended
  // without recording its end: "the last run died", a tester's).
  for (const object of await untilStopped(store.list(dataset.changesPrefix), signal)) {
    const parsed = parseChangeKey(object.key, dataset.changesPrefix);
    if (parsed === null) report.ignoredKeys.push(object.key);
    else if (object.problem !== undefined) {
      report.setAside.push({ key: object.key, reason: object.problem });
    } else if (parsed.exportedAt.getTime() > now.getTime() + MAX_FUTURE_SKEW_MS) {
      report.setAside.push({
        key: object.key,
        reason: `is named ${
          ((parsed.exportedAt.getTime() - now.getTime()) / 3600_000).toFixed(1)
        } h ahead of now (at most ${
          MAX_FUTURE_SKEW_MS / 60_000
        } min): not applied, it would freeze its tickets; rename or remove it`,
      });
    } else {
      const { etag, size, writtenMsAgo } = object;
      files.push({
        ...parsed,
        etag,
        size,
        ...(writtenMsAgo === undefined ? {} : { writtenMsAgo }),
      });
    }
  }
  // Names are fixed-width timestamps, so name order is time order.
  return files.sort((a, b) => a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0);
}

/**
 * The change files, listed once more after waiting for any still being written to settle
 * ({@linkcode DrainOptions.settleMs}); a file written during the wait, and every file after it,
 * is left in `changes/` and named in `report.waiting`, so files still apply in name order.
 */
async function settledChangeFiles(
  store: ObjectStore,
  report: DrainReport,
  options: DrainOptions,
): Promise<ListedFile[]> {
  const { dataset, settleMs = 0, signal } = options;
  const now = () => (options.clock ?? systemClock).now();
  let files = await listChangeFiles(store, dataset, report, now(), signal);
  const settling = (f: ListedFile) => f.writtenMsAgo !== undefined && f.writtenMsAgo < settleMs;
  const young = files.filter(settling);
  if (young.length === 0) return files;
  const youngest = young.reduce((a, b) => a.writtenMsAgo! <= b.writtenMsAgo! ? a : b);
  const waitMs = settleMs - youngest.writtenMsAgo!;
  options.onProgress?.({ type: "settle_wait", dataset: dataset.name, key: youngest.key, waitMs });
  await sleep(waitMs, signal);
  signal?.throwIfAborted();
  report.ignoredKeys = [];
  report.setAside = [];
  files = await listChangeFiles(store, dataset, report, now(), signal);
  const first = files.findIndex(settling);
  if (first < 0) return files;
  report.waiting = files.slice(first).map((f, i) => ({
    key: f.key,
    reason: i === 0
      ? `was written again ${(f.writtenMsAgo! / 1000).toFixed(1)} s ago, while the run waited ` +
        `${(settleMs / 1000).toFixed(0)} s for it to be still: left for the next run (write a ` +
        `change file under another name and rename it into changes/ when whole)`
      : `comes after a file still being written: left for the next run, in name order`,
  }));
  return files.slice(0, first);
}

/** A ledger row: the ETag a file name was applied with (null: not recorded) and when (EAT). */
interface LedgerEntry {
  etag: string | null;
  appliedAt: string;
}

/** The ledger rows of the listed files, by file name. */
async function readLedger(
  db: Database,
  dataset: Dataset,
  files: ListedFile[],
): Promise<Map<string, LedgerEntry>> {
  const ledger = new Map<string, LedgerEntry>();
  if (files.length === 0) return ledger;
  const rows = await db.query<{ file_name: string; etag: string | null; applied_at: string }>(
    SELECT_LEDGER,
    [dataset.name, files.map((f) => f.fileName)],
  );
  for (const row of rows) {
    ledger.set(row.file_name, { etag: row.etag, appliedAt: row.applied_at });
  }
  return ledger;
}

/** The run's side of a file's context: everything but the file's report line. */
type RunContext = Omit<FileContext, "entry"> & {
  /** See {@linkcode DrainOptions.lockTimeoutMs}. */
  lockTimeoutMs: number;
  /** Move applied files to `processed/` (false for `ingest --csv`). */
  archive?: boolean;
  /** A failure in words (for an applying run, with why the role may not write). */
  describe(error: unknown): Promise<string>;
};

/** Applies the files in order, each in its own transaction, until one fails. */
async function applyAll(
  store: ObjectStore,
  db: Database,
  report: DrainReport,
  files: ListedFile[],
  context: RunContext,
): Promise<void> {
  const { dataset, archive, signal, onProgress } = context;
  await warmUp(db, report, context);
  for (const [i, file] of files.entries()) {
    const entry = report.files[i]!;
    const { key, size } = file;
    onProgress?.({ type: "file_start", dataset: dataset.name, key, size, action: entry.action });
    const done = await runFileStep(report, entry, context, async () => {
      signal?.throwIfAborted();
      if (entry.action === "apply") {
        await commitFile(store, db, report, file, { ...context, entry });
      }
      // Only after commit: a crash before this line leaves a committed file in changes/,
      // which the next run archives without applying again.
      if (entry.action === "apply") entry.status = "applied";
      else entry.status = archive === false ? "skipped" : "archived";
      if (archive !== false) {
        const lap = stopwatch();
        await archiveFile(store, dataset, file, entry, signal);
        if (entry.profile) entry.profile.archiveMs = lap();
      }
    });
    if (!done) return; // Later files wait: the stream is applied in order.
  }
}

async function warmUp(db: Database, report: DrainReport, context: RunContext): Promise<void> {
  // A new session's first write loads PostGIS, compiles the parsers and creates the temp schema
  // (~40 ms), and the COPY way's table is created once for every file of the run: done here,
  // before the first file's transaction, so no file holds its locks for it.
  if (report.files.some((f) => f.action === "apply")) {
    await db.exec(context.parser === "javascript" ? WARM_UP : `${WARM_UP};\n${CREATE_COPY_TABLE}`);
  }
}

/** Applies one file in its own transaction and adds what it did to the run's totals. */
async function commitFile(
  store: ObjectStore,
  db: Database,
  report: DrainReport,
  file: ListedFile,
  context: FileContext,
): Promise<void> {
  const { entry } = context;
  let lap = stopwatch();
  entry.counts = await db.transaction(async (tx) => {
    const counts = await applyFile(store, tx, file, context);
    lap = stopwatch(); // the rest of the transaction is its commit
    return counts;
  });
  if (entry.profile) entry.profile.commitMs = lap();
  addCounts(report.totals, entry.counts);
  // Committed with the ledger: the watermark never moves back (a late file keeps it).
  if (report.watermark === null || file.fileName > report.watermark) {
    report.watermark = file.fileName;
  }
}

async function planAll(
  store: ObjectStore,
  db: Database,
  report: DrainReport,
  files: ListedFile[],
  context: RunContext,
): Promise<void> {
  try {
    // One transaction for the whole plan, so each file's counts see the files before it.
    await db.transaction(async (tx) => {
      for (const [i, file] of files.entries()) {
        const entry = report.files[i]!;
        const done = await runFileStep(report, entry, context, async () => {
          if (entry.action === "apply") {
            entry.counts = await applyFile(store, tx, file, { ...context, entry, plan: true });
            addCounts(report.totals, entry.counts);
          }
          // An applied file that a run would not move (--csv) is left alone, as --apply says.
          entry.status = entry.action === "archive" && context.archive === false
            ? "skipped"
            : "planned";
        });
        if (!done) break;
      }
      throw new DryRunRollback();
    });
  } catch (error) {
    if (!(error instanceof DryRunRollback)) throw error;
  }
}

/**
 * Moves exactly the applied version to `processed/`. A file replaced under the same name while
 * it was applied stays in `changes/`: it is then a new version (new ETag) the next run applies.
 */
async function archiveFile(
  store: ObjectStore,
  dataset: Dataset,
  file: ListedFile,
  entry: FileReport,
  signal: AbortSignal | undefined,
): Promise<void> {
  try {
    const to = dataset.processedPrefix + file.fileName;
    await untilStopped(store.move(file.key, to, { etag: file.etag }), signal);
  } catch (error) {
    if (entry.status === "archived") entry.status = "not_reached";
    if (!(error instanceof ObjectChangedError)) throw new NotArchivedError(error);
    entry.notArchived = error.message;
  }
}

/**
 * A committed file that could not be moved to `processed/`: the run stops (later files wait), but
 * the file stays `applied`, its rows kept (before: reported `failed`, as if nothing was applied).
 */
class NotArchivedError extends Error {
  constructor(cause: unknown) {
    super("not archived", { cause });
  }
}

/** Runs one file's work, timing it and recording a failure in the report; false when it failed. */
async function runFileStep(
  report: DrainReport,
  entry: FileReport,
  context: RunContext,
  work: () => Promise<void>,
): Promise<boolean> {
  const started = performance.now();
  try {
    await work();
    return true;
  } catch (thrown) {
    if (thrown instanceof NotArchivedError) {
      entry.notArchived = `${await context.describe(thrown.cause)}; the file is applied (its ` +
        `rows are kept), stays in changes/ and the next run moves it without applying it again`;
      failRun(report, thrown.cause, entry.notArchived);
      return false;
    }
    const error = stopReason(thrown, context.signal, "file");
    entry.status = "failed";
    entry.error = await context.describe(error);
    failRun(report, error, entry.error);
    return false;
  } finally {
    entry.durationMs = Math.round(performance.now() - started);
    context.onProgress?.({ type: "file_end", dataset: context.dataset.name, file: entry });
  }
}

/**
 * Marks the run failed by `error` (told in `words`): whether a rerun may pass as is, and whether
 * the database refused the role its writes.
 */
function failRun(report: DrainReport, error: unknown, words: string): void {
  report.status = "failed";
  report.error = words;
  report.transient = isTransient(error);
  if (writeRefusedHint(error) !== undefined) report.writeRefused = true;
}

/** Where a run was when it stopped: waiting for the lock, listing, between files, in a file. */
type RunStage = "lock" | "listing" | "files" | "file";

/** What a stop at each stage leaves, said after the signal's reason. */
const STOPPED_AT: Record<RunStage, string> = {
  lock: " while waiting for another run's lock: nothing was applied; rerun to continue",
  listing: " while listing the change files: nothing was applied; rerun to continue",
  files: ": the files applied before it are kept; rerun to continue",
  file: ": the current file was rolled back; rerun to continue",
};

/**
 * Why a step failed: once the run is stopped, the signal's reason ("Interrupted by SIGTERM") and
 * what the stop left at that stage, not what the stop caused ("canceling statement due to user
 * request"). Before, the caller's reason said "the current file was rolled back" at every stage,
 * a wait for the lock included.
 */
function stopReason(error: unknown, signal: AbortSignal | undefined, stage: RunStage): unknown {
  if (!signal?.aborted) return error;
  const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
  return new Error(`${reason}${STOPPED_AT[stage]}`);
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** {@linkcode describe}, with the hint for a role that may not write (not looked up). */
function describeWithHint(error: unknown): string {
  const hint = writeRefusedHint(error);
  return hint === undefined ? describe(error) : `${describe(error)}: ${hint}`;
}

/**
 * A dry run's failure in words: a lock wait that ran out says so (the holders are not looked
 * up: the run's transaction still holds its connection), anything else as
 * {@linkcode describeWithHint}.
 */
function describeDryRun(error: unknown, lockTimeoutMs: number): string {
  if (sqlState(error) !== LOCK_NOT_AVAILABLE) return describeWithHint(error);
  return `Cannot go on: another session held tables this dry run reads for ` +
    `${lockTimeoutMs / 1000} s (a lock that keeps readers out: DDL, VACUUM FULL or LOCK TABLE; ` +
    `pg_locks names it); let it finish or end it, then run again`;
}

/** A lock wait that ran out, in words: who holds the tables (best effort), and what to do. */
async function heldWords(db: Database, lockTimeoutMs: number): Promise<string> {
  const { said, first } = await lockHolders(db, "writers");
  return `Cannot go on: another session held rows or tables this run writes for ` +
    `${lockTimeoutMs / 1000} s${said.length > 0 ? ` (${said.join(", ")})` : ""}; end it${
      first === undefined ? "" : ` (select pg_terminate_backend(${first}))`
    } or let it finish, and the next run goes on (what this run had not committed was rolled back)`;
}

/**
 * A failed write in words: a PostgreSQL role that may not write (a reader's DATABASE_URL) is
 * named, with the fix. Who it is is looked up (best effort) only then.
 */
async function describeWrite(
  db: Database,
  error: unknown,
  lockTimeoutMs: number,
): Promise<string> {
  const message = describe(error);
  if (db.kind === "postgres" && sqlState(error) === LOCK_NOT_AVAILABLE) {
    return await heldWords(db, lockTimeoutMs);
  }
  if (db.kind !== "postgres" || writeRefusedHint(error) === undefined) return message;
  const [session] = await db.query<WriteRefusedSession & Row>(SELECT_WRITE_SESSION)
    .catch(() => [] as WriteRefusedSession[]);
  return `${message}: ${writeRefusedHint(error, session)}`;
}
