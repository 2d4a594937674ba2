/**
 * The run record: one row in `tickets.runs` per applying run of a dataset, read by `status`.
 *
 * @module
 */

import type { DrainReport } from "./drain.ts";
import { isTransient } from "./is_transient.ts";
import type { Database } from "./ports/mod.ts";
import type { AfterApplyReport } from "./run_after_apply.ts";

const RUN_COLUMNS = `run_key, dataset, started_at, finished_at, status, reseed, source,
  files_applied, files_archived, totals, error, transient`;

/**
 * Both attempts write the run under its key (drawn once per run): the row its start began
 * (migration 013) is completed, or made if the start could not write it; a second attempt writes
 * the same values again, so the run is stored once even if the first attempt's server session
 * outlived its connection and committed after the second began (migration 012; before, a check
 * for the same dataset, start and end could miss that row).
 */
const INSERT_RUN = `
with begun as (
  update tickets.runs set finished_at = $4, status = $5, files_applied = $8,
    files_archived = $9, totals = $10::text::jsonb, error = $11, transient = $12
  where run_key = $1::uuid
  returning id
)
insert into tickets.runs (${RUN_COLUMNS})
select $1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::jsonb, $11, $12
where not exists (select from begun) /* an insert takes an id even when it conflicts */
on conflict (run_key) do update set
  finished_at = excluded.finished_at, status = excluded.status,
  files_applied = excluded.files_applied, files_archived = excluded.files_archived,
  totals = excluded.totals, error = excluded.error, transient = excluded.transient`;

/**
 * Whether the session that began the run record `r` is still connected (and is not this one): a
 * `running` row whose session is gone belongs to a run that died without recording its end. A
 * session of another role shows no start time to a role without `pg_read_all_stats`: its process
 * id alone then. The embedded database has one session, so another run's is never there.
 */
export const RUN_SESSION_ALIVE = `exists (
  select 1 from pg_stat_activity a
  where a.pid = r.session_pid and a.pid <> pg_backend_pid()
    and (a.backend_start is null or a.backend_start = r.session_started_at))`;

/**
 * The files the run of record `r` applied while it has no end (running, or died): the ledger's
 * since it took the lock, up to when the next run of its dataset took it (a run lets go of the
 * lock for its post-apply steps, and the next one's files are its own).
 */
export const RUN_FILES = `(
  select count(*)::int from tickets.applied_files f
  where f.dataset = r.dataset and f.applied_at >= r.locked_at
    and f.applied_at < coalesce((select min(n.locked_at) from tickets.runs n
                                 where n.dataset = r.dataset and n.locked_at > r.locked_at),
                                'infinity'))`;

/**
 * $1 run key, $2 dataset, $3 start, $4 reseed, $5 source. Begins the run's record once it holds
 * the dataset's lock, with its session, and marks the dataset's earlier runs that never recorded
 * their end, whose sessions are gone, as `died`, with the files they applied (one that let go of
 * the lock for its post-apply steps is still connected, so still running).
 */
const BEGIN_RUN = `
with died as (
  update tickets.runs r set status = 'died', files_applied = ${RUN_FILES}
  where r.dataset = $2 and r.status = 'running' and not ${RUN_SESSION_ALIVE}
)
insert into tickets.runs (run_key, dataset, started_at, status, reseed, source, session_pid,
  session_started_at, locked_at)
select $1::uuid, $2, $3, 'running', $4, $5, pg_backend_pid(),
       (select backend_start from pg_stat_activity where pid = pg_backend_pid()), now()
on conflict (run_key) do nothing`;

/** The start of an applying run, as {@linkcode beginRun} records it. */
export interface RunStart {
  /** The run's key ({@linkcode RecordRunOptions.runKey}). */
  runKey: string;
  /** The dataset's name. */
  dataset: string;
  startedAt: Date;
  reseed: boolean;
  /** Where the files come from, redacted. */
  source: string;
}

/**
 * Begins an applying run's record (status `running`), once the run holds its dataset's lock, so
 * that a run killed before its end leaves a trace `status` reads as died. Throws what the
 * database says; {@linkcode recordRun} completes the row, or writes it whole if this did not.
 */
export async function beginRun(db: Database, start: RunStart): Promise<void> {
  await db.query(BEGIN_RUN, [
    start.runKey,
    start.dataset,
    start.startedAt,
    start.reseed,
    start.source,
  ]);
}

/** The wait before the second attempt, after a lost connection, ms. */
export const RECORD_RETRY_MS = 500;

/** Options for {@linkcode recordRun}. */
export interface RecordRunOptions {
  /** The run's key, the one {@linkcode beginRun} was given (default: a new one). */
  runKey?: string;
  /** When the run started. */
  startedAt: Date;
  /** When it ended (default now). */
  finishedAt?: Date;
  /** Applied to the error text before it is stored. */
  redact?: (text: string) => string;
  /** The run was stopped by a signal. */
  interrupted?: boolean;
  /**
   * Post-apply steps that failed: stored as the run's error (its status stays what the drain
   * says: the files are applied), so `status` sees them.
   */
  afterApplyErrors?: readonly string[];
  /**
   * The signal stopped the post-apply steps (after the files were applied): the run is recorded
   * as interrupted, naming the steps left to the next run.
   */
  afterApplyInterrupted?: AfterApplyReport["interrupted"];
}

/** The error stored for a run stopped by a signal during its post-apply steps. */
function afterApplyInterruptedError(stop: NonNullable<AfterApplyReport["interrupted"]>): string {
  return `${stop.reason} during the post-apply steps: the applied files are kept; ` +
    `${stop.left.join(", ")} left to the next run`;
}

/** The error stored for a run whose files are applied but some post-apply steps failed. */
export function afterApplyError(errors: readonly string[]): string {
  return `Post-apply steps failed (the next run does them again): ${errors.join("; ")}`;
}

/**
 * Stores a run record for an applying run; dry runs leave no trace, by design. A transient error
 * (a connection lost to a restart or failover, a statement timeout, too many connections) gets one
 * more attempt 0.5 s later, on a new connection if the old one is gone, under the same run key, so
 * the row is stored once whichever attempt's write lands (the first's answer may be what was
 * lost); a refusal is thrown at once, and so is any error of a run stopped by a signal (its grace
 * is short).
 *
 * @example Usage
 * ```ts ignore
 * import { createDirObjectStore, createPgliteDatabase, drain, INC, recordRun } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * const startedAt = new Date();
 * const report = await drain(createDirObjectStore("bucket"), db, { dataset: INC, apply: true });
 * await recordRun(db, report, { startedAt }); // read back by `status`
 * await db.close();
 * ```
 */
export async function recordRun(
  db: Database,
  report: DrainReport,
  options: RecordRunOptions,
): Promise<void> {
  if (report.mode !== "apply") return;
  const values = runValues(report, options);
  try {
    await db.query(INSERT_RUN, values);
  } catch (error) {
    if (options.interrupted || !isTransient(error)) throw error;
    await new Promise((resolve) => setTimeout(resolve, RECORD_RETRY_MS));
    await db.query(INSERT_RUN, values);
  }
}

/** The run record's values, in the order of RUN_COLUMNS. */
function runValues(report: DrainReport, options: RecordRunOptions): unknown[] {
  const redact = options.redact ?? ((text: string) => text);
  const stopped = options.interrupted &&
    (report.status === "failed" || options.afterApplyInterrupted !== undefined);
  return [
    options.runKey ?? crypto.randomUUID(),
    report.dataset,
    options.startedAt,
    options.finishedAt ?? new Date(),
    stopped ? "interrupted" : report.status,
    report.reseed,
    redact(report.source),
    report.files.filter((f) => f.status === "applied").length,
    report.files.filter((f) => f.status === "archived").length,
    JSON.stringify(report.totals),
    runError(report, options),
    // A stop during the post-apply steps: the next run does them (transient, as every stop).
    report.transient ?? (stopped ? true : null),
  ];
}

/** The run's error: the drain's, else the post-apply steps' stop and failures, else none. */
function runError(report: DrainReport, options: RecordRunOptions): string | null {
  const redact = options.redact ?? ((text: string) => text);
  if (report.error !== undefined) return redact(report.error);
  const said = [
    ...(options.afterApplyInterrupted
      ? [afterApplyInterruptedError(options.afterApplyInterrupted)]
      : []),
    ...(options.afterApplyErrors?.length ? [afterApplyError(options.afterApplyErrors)] : []),
  ];
  return said.length === 0 ? null : redact(said.join("; "));
}
