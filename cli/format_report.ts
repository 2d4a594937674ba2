/**
 * Human-readable rendering of a drain report (the `--json` form is the report itself).
 *
 * @module
 */

import { quoteIgnoredKeys } from "../core/change_key.ts";
import type { DrainReport, FileCounts, FileReport } from "../core/drain.ts";
import type { IngestReport } from "../core/ingest.ts";
import { DATASETS } from "../core/datasets.ts";
import { quoteCsvFolders } from "../core/csv_elsewhere.ts";
import type { Utf8Replacements } from "../core/utf8_replacements.ts";

function countsLine(c: FileCounts): string {
  return `read ${c.rowsRead}: +${c.inserted} new, ${c.updated} updated, ${c.unchanged} unchanged` +
    (c.olderSkipped ? `, ${c.olderSkipped} kept (newer data)` : "") +
    `; dropped ${c.alarmsDropped} alarm, ${c.sentinelsDropped} sentinel` +
    (c.duplicates ? `; ${c.duplicates} duplicate` : "") +
    (c.quarantined ? `; ${c.quarantined} QUARANTINED` : "");
}

/** What became of a file applied before, by its status (a dry run: still to be archived). */
const ALREADY_APPLIED: Partial<Record<FileReport["status"], string>> = {
  archived: "archived",
  skipped: "nothing to do (this file is not moved)",
};

/**
 * Renders a drain report as a few lines for a person at a terminal.
 *
 * @example Usage
 * ```ts
 * import { formatDrainReport } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const counts = {
 *   rowsRead: 120,
 *   inserted: 4,
 *   updated: 9,
 *   unchanged: 105,
 *   olderSkipped: 0,
 *   alarmsDropped: 1,
 *   sentinelsDropped: 1,
 *   duplicates: 0,
 *   quarantined: 0,
 * };
 * const text = formatDrainReport({
 *   dataset: "inc",
 *   mode: "apply",
 *   reseed: false,
 *   source: "dir:bucket",
 *   status: "ok",
 *   files: [{
 *     key: "automations/inc/changes/2026-06-15T17-00-00.csv",
 *     fileName: "2026-06-15T17-00-00.csv",
 *     etag: "9b2cf535f27731c974343645a3985328",
 *     action: "apply",
 *     status: "applied",
 *     counts,
 *     durationMs: 85,
 *   }],
 *   ignoredKeys: [],
 *   setAside: [],
 *   totals: counts,
 *   watermark: "2026-06-15T17-00-00.csv",
 *   durationMs: 97,
 * });
 * assert.equal(
 *   text,
 *   [
 *     "inc: apply from dir:bucket",
 *     "  2026-06-15T17-00-00.csv  applied     read 120: +4 new, 9 updated, 105 unchanged; " +
 *     "dropped 1 alarm, 1 sentinel  (85 ms)",
 *     "  watermark 2026-06-15T17-00-00.csv; ok in 97 ms",
 *   ].join("\n"),
 * );
 * ```
 */
export function formatDrainReport(report: IngestReport): string {
  const lines = [headLine(report)];
  if (report.status === "locked") {
    lines.push(`  skipped: ${report.error}`);
    return lines.join("\n");
  }
  // A run that failed before it listed anything (the bucket refused) found nothing either way.
  if (report.csvElsewhere !== undefined) lines.push(`  ${misplaced(report, report.csvElsewhere)}`);
  else if (report.bucketEmpty) lines.push(`  ${emptyBucket(report)}`);
  else if (report.files.length === 0 && report.status !== "failed" && !report.waiting) {
    lines.push("  no new change files");
  }
  for (const file of report.files) lines.push(...fileLines(file));
  for (const f of report.setAside) lines.push(`  SET ASIDE ${f.key}: ${f.reason}`);
  for (const f of report.waiting ?? []) lines.push(`  WAITS ${f.key}: ${f.reason}`);
  if (report.ignoredKeys.length > 0) {
    lines.push(
      `  ignored (not change files, never moved): ${quoteIgnoredKeys(report.ignoredKeys)}`,
    );
  }
  const applied = report.files.filter((f) => f.action === "apply" && f.counts).length;
  if (applied > 1) lines.push(`  total: ${countsLine(report.totals)}`);
  lines.push(...outcomeLines(report), ...afterRunLines(report));
  return lines.join("\n");
}

/**
 * A post-apply step or the run record that failed: the run exits 1, so its last line says why
 * (before: "ok in … ms" ended the report of a run that exited 1).
 */
function afterRunLines(report: IngestReport): string[] {
  const applied = report.files.some((f) => f.status === "applied");
  const kept = applied ? "the files stay applied" : "no file was applied";
  const lines = (report.afterApply?.errors ?? []).map((error) =>
    `  post-apply step failed: ${error} (${kept}; the next run does the step again)`
  );
  const stopped = report.afterApply?.interrupted;
  if (stopped !== undefined) {
    lines.push(
      `  post-apply steps stopped (${stopped.reason}): ${stopped.left.join(", ")} left ` +
        "to the next run (the files stay applied)",
    );
  }
  if (report.recordError !== undefined) lines.push(`  ${report.recordError} (${kept})`);
  return lines;
}

/** `inc: apply from dir:bucket`: the dataset, the mode, the source and the database. */
function headLine(report: DrainReport): string {
  const verb = report.mode === "apply" ? "apply" : "dry run (nothing written; --apply writes)";
  return `${report.dataset}: ${verb}${report.reseed ? ", reseed" : ""} from ${report.source}` +
    (report.database === undefined ? "" : `, into ${report.database}`);
}

/** A file's line (its status, and its counts when applied), then its quarantine and errors. */
function fileLines(file: FileReport): string[] {
  const lines: string[] = [];
  const head = `  ${file.fileName}  ${(file.status + replacesNote(file)).padEnd(11)}`;
  if (file.action === "archive") {
    lines.push(`${head} already applied, ${ALREADY_APPLIED[file.status] ?? "to be archived"}`);
  } else if (file.counts) {
    const closures = file.closuresRecorded
      ? `; ${file.closuresRecorded} closure(s) into the history`
      : "";
    lines.push(`${head} ${countsLine(file.counts)}${closures}  (${file.durationMs} ms)`);
  } else {
    lines.push(head.trimEnd());
  }
  if (file.missingColumns) lines.push(`      ${missingColumnsNote(file.missingColumns)}`);
  if (file.notUtf8) lines.push(`      ${notUtf8Note(file.notUtf8)}`);
  for (const q of file.quarantine ?? []) lines.push(`      line ${q.line}: ${q.reason}`);
  if (file.error) lines.push(`      error: ${file.error}`);
  if (file.notArchived) lines.push(`      not archived: ${file.notArchived}`);
  return lines;
}

/** What characters that were not UTF-8 became, and how to get them back. */
function notUtf8Note(found: Utf8Replacements): string {
  const one = found.characters === 1;
  return `${found.characters} character${one ? " was" : "s were"} not UTF-8 (the first on line ` +
    `${found.firstLine}) and ${one ? "is" : "are"} stored as "\uFFFD": was the file saved as ` +
    `Latin-1 or a Windows code page? Export it as UTF-8 and upload it again under its name`;
}

/** What a header without some of the export's columns did (their stored values kept). */
function missingColumnsNote(columns: readonly string[]): string {
  const shown = columns.length > 8
    ? [...columns.slice(0, 8), `${columns.length - 8} more`]
    : columns;
  return `its header lacks ${shown.join(", ")}: its tickets kept their stored ` +
    `value${columns.length === 1 ? "" : "s"} (a new ticket has ${
      columns.length === 1 ? "it" : "them"
    } empty)`;
}

/** The watermark and how the run ended; for a failed run, whether a rerun can help. */
function outcomeLines(report: DrainReport): string[] {
  const lines = [
    `  watermark ${report.watermark ?? "(none)"}; ${report.status} in ${report.durationMs} ms${
      report.error && report.status === "failed" ? `: ${report.error}` : ""
    }`,
  ];
  if (report.status === "failed") {
    lines.push(
      report.transient
        ? "  transient: the next run retries it as is"
        : "  not transient: every rerun fails the same way until the cause above is fixed",
    );
  }
  return lines;
}

/**
 * ` (replaces the version applied 2026-06-15T10:20:00+03:00, ETag 5d7d2a1c…)` for a file name
 * applied before with other content ("would replace" until it is applied); else nothing.
 */
function replacesNote(file: FileReport): string {
  if (file.replaces === undefined) return "";
  const verb = file.status === "applied" ? "replaces" : "would replace";
  const { appliedAt, etag } = file.replaces;
  const short = etag.length > 8 ? `${etag.slice(0, 8)}…` : etag;
  return ` (${verb} the version applied ${appliedAt}, ETag ${short})`;
}

/** Says that the dataset's prefix is empty and where the bucket holds CSV files instead. */
/** `no change files under "automations/inc/changes/"; ` then what the bucket holds instead. */
function noChangeFiles(report: DrainReport, instead: string): string {
  const prefix = DATASETS[report.dataset]?.changesPrefix;
  return `no change files${prefix === undefined ? "" : ` under "${prefix}"`}; ${instead}`;
}

function misplaced(report: DrainReport, folders: readonly string[]): string {
  return noChangeFiles(
    report,
    `the bucket has CSV files under ${quoteCsvFolders(folders)} (is the prefix right?)`,
  );
}

function emptyBucket(report: DrainReport): string {
  return noChangeFiles(
    report,
    "the bucket holds no files at all (is TICKETS_BUCKET the right bucket?)",
  );
}

/** The columns of `ingest --profile`: heading, width, and the value of a file. */
const PROFILE_COLUMNS: readonly [string, number, (file: FileReport) => number | undefined][] = [
  ["download", 9, (f) => f.profile?.downloadMs],
  ["parse", 7, (f) => f.profile?.parseMs],
  ["COPY", 7, (f) => f.profile?.copyMs],
  ["quarantine", 11, (f) => f.profile?.quarantineMs],
  ["merge", 7, (f) => f.profile?.mergeMs],
  ["ledger", 7, (f) => f.profile?.ledgerMs],
  ["commit", 7, (f) => f.profile?.commitMs],
  ["archive", 8, (f) => f.profile?.archiveMs],
  ["total (ms)", 11, (f) => f.durationMs],
];

/** Width of the file column, and the one that says who parsed it. */
const NAME_WIDTH = 28;
const PARSED_BY_WIDTH = 10;

/**
 * Renders where each file's time went (`ingest --profile`): the stage split into download,
 * parse and COPY, then quarantine, merge, ledger, commit, archive; then the post-apply steps,
 * each under the total column.
 */
export function formatProfile(reports: readonly IngestReport[]): string {
  const ms = (value: number | undefined, width: number) =>
    (value === undefined ? "-" : value.toFixed(1)).padStart(width);
  const heading = PROFILE_COLUMNS.map(([name, width]) => name.padStart(width)).join(" ");
  const lines = [`${"file".padEnd(NAME_WIDTH)} ${"parsed by".padEnd(PARSED_BY_WIDTH)} ${heading}`];
  const totalAt = lines[0]!.length;
  const stepLine = (name: string, value: number) =>
    `${name.padEnd(NAME_WIDTH)} ${ms(value, totalAt - NAME_WIDTH - 1)}`;
  for (const report of reports) {
    for (const file of report.files) {
      const columns = PROFILE_COLUMNS.map(([, width, value]) => ms(value(file), width)).join(" ");
      const name = `${report.dataset}/${file.fileName}`.padEnd(NAME_WIDTH);
      lines.push(`${name} ${(file.profile?.parsedBy ?? "-").padEnd(PARSED_BY_WIDTH)} ${columns}`);
    }
    const after = report.afterApply;
    if (after === undefined) continue;
    lines.push(stepLine(`${report.dataset} post-apply steps`, after.durationMs));
    for (const [step, stepMs] of Object.entries(after.stepsMs ?? {})) {
      lines.push(stepLine(`  ${step}`, stepMs));
    }
  }
  return lines.join("\n");
}
