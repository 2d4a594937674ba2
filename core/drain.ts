/**
 * The drain engine: every not-yet-applied change file of a dataset, oldest first, applied
 * exactly once (rows + ledger + watermark in one transaction), then archived.
 *
 * @module
 */

import {
  CLEAR_QUARANTINE,
  CREATE_PLAN,
  INSERT_QUARANTINE,
  mergeSettingsSql,
  mergeStageSql,
  PREPARE_STAGE,
  RECORD_FILE,
  seedPlanSql,
  SELECT_LEDGER,
  SELECT_WATERMARK,
  STAGE,
  STAGE_COLUMNS,
  TOUCH_LAST_RUN,
  upsertStageSql,
  WARM_UP,
} from "./_drain_queries.ts";
import { type ChangeKey, parseChangeKey } from "./change_key.ts";
import { findCsvElsewhere } from "./csv_elsewhere.ts";
import { isTransient } from "./is_transient.ts";
import { type Clock, ObjectChangedError, systemClock } from "./ports/mod.ts";
import type { Dataset } from "./datasets.ts";
import { parseChangeFile } from "./parse_change_file.ts";
import { CREATE_COPY_TABLE, stageByCopy } from "./_stage_by_copy.ts";
import type { Database, ObjectStore, SqlSession } from "./ports/mod.ts";

const BATCH_ROWS = 2000;
const SMALL_STAGE = 5000;
/** A field over this many bytes sends its file through the JavaScript parser. */
const COPY_MAX_FIELD_BYTES = 1 << 20;
/** Files over this size go through the JavaScript parser on PGlite (COPY input is held whole). */
const PGLITE_COPY_MAX_BYTES = 64 << 20;

/** Row counts of one file (or a whole run). */
export interface FileCounts {
  /** Data lines read (excluding the header). */
  rowsRead: number;
  /** Tickets new to the table. */
  inserted: number;
  /** Tickets whose record changed. */
  updated: number;
  /** Tickets already holding exactly this record. */
  unchanged: number;
  /** Tickets left alone because a newer file already wrote them. */
  olderSkipped: number;
  /** `is_alarm = true` rows dropped. */
  alarmsDropped: number;
  /** `EXPORT STOPPED…` sentinel rows dropped. */
  sentinelsDropped: number;
  /** Earlier rows of a ticket repeated later in the same file (the last one wins). */
  duplicates: number;
  /** Rows that cannot be tickets, kept in `tickets.quarantine`. */
  quarantined: number;
}

/** What happened to one change file. */
export interface FileReport {
  /** Object key. */
  key: string;
  /** File name (the ordering key). */
  fileName: string;
  /** Content version seen in the listing. */
  etag: string;
  /** `apply`: rows go in; `archive`: already committed, only moved to `processed/`. */
  action: "apply" | "archive";
  /**
   * The version of this file name applied earlier (another ETag): this file replaces it, its
   * ledger row and its copy in `processed/`. Absent for a file new to the ledger.
   */
  replaces?: ReplacedVersion;
  /**
   * Outcome. `planned` in a dry run; `not_reached` when an earlier file failed; `skipped` when
   * it was applied before and is not to be moved (`archive: false`, as for `ingest --csv`).
   */
  status: "applied" | "archived" | "skipped" | "planned" | "failed" | "not_reached";
  /** Row counts (apply only). */
  counts?: FileCounts;
  /** Why it failed. */
  error?: string;
  /** Why a committed file was left in `changes/` (replaced while it was applied). */
  notArchived?: string;
  /** First quarantined lines, for the report (all are in `tickets.quarantine`). */
  quarantine?: { line: number; reason: string }[];
  /** Wall time spent on the file, ms. */
  durationMs: number;
  /** Where the file's time went (`--profile` prints it). */
  profile?: FileProfile;
}

/** A version of a change file applied earlier, as the ledger recorded it. */
export interface ReplacedVersion {
  /** Its ETag. */
  etag: string;
  /** When it was applied, ISO 8601 in EAT (`2026-06-15T10:20:00+03:00`). */
  appliedAt: string;
}

/** Where one file's time went, ms. */
export interface FileProfile {
  /** Who parsed the CSV: the database (COPY … FORMAT csv) or the JavaScript parser. */
  parsedBy: "database" | "javascript";
  /** Download, parse, clean and COPY into the stage (they overlap: bytes stream through). */
  stageMs: number;
  /** Storing quarantined lines. */
  quarantineMs: number;
  /** Merging the stage into the table. */
  mergeMs: number;
  /** Ledger row and watermark. */
  ledgerMs: number;
  /** Commit of the file's transaction (apply only). */
  commitMs?: number;
  /** Moving the file to `processed/`. */
  archiveMs?: number;
}

/** The outcome of one drain of one dataset. */
export interface DrainReport {
  /** Dataset name. */
  dataset: string;
  /** `apply` writes; `dry-run` computes the exact plan in a transaction it rolls back. */
  mode: "apply" | "dry-run";
  /** Whether the watermark and ledger were ignored. */
  reseed: boolean;
  /** Where the files came from. */
  source: string;
  /** The database the run read and wrote, in words (the adapter's description). */
  database?: string;
  /** `ok` (including nothing to do), `failed` (a file or the run), `locked` (another run). */
  status: "ok" | "failed" | "locked";
  /** Files considered, oldest first. */
  files: FileReport[];
  /** Keys under the changes prefix that are not change files (never ingested or moved). */
  ignoredKeys: string[];
  /**
   * Change files not applied and left in `changes/` for a person, with the reason: named more
   * than {@linkcode MAX_FUTURE_SKEW_MS} ahead of now, or a symbolic link. The other files go
   * on; the run then fails (not transient) so `status` flags it.
   */
  setAside: { key: string; reason: string }[];
  /**
   * Folders of the bucket holding CSV files, when the changes prefix listed nothing at all and
   * the dataset has never applied a file: files uploaded under another prefix (`inc/changes/`)?
   * From one look at the bucket's first keys ({@linkcode findCsvElsewhere}); absent otherwise.
   */
  csvElsewhere?: string[];
  /** Sum over applied (or planned) files. */
  totals: FileCounts;
  /** Newest applied file name after the run. */
  watermark: string | null;
  /** Why the run failed, when it did. */
  error?: string;
  /** True when the failure is worth retrying as is (network, database); false for bad input. */
  transient?: boolean;
  /** Wall time, ms. */
  durationMs: number;
}

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
  /** Time source for the far-future check (tests). */
  clock?: Clock;
  /**
   * `auto` (default): a plain file is parsed by the database (COPY … FORMAT csv), anything else
   * by the JavaScript parser; `javascript`: every file by the JavaScript parser. Same result.
   */
  parser?: "auto" | "javascript";
}

/**
 * How far ahead of now a change file may be named (clock skew between the exporter and the
 * worker). A file named later is set aside: rows keep the newest source file, so applying a
 * far-future file would freeze its tickets against every later file.
 */
export const MAX_FUTURE_SKEW_MS = 60 * 60_000;

/** A progress event. */
export type DrainProgress =
  | { type: "file_start"; dataset: string; key: string; size: number; action: "apply" | "archive" }
  | {
    type: "batch";
    dataset: string;
    key: string;
    /** Data lines read so far. */
    rows: number;
    /** Bytes read so far. */
    bytes: number;
    /** File size in bytes. */
    size: number;
  }
  | { type: "file_end"; dataset: string; file: FileReport };

/** Sentinel used to roll back a dry run's transaction. */
class DryRunRollback extends Error {}

/** Returns zeroed counts. */
export function emptyCounts(): FileCounts {
  return {
    rowsRead: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    olderSkipped: 0,
    alarmsDropped: 0,
    sentinelsDropped: 0,
    duplicates: 0,
    quarantined: 0,
  };
}

function addCounts(total: FileCounts, add: FileCounts): void {
  for (const name of Object.keys(total) as (keyof FileCounts)[]) total[name] += add[name];
}

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
  const { dataset, apply = false, reseed = false, archive = true, signal, onProgress } = options;
  const clock = options.clock ?? systemClock;
  const lockDeadline = Date.now() + (options.waitLockMs ?? 0);
  const report: DrainReport = {
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
  const context: RunContext = {
    dataset,
    archive,
    signal,
    onProgress,
    parser: options.parser,
    copyMaxBytes: db.kind === "pglite" ? PGLITE_COPY_MAX_BYTES : Infinity,
    inThread: db.kind === "pglite",
  };
  const lockName = `fleettickets:drain:${dataset.name}`;
  let locked = false;
  try {
    if (apply) {
      locked = await db.tryLock(lockName);
      while (!locked && Date.now() < lockDeadline) {
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(1000, lockDeadline - Date.now()))
        );
        signal?.throwIfAborted();
        locked = await db.tryLock(lockName);
      }
      if (!locked) {
        report.status = "locked";
        report.error = `Another run holds the lock for dataset "${dataset.name}"`;
        report.watermark = await readWatermark(db, dataset).catch(() => null); // informative
        return report;
      }
    }
    // Read after the lock (whose first query rides out a connection that died while idle), and
    // before the listing, so a run that fails there still reports where the data stands; each
    // committed file moves it on.
    report.watermark = await readWatermark(db, dataset);
    const files = await listChangeFiles(store, dataset, report, clock.now());
    // Nothing under the prefix and nothing ever applied: the files may sit under another prefix.
    // A run with files, or whose dataset has applied some (the no-op run), pays nothing for it.
    const listedNothing = files.length === 0 && report.ignoredKeys.length === 0 &&
      report.setAside.length === 0;
    if (listedNothing && report.watermark === null) {
      const folders = await findCsvElsewhere(store, dataset);
      if (folders !== undefined) report.csvElsewhere = folders;
    }
    const ledger = await readLedger(db, dataset, files);
    for (const file of files) {
      const applied = ledger.get(file.fileName);
      // Another version of this name applied before (a ledger row without an ETag counts as this one).
      const replaces = applied?.etag != null && applied.etag !== file.etag
        ? { etag: applied.etag, appliedAt: applied.appliedAt }
        : undefined;
      const committed = applied !== undefined && replaces === undefined;
      report.files.push({
        key: file.key,
        fileName: file.fileName,
        etag: file.etag,
        action: committed && !reseed ? "archive" : "apply",
        ...(replaces === undefined ? {} : { replaces }),
        status: "not_reached",
        durationMs: 0,
      });
    }
    if (apply) {
      await applyAll(store, db, report, files, context);
      await db.query(TOUCH_LAST_RUN, [dataset.name]);
    } else {
      await planAll(store, db, report, files, context);
    }
    report.watermark = await readWatermark(db, dataset);
    if (report.status === "ok" && report.setAside.length > 0) {
      report.status = "failed";
      report.error = `Set aside ${report.setAside.length} change file(s) for a person: ` +
        report.setAside.map((f) => `"${f.key}" ${f.reason}`).join("; ");
      report.transient = false;
    }
  } catch (thrown) {
    const error = stopReason(thrown, signal);
    report.status = "failed";
    report.error = describe(error);
    report.transient = isTransient(error);
  } finally {
    if (locked) await db.unlock(lockName).catch(() => {});
    report.durationMs = Math.round(performance.now() - started);
  }
  return report;
}

/** The newest change file applied for `dataset` (its name), or null before the first. */
export async function readWatermark(db: Database, dataset: Dataset): Promise<string | null> {
  const [meta] = await db.query<{ watermark: string | null }>(SELECT_WATERMARK, [dataset.name]);
  return meta?.watermark ?? null;
}

interface ListedFile extends ChangeKey {
  etag: string;
  size: number;
}

async function listChangeFiles(
  store: ObjectStore,
  dataset: Dataset,
  report: DrainReport,
  now: Date,
): Promise<ListedFile[]> {
  const files: ListedFile[] = [];
  for (const object of await store.list(dataset.changesPrefix)) {
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
    } else files.push({ ...parsed, etag: object.etag, size: object.size });
  }
  // Names are fixed-width timestamps, so name order is time order.
  return files.sort((a, b) => a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0);
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

interface RunContext {
  dataset: Dataset;
  /** A dry run: merge into the plan table, write nothing shared (no row locks). */
  plan?: boolean;
  archive?: boolean;
  signal?: AbortSignal;
  onProgress?: (event: DrainProgress) => void;
  parser?: "auto" | "javascript";
  /** Larger files take the JavaScript way (PGlite holds a COPY's input in memory). */
  copyMaxBytes: number;
  /** The database works on this thread (PGlite): no event, a signal too, is delivered meanwhile. */
  inThread: boolean;
}

async function applyAll(
  store: ObjectStore,
  db: Database,
  report: DrainReport,
  files: ListedFile[],
  context: RunContext,
): Promise<void> {
  const { dataset, archive, signal, onProgress } = context;
  // A new session's first write loads PostGIS, compiles the parsers and creates the temp schema
  // (~40 ms), and the COPY way's table is created once for every file of the run: done here,
  // before the first file's transaction, so no file holds its locks for it.
  if (report.files.some((f) => f.action === "apply")) {
    await db.exec(context.parser === "javascript" ? WARM_UP : `${WARM_UP};\n${CREATE_COPY_TABLE}`);
  }
  for (const [i, file] of files.entries()) {
    const entry = report.files[i]!;
    const { key, size } = file;
    onProgress?.({ type: "file_start", dataset: dataset.name, key, size, action: entry.action });
    const done = await runFileStep(report, entry, context, async () => {
      signal?.throwIfAborted();
      if (entry.action === "apply") {
        let lap = stopwatch();
        entry.counts = await db.transaction(async (tx) => {
          const counts = await applyFile(store, tx, file, { ...context, entry });
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
      // Only after commit: a crash before this line leaves a committed file in changes/,
      // which the next run archives without applying again.
      if (entry.action === "apply") entry.status = "applied";
      else entry.status = archive === false ? "skipped" : "archived";
      if (archive !== false) {
        const lap = stopwatch();
        await archiveFile(store, dataset, file, entry);
        if (entry.profile) entry.profile.archiveMs = lap();
      }
    });
    if (!done) return; // Later files wait: the stream is applied in order.
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
): Promise<void> {
  try {
    await store.move(file.key, dataset.processedPrefix + file.fileName, { etag: file.etag });
  } catch (error) {
    if (!(error instanceof ObjectChangedError)) throw error;
    if (entry.status === "archived") entry.status = "not_reached";
    entry.notArchived = error.message;
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
    const error = stopReason(thrown, context.signal);
    entry.status = "failed";
    entry.error = describe(error);
    report.status = "failed";
    report.error = entry.error;
    report.transient = isTransient(error);
    return false;
  } finally {
    entry.durationMs = Math.round(performance.now() - started);
    context.onProgress?.({ type: "file_end", dataset: context.dataset.name, file: entry });
  }
}

type FileContext = RunContext & { entry: FileReport };

/**
 * Applies one change file inside `tx`: stage its rows (parse, clean, COPY), keep its quarantined
 * lines, merge the stage into the dataset's table, and record the file in the ledger.
 */
async function applyFile(
  store: ObjectStore,
  tx: SqlSession,
  file: ListedFile,
  context: FileContext,
): Promise<FileCounts> {
  const { dataset, entry, plan } = context;
  const lap = stopwatch();
  if (!plan) await tx.query(CLEAR_QUARANTINE, [dataset.name, file.fileName]);
  const copied = await stageFileByCopy(store, tx, file, context);
  const staged = copied ?? await stageFile(store, tx, file, context);
  const stageMs = lap();
  if (!plan) await storeQuarantine(tx, dataset, file, staged.quarantine);
  const quarantineMs = lap();
  let target = dataset.table;
  if (plan) {
    // A dry run merges into a session-private copy of the rows it touches: no row locks.
    await tx.query(CREATE_PLAN);
    await tx.query(seedPlanSql(dataset.table, staged.stage));
    target = "fleettickets_plan";
  }
  const counts = { ...staged.counts, ...await mergeStage(tx, target, file, staged) };
  const mergeMs = lap();
  // A stop asked for during the merge (which does not see the signal) still rolls the file back:
  // nothing is committed after it. The embedded database runs the merge on this thread, so a
  // SIGTERM that came meanwhile is delivered only once the event loop turns: let it.
  if (context.signal && context.inThread) await nextTurn();
  context.signal?.throwIfAborted();
  if (!plan) await recordInLedger(tx, dataset, file, counts);
  const parsedBy = copied ? "database" : "javascript";
  entry.profile = { parsedBy, stageMs, quarantineMs, mergeMs, ledgerMs: lap() };
  return counts;
}

interface StagedFile {
  /** Tickets staged. */
  rows: number;
  /** Where the merge reads them: `fleettickets_stage`, or a subquery over the copied file. */
  stage: string;
  /** Counts known after parsing (read, dropped, quarantined). */
  counts: FileCounts;
  /** Lines that cannot be tickets, to store once the COPY is done. */
  quarantine: QuarantineEntry[];
}

/**
 * Stages a plain file the fast way: the database parses the CSV and cleans it in SQL. Undefined
 * (nothing staged) when the file must go through the JavaScript parser instead.
 */
async function stageFileByCopy(
  store: ObjectStore,
  tx: SqlSession,
  file: ListedFile,
  context: FileContext,
): Promise<StagedFile | undefined> {
  if (context.parser === "javascript" || file.size > context.copyMaxBytes) return undefined;
  // The object's own stream: a local file's lets stageByCopy read into one reused buffer. It
  // counts the bytes itself and fails the file when they are not the listed size.
  const copied = await stageByCopy(tx, file.key, await store.read(file.key), {
    maxFieldBytes: COPY_MAX_FIELD_BYTES,
    expectedBytes: file.size,
    truncated: (bytes) => truncated(file, bytes),
    signal: context.signal,
  });
  if (copied === undefined) return undefined;
  const { rowsRead, alarmsDropped, sentinelsDropped } = copied;
  const counts = { ...emptyCounts(), rowsRead, alarmsDropped, sentinelsDropped };
  return { rows: copied.rows, stage: copied.stage, counts, quarantine: [] };
}

/** Reads, parses and cleans the file, COPYing its tickets into the stage as they come. */
async function stageFile(
  store: ObjectStore,
  tx: SqlSession,
  file: ListedFile,
  context: FileContext,
): Promise<StagedFile> {
  await tx.exec(PREPARE_STAGE);
  const source = countedReader(store, file.key);
  const body = await source.read();
  const staged: StagedFile = { rows: 0, stage: STAGE, counts: emptyCounts(), quarantine: [] };
  const items = parseChangeFile(body, { key: file.key, reread: source.read });
  staged.rows = await tx.copyRows(
    STAGE,
    STAGE_COLUMNS,
    stageBatches(items, staged, { ...context, file, bytes: source.bytes }),
  );
  if (source.bytes() !== file.size) throw truncated(file, source.bytes());
  return staged;
}

/** A body cut short (a dropped connection, a proxy) must not pass for the whole file. */
function truncated(file: ListedFile, bytes: number): Error {
  return new Error(
    `Cannot apply change file "${file.key}": read ${bytes} bytes, the listing said ${file.size} (a truncated download or a file replaced mid-run); the file was rolled back and will be retried`,
  );
}

/**
 * Opens the object and counts its bytes. `bytes()` is the size of the last full read: the
 * stream, or the re-read that recovers a broken line (the first stream then stops early).
 */
function countedReader(store: ObjectStore, key: string) {
  let bytes = 0;
  const read = async () => {
    bytes = 0;
    return (await store.read(key)).pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          bytes += chunk.byteLength;
          controller.enqueue(chunk);
        },
      }),
    );
  };
  return { read, bytes: () => bytes };
}

/** Turns parsed items into stage rows in batches, counting and setting aside the rest. */
async function* stageBatches(
  items: ReturnType<typeof parseChangeFile>,
  staged: StagedFile,
  context: FileContext & { file: ListedFile; bytes: () => number },
): AsyncGenerator<string[][]> {
  const { dataset, signal, onProgress, entry, file } = context;
  const counts = staged.counts;
  let batch: string[][] = [];
  let seq = 0;
  for await (const item of items) {
    counts.rowsRead++;
    switch (item.kind) {
      case "ticket":
        batch.push([String(++seq), item.ticketId, JSON.stringify(item.record)]);
        break;
      case "alarm":
        counts.alarmsDropped++;
        break;
      case "sentinel":
        counts.sentinelsDropped++;
        break;
      case "quarantine":
        counts.quarantined++;
        staged.quarantine.push({ line: item.line, reason: item.reason, fields: item.fields });
        if ((entry.quarantine ??= []).length < 20) {
          entry.quarantine.push({ line: item.line, reason: item.reason });
        }
        break;
    }
    if (batch.length >= BATCH_ROWS) {
      signal?.throwIfAborted();
      yield batch;
      const progress = { dataset: dataset.name, key: file.key, size: file.size };
      onProgress?.({ type: "batch", ...progress, rows: counts.rowsRead, bytes: context.bytes() });
      batch = [];
    }
  }
  signal?.throwIfAborted();
  yield batch;
}

/** Stores quarantined lines; after the COPY, since no other statement may run during it. */
async function storeQuarantine(
  tx: SqlSession,
  dataset: Dataset,
  file: ListedFile,
  quarantine: QuarantineEntry[],
): Promise<void> {
  for (let i = 0; i < quarantine.length; i += BATCH_ROWS) {
    await tx.query(INSERT_QUARANTINE, [
      dataset.name,
      file.fileName,
      file.key,
      JSON.stringify(quarantine.slice(i, i + BATCH_ROWS)),
    ]);
  }
}

/** Merges the stage into the dataset's table; returns what happened to the rows. */
async function mergeStage(
  tx: SqlSession,
  table: string,
  file: ListedFile,
  staged: StagedFile,
): Promise<Pick<FileCounts, "inserted" | "updated" | "unchanged" | "olderSkipped" | "duplicates">> {
  // The temp table has no statistics: steer the join so a delta probes the primary key and a
  // baseline hashes (ANALYZE would cost more than a whole delta's merge).
  const [settings] = await tx.query<{ holds_rows: boolean }>(
    mergeSettingsSql(table, staged.rows < SMALL_STAGE),
  );
  const merge = settings?.holds_rows ? mergeStageSql : upsertStageSql;
  const [counts] = await tx.query<Record<string, number>>(merge(table, staged.stage), [
    file.fileName,
  ]);
  return {
    inserted: counts?.inserted ?? 0,
    updated: counts?.updated ?? 0,
    unchanged: counts?.unchanged ?? 0,
    olderSkipped: counts?.older_skipped ?? 0,
    duplicates: counts?.duplicates ?? 0,
  };
}

/** Writes the file's ledger row and advances the watermark, in the file's transaction. */
async function recordInLedger(
  tx: SqlSession,
  dataset: Dataset,
  file: ListedFile,
  counts: FileCounts,
): Promise<void> {
  await tx.query(RECORD_FILE, [
    dataset.name,
    file.fileName,
    file.key,
    file.etag,
    counts.rowsRead,
    counts.inserted,
    counts.updated,
    counts.unchanged,
    counts.olderSkipped,
    counts.alarmsDropped,
    counts.sentinelsDropped,
    counts.duplicates,
    counts.quarantined,
  ]);
}

/** A lap timer: each call returns the ms since the previous call (or since it was made). */
function stopwatch(): () => number {
  let last = performance.now();
  return () => {
    const now = performance.now();
    const ms = Math.round((now - last) * 10) / 10;
    last = now;
    return ms;
  };
}

interface QuarantineEntry {
  line: number;
  reason: string;
  fields: string[];
}

/**
 * Why a step failed: once the run is stopped, the signal's reason ("Interrupted by SIGTERM …"),
 * not what the stop caused ("canceling statement due to user request").
 */
function stopReason(error: unknown, signal: AbortSignal | undefined): unknown {
  return signal?.aborted ? signal.reason : error;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Resolves once the event loop has turned and polled for events, so a signal that came while
 * this thread was busy is delivered (~2 ms; `setImmediate` or one I/O call is not enough).
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
