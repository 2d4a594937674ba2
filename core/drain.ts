/**
 * The drain engine: every not-yet-applied change file of a dataset, oldest first, applied
 * exactly once (rows + ledger + watermark in one transaction), then archived.
 *
 * @module
 */

import {
  ADVANCE_WATERMARK,
  CLEAR_QUARANTINE,
  CLEAR_STAGE,
  CREATE_STAGE,
  INSERT_QUARANTINE,
  mergeStage,
  PREFER_HASH_JOIN,
  PREFER_INDEX_JOIN,
  SELECT_LEDGER,
  SELECT_WATERMARK,
  STAGE_COLUMNS,
  TOUCH_LAST_RUN,
  UPSERT_LEDGER,
} from "./_drain_queries.ts";
import { type ChangeKey, parseChangeKey } from "./change_key.ts";
import { ChangeFileError } from "./change_file_error.ts";
import { ObjectStoreError } from "./ports/mod.ts";
import type { Dataset } from "./datasets.ts";
import { parseChangeFile } from "./parse_change_file.ts";
import type { Database, ObjectStore, SqlSession } from "./ports/mod.ts";

const BATCH_ROWS = 2000;
const SMALL_STAGE = 5000;

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
  /** Outcome. `planned` in a dry run; `not_reached` when an earlier file failed. */
  status: "applied" | "archived" | "planned" | "failed" | "not_reached";
  /** Row counts (apply only). */
  counts?: FileCounts;
  /** Why it failed. */
  error?: string;
  /** First quarantined lines, for the report (all are in `tickets.quarantine`). */
  quarantine?: { line: number; reason: string }[];
  /** Wall time spent on the file, ms. */
  durationMs: number;
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
  /** `ok` (including nothing to do), `failed` (a file or the run), `locked` (another run). */
  status: "ok" | "failed" | "locked";
  /** Files considered, oldest first. */
  files: FileReport[];
  /** Keys under the changes prefix that are not change files (never ingested or moved). */
  ignoredKeys: string[];
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
  /** Stops between batches and files; the current file rolls back. */
  signal?: AbortSignal;
  /** Progress callback (a file started, a batch loaded, a file finished). */
  onProgress?: (event: DrainProgress) => void;
  /** How long to wait for another run's lock before giving up (default 0: do not wait). */
  waitLockMs?: number;
}

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
 */
export async function drain(
  store: ObjectStore,
  db: Database,
  options: DrainOptions,
): Promise<DrainReport> {
  const started = performance.now();
  const { dataset, apply = false, reseed = false, archive = true, signal, onProgress } = options;
  const lockDeadline = Date.now() + (options.waitLockMs ?? 0);
  const report: DrainReport = {
    dataset: dataset.name,
    mode: apply ? "apply" : "dry-run",
    reseed,
    source: store.description,
    status: "ok",
    files: [],
    ignoredKeys: [],
    totals: emptyCounts(),
    watermark: null,
    durationMs: 0,
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
        return report;
      }
    }
    const files = await listChangeFiles(store, dataset, report.ignoredKeys);
    const ledger = await readLedger(db, dataset, files);
    for (const file of files) {
      const applied = ledger.get(file.fileName);
      const committed = applied !== undefined && (applied === null || applied === file.etag);
      report.files.push({
        key: file.key,
        fileName: file.fileName,
        etag: file.etag,
        action: committed && !reseed ? "archive" : "apply",
        status: "not_reached",
        durationMs: 0,
      });
    }
    if (apply) {
      await applyAll(store, db, report, files, { dataset, archive, signal, onProgress });
      await db.query(TOUCH_LAST_RUN, [dataset.name]);
    } else {
      await planAll(store, db, report, files, { dataset, signal, onProgress });
    }
    const [meta] = await db.query<{ watermark: string | null }>(SELECT_WATERMARK, [dataset.name]);
    report.watermark = meta?.watermark ?? null;
  } catch (error) {
    report.status = "failed";
    report.error = describe(error);
    report.transient = isTransient(error);
  } finally {
    if (locked) await db.unlock(lockName).catch(() => {});
    report.durationMs = Math.round(performance.now() - started);
  }
  return report;
}

interface ListedFile extends ChangeKey {
  etag: string;
  size: number;
}

async function listChangeFiles(
  store: ObjectStore,
  dataset: Dataset,
  ignored: string[],
): Promise<ListedFile[]> {
  const files: ListedFile[] = [];
  for (const object of await store.list(dataset.changesPrefix)) {
    const parsed = parseChangeKey(object.key, dataset.changesPrefix);
    if (parsed === null) ignored.push(object.key);
    else files.push({ ...parsed, etag: object.etag, size: object.size });
  }
  // Names are fixed-width timestamps, so name order is time order.
  return files.sort((a, b) => a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0);
}

async function readLedger(
  db: Database,
  dataset: Dataset,
  files: ListedFile[],
): Promise<Map<string, string | null>> {
  const ledger = new Map<string, string | null>();
  if (files.length === 0) return ledger;
  const rows = await db.query<{ file_name: string; etag: string | null }>(SELECT_LEDGER, [
    dataset.name,
    files.map((f) => f.fileName),
  ]);
  for (const row of rows) ledger.set(row.file_name, row.etag);
  return ledger;
}

interface RunContext {
  dataset: Dataset;
  archive?: boolean;
  signal?: AbortSignal;
  onProgress?: (event: DrainProgress) => void;
}

async function applyAll(
  store: ObjectStore,
  db: Database,
  report: DrainReport,
  files: ListedFile[],
  context: RunContext,
): Promise<void> {
  const { dataset, archive, signal, onProgress } = context;
  for (const [i, file] of files.entries()) {
    const entry = report.files[i]!;
    const started = performance.now();
    onProgress?.({
      type: "file_start",
      dataset: dataset.name,
      key: file.key,
      size: file.size,
      action: entry.action,
    });
    try {
      signal?.throwIfAborted();
      if (entry.action === "apply") {
        entry.counts = await db.transaction((tx) =>
          applyFile(store, tx, file, { ...context, entry })
        );
        addCounts(report.totals, entry.counts);
      }
      // Only after commit: a crash before this line leaves a committed file in changes/,
      // which the next run archives without applying again.
      if (archive !== false) {
        await store.move(file.key, dataset.processedPrefix + file.fileName);
      }
      entry.status = entry.action === "apply" ? "applied" : "archived";
    } catch (error) {
      entry.status = "failed";
      entry.error = describe(error);
      report.status = "failed";
      report.error = entry.error;
      report.transient = isTransient(error);
      return; // Later files wait: the stream is applied in order.
    } finally {
      entry.durationMs = Math.round(performance.now() - started);
      onProgress?.({ type: "file_end", dataset: dataset.name, file: entry });
    }
  }
}

async function planAll(
  store: ObjectStore,
  db: Database,
  report: DrainReport,
  files: ListedFile[],
  context: RunContext,
): Promise<void> {
  const { dataset, onProgress } = context;
  try {
    // One transaction for the whole plan, so each file's counts see the files before it.
    await db.transaction(async (tx) => {
      for (const [i, file] of files.entries()) {
        const entry = report.files[i]!;
        const started = performance.now();
        try {
          if (entry.action === "apply") {
            entry.counts = await applyFile(store, tx, file, { ...context, entry });
            addCounts(report.totals, entry.counts);
          }
          entry.status = "planned";
        } catch (error) {
          entry.status = "failed";
          entry.error = describe(error);
          report.status = "failed";
          report.error = entry.error;
          report.transient = isTransient(error);
          break;
        } finally {
          entry.durationMs = Math.round(performance.now() - started);
          onProgress?.({ type: "file_end", dataset: dataset.name, file: entry });
        }
      }
      throw new DryRunRollback();
    });
  } catch (error) {
    if (!(error instanceof DryRunRollback)) throw error;
  }
}

async function applyFile(
  store: ObjectStore,
  tx: SqlSession,
  file: ListedFile,
  context: RunContext & { entry: FileReport },
): Promise<FileCounts> {
  const { dataset, signal, onProgress, entry } = context;
  const counts = emptyCounts();
  await tx.query(CREATE_STAGE);
  await tx.query(CLEAR_STAGE);
  await tx.query(CLEAR_QUARANTINE, [dataset.name, file.fileName]);

  const quarantine: QuarantineEntry[] = [];
  // Bytes of the last full read: the stream, or the re-read that recovers a broken line (the
  // first stream then stops early).
  let bytes = 0;
  const read = async () => {
    bytes = 0;
    return (await store.read(file.key)).pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          bytes += chunk.byteLength;
          controller.enqueue(chunk);
        },
      }),
    );
  };
  const body = await read();
  let seq = 0;
  async function* batches(): AsyncGenerator<string[][]> {
    let batch: string[][] = [];
    for await (const item of parseChangeFile(body, { key: file.key, reread: read })) {
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
          quarantine.push({ line: item.line, reason: item.reason, fields: item.fields });
          if ((entry.quarantine ??= []).length < 20) {
            entry.quarantine.push({ line: item.line, reason: item.reason });
          }
          break;
      }
      if (batch.length >= BATCH_ROWS) {
        signal?.throwIfAborted();
        yield batch;
        onProgress?.({
          type: "batch",
          dataset: dataset.name,
          key: file.key,
          rows: counts.rowsRead,
          bytes,
          size: file.size,
        });
        batch = [];
      }
    }
    signal?.throwIfAborted();
    yield batch;
  }
  const staged = await tx.copyRows("fleettickets_stage", STAGE_COLUMNS, batches());
  if (bytes !== file.size) {
    // A body cut short (a dropped connection, a proxy) must not pass for the whole file.
    throw new Error(
      `Cannot apply change file "${file.key}": read ${bytes} bytes, the listing said ${file.size} (a truncated download or a file replaced mid-run); the file was rolled back and will be retried`,
    );
  }
  // Quarantined rows go in after the COPY: no other statement may run on the session during it.
  for (let i = 0; i < quarantine.length; i += BATCH_ROWS) {
    await tx.query(INSERT_QUARANTINE, [
      dataset.name,
      file.fileName,
      file.key,
      JSON.stringify(quarantine.slice(i, i + BATCH_ROWS)),
    ]);
  }
  // The temp table has no statistics: steer the join so a delta probes the primary key and a
  // baseline hashes (ANALYZE would cost more than a whole delta's merge).
  await tx.query(staged < SMALL_STAGE ? PREFER_INDEX_JOIN : PREFER_HASH_JOIN);

  const [merge] = await tx.query<Record<string, number>>(mergeStage(dataset.table), [
    file.fileName,
  ]);
  counts.inserted = merge?.inserted ?? 0;
  counts.updated = merge?.updated ?? 0;
  counts.unchanged = merge?.unchanged ?? 0;
  counts.olderSkipped = merge?.older_skipped ?? 0;
  counts.duplicates = merge?.duplicates ?? 0;
  await tx.query(UPSERT_LEDGER, [
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
  await tx.query(ADVANCE_WATERMARK, [dataset.name, file.fileName]);
  return counts;
}

interface QuarantineEntry {
  line: number;
  reason: string;
  fields: string[];
}

/** Whether rerunning as is can succeed: not for bad input or a refused store. */
function isTransient(error: unknown): boolean {
  if (error instanceof ChangeFileError) return false;
  return !(error instanceof ObjectStoreError && error.terminal);
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
