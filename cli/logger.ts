/**
 * Run logs: a progress bar and readable lines on a terminal, otherwise one JSON object per line
 * (time, level, event, dataset, key, counts, duration) that a log viewer can filter.
 *
 * @module
 */

import { type DrainProgress, type DrainReport, endHolder } from "../core/drain.ts";
import type { AfterApplyReport } from "../core/run_after_apply.ts";

/** A dataset's report as the `run` line tells it: the drain's, and its post-apply steps'. */
type RunReport = DrainReport & { afterApply?: AfterApplyReport };

/** Ignored keys named in a run's log line (their number is always given). */
const IGNORED_KEYS_LOGGED = 20;

/** Where log lines go and how they look. */
export interface LoggerOptions {
  /** `json`: one object per line; `text`: lines for a person (with a progress bar on a TTY). */
  format: "json" | "text";
  /** Writes one line (or, for the progress bar, a carriage-return update). */
  write: (text: string) => void;
  /** Applied to every line. */
  redact?: (text: string) => string;
  /** Draw a progress bar (text format on a terminal). */
  progressBar?: boolean;
  /** Time source (tests). */
  now?: () => Date;
}

/** A logger for drain progress and run events. */
export interface Logger {
  /** Logs an event with fields. */
  log(level: "info" | "warn" | "error", event: string, fields?: Record<string, unknown>): void;
  /** Handles a drain progress event (progress bar, per-file lines). */
  progress(event: DrainProgress): void;
  /** Logs the end of a dataset's run. */
  runEnd(report: RunReport): void;
}

/**
 * Creates a logger.
 *
 * @example One JSON object per line, secrets redacted
 * ```ts
 * import { createLogger } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const lines: string[] = [];
 * const logger = createLogger({
 *   format: "json",
 *   write: (text) => lines.push(text),
 *   redact: (text) => text.replaceAll("s3cret", "***"),
 *   now: () => new Date("2026-06-15T14:00:00Z"),
 * });
 * logger.log("warn", "retrying", { dataset: "inc", error: "password s3cret refused" });
 * assert.deepEqual(JSON.parse(lines[0]!), {
 *   time: "2026-06-15T14:00:00.000Z",
 *   level: "warn",
 *   event: "retrying",
 *   dataset: "inc",
 *   error: "password *** refused",
 * });
 * ```
 */
export function createLogger(options: LoggerOptions): Logger {
  const lines = createLines(options);
  return {
    log: lines.log,
    progress: (event) => logProgress(lines, event),
    runEnd: (report) => logRunEnd(lines, report),
  };
}

/** A logger's output: redacted lines, and the progress bar that the next line clears. */
interface Lines {
  options: LoggerOptions;
  log: Logger["log"];
  /** A line for a person (text format), the progress bar cleared first. */
  say(text: string): void;
  /** Draws the progress bar (a carriage-return update). */
  drawBar(text: string): void;
  clearBar(): void;
}

function createLines(options: LoggerOptions): Lines {
  const redact = options.redact ?? ((text: string) => text);
  const now = options.now ?? (() => new Date());
  const write = (text: string) => options.write(redact(text));
  let bar = false;
  const clearBar = () => {
    if (bar) write("\r\x1b[2K");
    bar = false;
  };
  const drawBar = (text: string) => {
    write(text);
    bar = true;
  };
  const log: Logger["log"] = (level, event, fields = {}) => {
    if (options.format === "json") {
      write(JSON.stringify({ time: now().toISOString(), level, event, ...fields }) + "\n");
    } else {
      clearBar();
      const detail = Object.entries(fields)
        .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`)
        .join(" ");
      write(`${level === "info" ? "" : `${level.toUpperCase()} `}${event} ${detail}`.trim() + "\n");
    }
  };
  const say = (text: string) => {
    clearBar();
    write(`${text}\n`);
  };
  return { options, log, say, drawBar, clearBar };
}

/** A drain progress event: a `file_start` and a `file` line in JSON, the progress bar in text. */
function logProgress(lines: Lines, event: DrainProgress): void {
  const { options, log, drawBar, clearBar } = lines;
  if (event.type === "file_start") {
    if (options.format === "json") {
      log("info", "file_start", {
        dataset: event.dataset,
        key: event.key,
        action: event.action,
        size: event.size,
      });
    }
  } else if (event.type === "lock_wait") {
    logLockWait(lines, event);
  } else if (event.type === "settle_wait") {
    logSettleWait(lines, event);
  } else if (event.type === "batch") {
    if (!options.progressBar || options.format !== "text") return;
    drawBar(progressBar(event));
  } else if (event.type === "file_end") {
    if (options.format === "text") {
      clearBar();
      return; // the text report lists every file
    }
    const file = event.file;
    // Applied but left in changes/ (replaced while applied): a warning, or a cron log would
    // never show why the file is still there.
    // So is a file applied with quarantined lines: a log filtered on warn would miss them.
    const quarantined = (file.counts?.quarantined ?? 0) > 0;
    const level = file.status === "failed"
      ? "error"
      : file.notArchived || quarantined || file.missingColumns || file.notUtf8
      ? "warn"
      : "info";
    log(level, "file", {
      dataset: event.dataset,
      key: file.key,
      action: file.action,
      status: file.status,
      replaces: file.replaces,
      counts: file.counts,
      error: file.error,
      notArchived: file.notArchived,
      missingColumns: file.missingColumns,
      notUtf8: file.notUtf8,
      // The first lines set aside, as the text report lists them (before: only their count).
      quarantine: file.quarantine,
      durationMs: file.durationMs,
    });
  }
}

/** The progress bar's line: the file, the share read, the rows and megabytes so far. */
function progressBar(event: Extract<DrainProgress, { type: "batch" }>): string {
  const share = event.size > 0 ? Math.min(1, event.bytes / event.size) : 1;
  const filled = Math.round(share * 24);
  return `\r\x1b[2K${event.dataset} ${event.key.slice(event.key.lastIndexOf("/") + 1)} ` +
    `[${"#".repeat(filled)}${".".repeat(24 - filled)}] ${event.rows} rows, ` +
    `${(event.bytes / 1e6).toFixed(1)}/${(event.size / 1e6).toFixed(1)} MB`;
}

/** The end of a dataset's run: the `run` line in JSON (the text report says it otherwise). */
function logRunEnd({ options, log, clearBar }: Lines, report: RunReport): void {
  clearBar();
  if (options.format !== "json") return;
  // Keys in changes/ that are not change files (an export renamed): never applied, never
  // moved; a warning, or a cron log would never show them.
  // So are CSV files elsewhere in a bucket whose prefix for the dataset is empty.
  const ignored = report.ignoredKeys.length;
  const notReached = report.files.filter((f) => f.status === "not_reached").map((f) => f.key);
  const warn = ignored > 0 || report.csvElsewhere !== undefined || report.bucketEmpty === true;
  // Stopped in its post-apply steps: the record says interrupted, and so does this line (before:
  // "ok", with nothing of the stop but the process's exit 1).
  const stopped = report.afterApply?.interrupted;
  const level = report.status === "failed" ? "error" : warn || stopped ? "warn" : "info";
  log(level, "run", {
    dataset: report.dataset,
    mode: report.mode,
    reseed: report.reseed,
    database: report.database,
    status: report.status,
    files: report.files.length,
    totals: report.totals,
    watermark: report.watermark,
    ignored: ignored > 0 ? ignored : undefined,
    ignoredKeys: ignored > 0 ? report.ignoredKeys.slice(0, IGNORED_KEYS_LOGGED) : undefined,
    csvElsewhere: report.csvElsewhere,
    bucketEmpty: report.bucketEmpty,
    error: report.error,
    transient: report.transient,
    // The files a failed one kept waiting (the text report lists them as not_reached).
    notReached: notReached.length > 0 ? notReached : undefined,
    // A folder's files left for the next run: one was still being written.
    waiting: report.waiting,
    interrupted: stopped === undefined
      ? undefined
      : `${stopped.reason} during the post-apply steps: ${stopped.left.join(", ")} left to the ` +
        "next run",
    durationMs: report.durationMs,
  });
}

/** Waiting for a folder's file written moments ago to be still: a line for a person, or JSON. */
function logSettleWait(
  { options, log, say }: Lines,
  event: Extract<DrainProgress, { type: "settle_wait" }>,
): void {
  if (options.format === "json") {
    const waitS = Number((event.waitMs / 1000).toFixed(3));
    log("info", "settle_wait", { dataset: event.dataset, key: event.key, waitS });
    return;
  }
  // Under a second in ms: a file listed just short of the settle time waits a few ms (before:
  // "Waiting 0.0 s").
  const wait = event.waitMs >= 1000
    ? `${(event.waitMs / 1000).toFixed(1)} s`
    : `${Math.max(1, Math.round(event.waitMs))} ms`;
  say(
    `Waiting ${wait} for "${event.key}" to be still: it was written moments ago and may ` +
      `still be being written (FOLDER_SETTLE_SECONDS)`,
  );
}

/** `--wait-lock` waiting: a line for a person, or a JSON line with the holder's pid and words. */
function logLockWait(
  { options, log, say }: Lines,
  event: Extract<DrainProgress, { type: "lock_wait" }>,
): void {
  const seconds = Math.ceil(event.waitMs / 1000);
  const { holder } = event;
  if (options.format === "json") {
    log("info", "lock_wait", {
      dataset: event.dataset,
      waitS: seconds,
      ...(holder === undefined ? {} : { holderPid: holder.pid, holder: holder.who }),
    });
    return;
  }
  say(
    `Waiting up to ${seconds} s for the run lock of ${event.dataset.toUpperCase()}: another run ` +
      `holds it${holder === undefined ? "" : ` (${holder.who}); ${endHolder(holder.pid)}`}`,
  );
}
