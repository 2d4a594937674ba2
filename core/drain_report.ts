/**
 * What a drain reports: each file's counts and outcome, the run's report, and the progress events
 * sent while it runs. `drain.ts` re-exports them; the stages of one file fill them in.
 *
 * @module
 */

import type { Utf8Replacements } from "./utf8_replacements.ts";

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
  /**
   * The export's columns its header lacks: its tickets kept their stored values of these (a new
   * ticket has them empty).
   */
  missingColumns?: string[];
  /**
   * Characters of the file that were not UTF-8 (a file saved as Latin-1 or a Windows code page):
   * how many, each loaded as U+FFFD (`�`), and the line of the first. Absent when none.
   */
  notUtf8?: Utf8Replacements;
  /**
   * Closures the file left that were recorded into the history in its transaction (a dataset
   * whose history is captured); absent when none.
   */
  closuresRecorded?: number;
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
  /** Download, parse, clean and COPY into the stage: the sum of the next three. */
  stageMs: number;
  /** Of the stage: waiting for the object store (opening the object, reading its bytes). */
  downloadMs: number;
  /**
   * Of the stage: JavaScript's own work on the bytes (the database's way: checking the CSV's
   * shape; the JavaScript way: parsing, cleaning and batching the rows).
   */
  parseMs: number;
  /**
   * Of the stage: the database's part (the COPY: encoding and sending the rows, the server
   * parsing and storing them; the database's way: its row check too).
   */
  copyMs: number;
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
   * than `MAX_FUTURE_SKEW_MS` (drain.ts) ahead of now, or a symbolic link. The other files go
   * on; the run then fails (not transient) so `status` flags it.
   */
  setAside: { key: string; reason: string }[];
  /**
   * Change files left in `changes/` for the next run because one was still being written (a
   * folder's file written again while the run waited for it to be still: `settleMs`, drain.ts),
   * with the reason; absent when none. Not a failure.
   */
  waiting?: { key: string; reason: string }[];
  /**
   * Folders of the bucket holding CSV files, when the changes prefix listed nothing at all and
   * the dataset has never applied a file: files uploaded under another prefix (`inc/changes/`)?
   * From one look at the bucket's first keys (`findCsvElsewhere`, csv_elsewhere.ts); absent
   * otherwise.
   */
  csvElsewhere?: string[];
  /**
   * The bucket holds no object at all, when the changes prefix listed nothing and the dataset
   * has never applied a file: the wrong bucket? (`lookElsewhere`, csv_elsewhere.ts.)
   */
  bucketEmpty?: true;
  /** Sum over applied (or planned) files. */
  totals: FileCounts;
  /** Newest applied file name after the run. */
  watermark: string | null;
  /** Why the run failed, when it did. */
  error?: string;
  /** True when the failure is worth retrying as is (network, database); false for bad input. */
  transient?: boolean;
  /**
   * The database refused the run a write (a role that may not write, SQLSTATE 25006 or 42501).
   * When no file was applied before it, the post-apply steps, which it would refuse alike, are
   * not tried (ingest.ts).
   */
  writeRefused?: true;
  /** Wall time, ms. */
  durationMs: number;
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
  | { type: "file_end"; dataset: string; file: FileReport }
  /**
   * `--wait-lock`: another run holds the lock; this one waits up to `waitMs`. `holder`: who holds
   * it, on PostgreSQL when it can be seen (`PostgreSQL process 123, "fleettickets" from …`).
   */
  /**
   * A listed file was written `settleMs` ago or less: the run waits `waitMs` for it to be still
   * before it lists again.
   */
  | { type: "settle_wait"; dataset: string; key: string; waitMs: number }
  | {
    type: "lock_wait";
    dataset: string;
    waitMs: number;
    holder: { pid: number; who: string } | undefined;
  };

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

/** Adds `add` into `total`, count by count. */
export function addCounts(total: FileCounts, add: FileCounts): void {
  for (const name of Object.keys(total) as (keyof FileCounts)[]) total[name] += add[name];
}
