/**
 * Applying one change file (the load stage): stage its rows (the database's COPY parser, or the
 * JavaScript one), keep its quarantined lines, merge the stage into the dataset's table and write
 * the ledger row, all inside the transaction `drain` gives it.
 *
 * @module
 */

import {
  CLEAR_QUARANTINE,
  CREATE_PLAN,
  INSERT_QUARANTINE,
  insertStageSql,
  isEmptySql,
  lockWritersSql,
  mergeSettingsSql,
  mergeStageSql,
  PREPARE_STAGE,
  RECORD_FILE,
  RECORD_FILE_CLOSURES,
  seedPlanSql,
  STAGE,
  STAGE_COLUMNS,
} from "./_drain_queries.ts";
import type { ChangeKey } from "./change_key.ts";
import type { Dataset } from "./datasets.ts";
import {
  type DrainProgress,
  emptyCounts,
  type FileCounts,
  type FileReport,
} from "./drain_report.ts";
import { missingColumns, parseChangeFile } from "./parse_change_file.ts";
import { type ObjectStore, ObjectStoreError, type SqlSession } from "./ports/mod.ts";
import { checkRowsDataset, type ServiceTypeTally, tallyServiceType } from "./_rows_dataset.ts";
import { stageByCopy } from "./_stage_by_copy.ts";
import { stageParts, StageTimes } from "./_stage_times.ts";
import { stoppingSession } from "./_stopping_session.ts";
import { stopwatch } from "./_stopwatch.ts";

const BATCH_ROWS = 2000;
const SMALL_STAGE = 5000;
/** A field over this many bytes sends its file through the JavaScript parser. */
const COPY_MAX_FIELD_BYTES = 1 << 20;

/** A change file as the listing gave it: its name's parts, its version and its size. */
export interface ListedFile extends ChangeKey {
  etag: string;
  size: number;
  /** How long ago it was last written, ms, when the store knows (a folder). */
  writtenMsAgo?: number;
}

/** What the stages of one file need to know about the run. */
export interface FileContext {
  dataset: Dataset;
  /** A dry run: merge into the plan table, write nothing shared (no row locks). */
  plan?: boolean;
  signal?: AbortSignal;
  onProgress?: (event: DrainProgress) => void;
  parser?: "auto" | "javascript";
  /** Larger files take the JavaScript way (PGlite holds a COPY's input in memory). */
  copyMaxBytes: number;
  /** The database works on this thread (PGlite): no event, a signal too, is delivered meanwhile. */
  inThread: boolean;
  /** The file's line in the report: its profile and first quarantined lines are written there. */
  entry: FileReport;
}

/**
 * Applies one change file inside `session`: stage its rows (parse, clean, COPY), keep its quarantined
 * lines, merge the stage into the dataset's table, and record the file in the ledger.
 */
export async function applyFile(
  store: ObjectStore,
  session: SqlSession,
  file: ListedFile,
  context: FileContext,
): Promise<FileCounts> {
  const { dataset, entry, plan, signal } = context;
  // Once stopped, not one statement more (the merge above all), whatever the cancel reached.
  const tx = signal ? stoppingSession(session, signal) : session;
  const lap = stopwatch();
  if (!plan) await tx.query(CLEAR_QUARANTINE, [dataset.name, file.fileName]);
  const times = new StageTimes(signal);
  const copied = await stageFileByCopy(store, tx, file, context, times);
  const staged = copied ?? await stageFile(store, tx, file, context, times);
  const stageMs = lap();
  checkRowsDataset(file.key, dataset, staged.serviceTypes);
  if (!plan) await storeQuarantine(tx, dataset, file, staged.quarantine);
  const quarantineMs = lap();
  let target = dataset.table;
  if (plan) {
    // A dry run merges into a session-private copy of the rows it touches: no row locks.
    await tx.query(CREATE_PLAN);
    await tx.query(seedPlanSql(dataset.table, staged.stage));
    target = "fleettickets_plan";
  }
  // A header without some of the export's columns: their stored values are kept, and said.
  const missing = staged.columns === undefined ? [] : missingColumns(staged.columns);
  if (missing.length > 0) entry.missingColumns = missing;
  const counts = { ...staged.counts, ...await mergeStage(tx, target, file, staged, missing) };
  if (!plan && dataset.afterApply.includes("capture_history")) {
    const [row] = await tx.query<{ recorded: number | null }>(RECORD_FILE_CLOSURES, [
      file.fileName,
    ]);
    if (row?.recorded) entry.closuresRecorded = row.recorded;
  }
  const mergeMs = lap();
  // A stop asked for during the merge (which does not see the signal) still rolls the file back:
  // nothing is committed after it. The embedded database runs the merge on this thread, so a
  // SIGTERM that came meanwhile is delivered only once the event loop turns: let it.
  if (signal && context.inThread) await nextTurn();
  signal?.throwIfAborted();
  if (!plan) await recordInLedger(tx, dataset, file, counts);
  const parsedBy = copied ? "database" : "javascript";
  const stage = { stageMs, ...stageParts(stageMs, times) };
  entry.profile = { parsedBy, ...stage, quarantineMs, mergeMs, ledgerMs: lap() };
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
  /** The columns of the file's records (undefined when it has no ticket). */
  columns?: readonly string[];
  /** How many tickets name each dataset in `service_type`. */
  serviceTypes: ServiceTypeTally;
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
  times: StageTimes,
): Promise<StagedFile | undefined> {
  if (context.parser === "javascript" || file.size > context.copyMaxBytes) return undefined;
  // The object's own stream: a local file's lets stageByCopy read into one reused buffer. It
  // counts the bytes itself and fails the file when they are not the listed size.
  const body = await times.download(store.read(file.key, { etag: file.etag }));
  const copied = await stageByCopy(tx, file.key, body, {
    maxFieldBytes: COPY_MAX_FIELD_BYTES,
    expectedBytes: file.size,
    truncated: (bytes) => truncated(file, bytes),
    broken: (bytes, error) => brokenDownload(file, bytes, error),
    signal: context.signal,
    times,
    progress: copyProgress(file, context),
  });
  if (copied === undefined) return undefined;
  const { rowsRead, alarmsDropped, sentinelsDropped } = copied;
  const counts = { ...emptyCounts(), rowsRead, alarmsDropped, sentinelsDropped };
  return {
    rows: copied.rows,
    stage: copied.stage,
    counts,
    quarantine: [],
    columns: copied.columns,
    serviceTypes: copied.serviceTypes,
  };
}

/** Bytes between two progress events of the COPY way (an S3 body comes in ~16 KB chunks). */
const PROGRESS_BYTES = 1 << 20;

/**
 * The COPY way's progress, as the JavaScript way's batches tell it (before, a terminal showed no
 * bar for a file the database parsed: most files), at most once a MiB.
 */
function copyProgress(
  file: ListedFile,
  context: FileContext,
): ((records: number, bytes: number) => void) | undefined {
  const { dataset, onProgress } = context;
  if (onProgress === undefined) return undefined;
  let told = 0;
  return (rows, bytes) => {
    if (bytes - told < PROGRESS_BYTES && bytes < file.size) return;
    told = bytes;
    onProgress({
      type: "batch",
      dataset: dataset.name,
      key: file.key,
      size: file.size,
      rows,
      bytes,
    });
  };
}

/** Reads, parses and cleans the file, COPYing its tickets into the stage as they come. */
async function stageFile(
  store: ObjectStore,
  tx: SqlSession,
  file: ListedFile,
  context: FileContext,
  times: StageTimes,
): Promise<StagedFile> {
  await tx.exec(PREPARE_STAGE);
  const source = countedReader(store, file, times, context.signal);
  const body = await source.read();
  const staged: StagedFile = {
    rows: 0,
    stage: STAGE,
    counts: emptyCounts(),
    quarantine: [],
    serviceTypes: {},
  };
  const items = parseChangeFile(body, {
    key: file.key,
    reread: source.read,
    onNotUtf8: (found) => context.entry.notUtf8 = found,
  });
  staged.rows = await tx.copyRows(
    STAGE,
    STAGE_COLUMNS,
    times.timedItems(stageBatches(items, staged, { ...context, file, bytes: source.bytes })),
  );
  if (source.bytes() !== file.size) throw truncated(file, source.bytes());
  return staged;
}

/**
 * A read of the body that failed: the store's own words when it has them, else what broke and
 * where (before: the bare "aborted" of a connection closed mid-body; a tester's). As transient as
 * what broke.
 */
function brokenDownload(file: ListedFile, bytes: number, error: unknown): Error {
  if (error instanceof ObjectStoreError) return error;
  const why = error instanceof Error ? error.message : String(error);
  return new Error(
    `Cannot apply change file "${file.key}": the download broke after ${bytes} of ${file.size} ` +
      `bytes (${why}); the file was rolled back and will be retried`,
    { cause: error },
  );
}

/** A body cut short (a dropped connection, a proxy) must not pass for the whole file. */
function truncated(file: ListedFile, bytes: number): Error {
  return new Error(
    `Cannot apply change file "${file.key}": read ${bytes} bytes, the listing said ${file.size} (a truncated download or a file replaced mid-run); the file was rolled back and will be retried`,
  );
}

/**
 * Opens the object and counts its bytes, its waits counted as download. `bytes()` is the size of
 * the last full read: the stream, or the re-read that recovers a broken line (the first stream
 * then stops early). A read that fails says what broke and where, as the COPY way's does
 * ({@linkcode brokenDownload}; before: the socket's bare "aborted"), unless the run was stopped.
 */
function countedReader(
  store: ObjectStore,
  file: ListedFile,
  times: StageTimes,
  signal?: AbortSignal,
) {
  let bytes = 0;
  const read = async () => {
    bytes = 0;
    const reader = (await times.download(store.read(file.key, { etag: file.etag }))).getReader();
    const counted = new ReadableStream<Uint8Array>({
      async pull(controller) {
        let next: ReadableStreamReadResult<Uint8Array>;
        try {
          next = await reader.read();
        } catch (error) {
          controller.error(signal?.aborted ? error : brokenDownload(file, bytes, error));
          return;
        }
        if (next.done) return controller.close();
        bytes += next.value.byteLength;
        controller.enqueue(next.value);
      },
      cancel: (reason) => reader.cancel(reason),
    });
    // Timed where the parser reads: the stream's own read-ahead is no wait of the parser's.
    return times.timedBody(counted);
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
        // Every record holds every kept column of the header (an empty one as null).
        staged.columns ??= Object.keys(item.record);
        tallyServiceType(staged.serviceTypes, item.record.service_type);
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
  missing: string[],
): Promise<Pick<FileCounts, "inserted" | "updated" | "unchanged" | "olderSkipped" | "duplicates">> {
  // The temp table has no statistics: steer the join so a delta probes the primary key and a
  // baseline hashes (ANALYZE would cost more than a whole delta's merge).
  const [settings] = await tx.query<{ holds_rows: boolean }>(
    mergeSettingsSql(table, staged.rows < SMALL_STAGE),
  );
  const keep = missing.length > 0;
  const [counts] = settings?.holds_rows || !await lockedEmpty(tx, table)
    ? await tx.query<Record<string, number>>(
      mergeStageSql(table, staged.stage, keep),
      keep ? [file.fileName, missing] : [file.fileName],
    )
    : await tx.query<Record<string, number>>(insertStageSql(table, staged.stage), [
      file.fileName,
      staged.rows,
    ]);
  return {
    inserted: counts?.inserted ?? 0,
    updated: counts?.updated ?? 0,
    unchanged: counts?.unchanged ?? 0,
    olderSkipped: counts?.older_skipped ?? 0,
    duplicates: counts?.duplicates ?? 0,
  };
}

/**
 * Whether `table` holds no row, with every other writer kept out of it until the file's
 * transaction ends (a first baseline: its merge is then a plain insert).
 */
async function lockedEmpty(tx: SqlSession, table: string): Promise<boolean> {
  await tx.query(lockWritersSql(table));
  const [row] = await tx.query<{ empty: boolean }>(isEmptySql(table));
  return row?.empty === true;
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

interface QuarantineEntry {
  line: number;
  reason: string;
  fields: string[];
}

/**
 * Resolves once the event loop has turned and polled for events, so a signal that came while
 * this thread was busy is delivered (~2 ms; `setImmediate` or one I/O call is not enough).
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
