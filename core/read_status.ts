/**
 * `status`: per dataset, is the feed flowing and is the worker healthy? For people and for
 * cron / uptime monitors (exit code 1 when stale or failing).
 *
 * @module
 */

import { parseChangeKey, quoteIgnoredKeys } from "./change_key.ts";
import { eatIso } from "./eat_time.ts";
import { lookElsewhere, quoteCsvFolders } from "./csv_elsewhere.ts";
import { type Dataset, DATASETS } from "./datasets.ts";
import type { Clock, Database, ObjectStore } from "./ports/mod.ts";
import { ident } from "./_sql.ts";
import { RUN_TABLES, tablesNotWritable } from "./check_writes.ts";
import { RUN_FILES, RUN_SESSION_ALIVE } from "./record_run.ts";

/** Health of one dataset. */
export interface DatasetStatus {
  /** Dataset name. */
  dataset: string;
  /** `ok`, `stale` (no applied file for longer than the max age, in working hours) or `failing`. */
  health: "ok" | "stale" | "failing";
  /** Why it is not ok. */
  reasons: string[];
  /** Newest applied file. */
  watermark: string | null;
  /** When a file was last applied (ISO 8601, EAT). */
  lastAppliedAt: string | null;
  /** Distinct change files in the ledger: a file applied again (replaced, reseeded) counts once. */
  filesApplied: number;
  /** Applications of a file after its first (a replaced file applied again, a reseed). */
  reapplications: number;
  /** Change files waiting in the bucket (null when no bucket was given). */
  pendingFiles: number | null;
  /**
   * Keys in the bucket's `changes/` that are not change files, never applied or moved (a
   * renamed export, notes): a warning, not unhealthy. Null when no bucket was given.
   */
  ignoredKeys: string[] | null;
  /**
   * Folders of the bucket holding CSV files when the dataset's prefix lists nothing and it has
   * never applied a file (`""` for the top level): the files may sit under another prefix. A
   * warning, not unhealthy; absent otherwise ({@linkcode findCsvElsewhere}, as `ingest` says).
   */
  csvElsewhere?: string[];
  /** The bucket holds no object at all, in that same case: the wrong bucket? A warning too. */
  bucketEmpty?: true;
  /**
   * The latest applying run that was not skipped for a held lock: its outcome is the dataset's
   * (a run skipped right after an interrupted one does not hide the interruption).
   */
  lastRun: {
    startedAt: string;
    /** Null while it runs, and for a run that died without recording its end. */
    finishedAt: string | null;
    /**
     * `ok`, `failed`, `interrupted`, `running` (its database session is still connected), or
     * `died` (it began and never recorded its end: killed, out of memory, the machine stopped).
     */
    status: string;
    filesApplied: number;
    totals: Record<string, number>;
    error: string | null;
  } | null;
  /**
   * Runs skipped since `lastRun` because another run held the dataset's lock: how many, and when
   * the last of them ended (EAT). Null when there were none.
   */
  lockedSince: { runs: number; lastAt: string } | null;
  /** Rows in the dataset's table. */
  rows: number;
  /** Open (actionable) tickets. */
  openBacklog: number;
  /**
   * Hours between now and the newest `source_updated_at` (the export's content lag), of the
   * update times not more than an hour ahead of now.
   */
  contentLagHours: number | null;
  /** Tickets whose `source_updated_at` is more than an hour ahead of now (not in the lag). */
  futureUpdates: number;
  /** Rows held in quarantine. */
  quarantined: number;
}

/** The whole status report. */
export interface StatusReport {
  /** When it was taken (ISO 8601, EAT). */
  checkedAt: string;
  /**
   * The database read, as the adapters describe it (`PostgreSQL at host:port (database "…")`,
   * the embedded folder): a status of the wrong database must not pass for the right one's.
   */
  database?: string;
  /** Whether staleness counts now (06:00–21:00 EAT, when the export and the cron run). */
  workingHours: boolean;
  /** Per dataset. */
  datasets: DatasetStatus[];
  /** True when every dataset is ok. */
  healthy: boolean;
}

/** Options for {@linkcode readStatus}. */
export interface ReadStatusOptions {
  /** Bucket to count pending change files in (optional). */
  store?: ObjectStore;
  /** Hours without an applied file before a dataset is stale (default 2). */
  maxAgeHours?: number;
  /** Hours of content lag (now − newest `source_updated_at`) before a dataset is stale (default: not checked). */
  maxContentLagHours?: number;
  /** Datasets to report (default all). */
  datasets?: readonly Dataset[];
  /** Time source (tests). */
  clock?: Clock;
}

const META = `
select watermark, files_applied::int as files_applied, last_applied_at
from tickets.import_meta where dataset = $1`;

/**
 * The last run: the one that took the dataset's lock last (migration 013 begins its row then, so
 * its id is the highest), whatever its start or end. Before, by end or else start: a run that
 * waited for the lock started before the run it waited for ended, and once killed it never came
 * out as the last (HEALTHY for a dead run); and a run killed in its post-apply steps after the
 * next one took the lock is not the last (that one's steps did its files too). `running` says
 * whether the session that began it is still connected; the files of one still `running` are the
 * ledger's since it took the lock, up to the next run's (a row marked `died` holds them).
 */
const LAST_RUN = `
select r.id, r.started_at, r.finished_at, r.status, r.totals, r.error,
       r.status = 'running' and ${RUN_SESSION_ALIVE} as running,
       case when r.status = 'running' then ${RUN_FILES} else r.files_applied end as files_applied
from tickets.runs r where r.dataset = $1 and r.status <> 'locked'
order by r.id desc limit 1`;

/** $1 dataset, $2 the last run's id (null: none): the runs skipped for the lock since. */
const LOCKED_SINCE = `
select count(*)::int as runs, min(started_at) as first_at, max(finished_at) as last_at
from tickets.runs
where dataset = $1 and status = 'locked' and ($2::bigint is null or id > $2::bigint)`;

/** Distinct files in the ledger (one row per file name: a replaced file keeps its last ETag). */
const LEDGER_FILES = `select count(*)::int as n from tickets.applied_files where dataset = $1`;

const QUARANTINED = `select count(*)::int as n from tickets.quarantine where dataset = $1`;

/**
 * $1 now. An update time dated ahead of now (`tickets.dated_ahead`: a row dated 2099) is counted
 * apart, not as the newest: before, one such row held the content lag negative, and
 * `--max-content-lag` healthy, for good.
 */
function tableCounts(table: string): string {
  return `
select count(*)::int as rows, count(*) filter (where is_actionable)::int as open,
       max(source_updated_at) filter (where not tickets.dated_ahead(source_updated_at, $1))
         as newest,
       count(*) filter (where tickets.dated_ahead(source_updated_at, $1))::int as future
from ${ident(table)}`;
}

/**
 * An age for a person: in hours from an hour up (`hours` writes the number, `2.5 h`), below in
 * minutes (`6 min`) or seconds (`0.36 s`) rather than `0.0 h`.
 */
function ageText(ms: number, hours: (h: number) => string): string {
  if (ms >= 3600_000) return `${hours(ms / 3600_000)} h`;
  if (ms >= 60_000) return `${Math.round(ms / 60_000)} min`;
  return `${Number((ms / 1000).toPrecision(2))} s`;
}

/**
 * Reads the status of every dataset.
 *
 * @example Usage
 * ```ts ignore
 * import { createDirObjectStore, createPgliteDatabase, formatStatus, readStatus } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * const status = await readStatus(db, { store: createDirObjectStore("bucket"), maxAgeHours: 2 });
 * console.log(formatStatus(status));
 * await db.close();
 * if (!status.healthy) Deno.exitCode = 1; // for cron and uptime monitors
 * ```
 */
export async function readStatus(
  db: Database,
  options: ReadStatusOptions = {},
): Promise<StatusReport> {
  const now = options.clock?.now() ?? new Date();
  const eatHour = (now.getUTCHours() + 3) % 24;
  const check: Check = {
    now,
    maxAgeMs: (options.maxAgeHours ?? 2) * 3600_000,
    workingHours: eatHour >= 6 && eatHour < 21,
    maxContentLagHours: options.maxContentLagHours,
  };
  const datasets: DatasetStatus[] = [];
  for (const dataset of options.datasets ?? Object.values(DATASETS)) {
    datasets.push(await datasetStatus(db, dataset, options.store, check));
  }
  return {
    checkedAt: eatIso(now),
    workingHours: check.workingHours,
    datasets,
    healthy: datasets.every((d) => d.health === "ok"),
  };
}

/** What a dataset's freshness is checked against. */
interface Check {
  now: Date;
  maxAgeMs: number;
  /** Staleness counts only in working hours. */
  workingHours: boolean;
  maxContentLagHours?: number;
}

/** The dataset's `tickets.import_meta` row. */
type MetaRow = { watermark: string | null; files_applied: number; last_applied_at: Date | null };

/** The runs skipped for a held lock since the last run: how many, when the first began and the last ended. */
type LockedRow = { runs: number; first_at: Date | null; last_at: Date | null };

/** The dataset's table: rows, open tickets, newest update. */
type CountsRow = { rows: number; open: number; newest: Date | null; future: number };

/** The last applying run, as `tickets.runs` holds it. */
type RunRow = {
  id: unknown;
  started_at: Date;
  finished_at: Date | null;
  /** A `running` row whose session is still connected. */
  running: boolean;
  status: string;
  files_applied: number;
  totals: Record<string, number>;
  error: string | null;
};

/** The rows the status of one dataset is made of (each absent when its query found none). */
interface Facts {
  meta?: MetaRow;
  run?: RunRow;
  locked?: LockedRow;
  counts?: CountsRow;
  quarantined?: { n: number };
  ledger?: { n: number };
}

/** Reads one dataset's facts, checks them and says what its health is, and why. */
async function datasetStatus(
  db: Database,
  dataset: Dataset,
  store: ObjectStore | undefined,
  check: Check,
): Promise<DatasetStatus> {
  const { meta, run, locked, counts, quarantined, ledger } = await readFacts(
    db,
    dataset,
    check.now,
  );
  const bucket = await readBucket(store, dataset, meta?.watermark ?? null);
  const lastApplied = meta?.last_applied_at ?? null;
  const contentLagMs = counts?.newest ? check.now.getTime() - counts.newest.getTime() : null;
  const contentLagHours = contentLagMs === null ? null : Math.round(contentLagMs / 360_000) / 10;
  const failing = [
    ...await notWritable(db, dataset),
    ...runFailure(run),
    ...lockHeld(locked, check.now),
  ];
  const stale = [
    ...staleness(lastApplied, check),
    ...contentLag(contentLagMs, contentLagHours, check, counts?.future ?? 0),
  ];
  return {
    dataset: dataset.name,
    health: failing.length > 0 ? "failing" : stale.length > 0 ? "stale" : "ok",
    reasons: [...failing, ...stale],
    watermark: meta?.watermark ?? null,
    lastAppliedAt: lastApplied ? eatIso(lastApplied) : null,
    filesApplied: ledger?.n ?? 0,
    // import_meta counts every application of a file; the ledger holds each file once.
    reapplications: Math.max(0, (meta?.files_applied ?? 0) - (ledger?.n ?? 0)),
    ...bucket,
    lastRun: run ? lastRunOf(run) : null,
    lockedSince: locked?.last_at ? { runs: locked.runs, lastAt: eatIso(locked.last_at) } : null,
    rows: counts?.rows ?? 0,
    openBacklog: counts?.open ?? 0,
    contentLagHours,
    futureUpdates: counts?.future ?? 0,
    quarantined: quarantined?.n ?? 0,
  };
}

/** The dataset's rows, one query each (the last run bounds the skipped ones it counts). */
async function readFacts(db: Database, dataset: Dataset, now: Date): Promise<Facts> {
  const [meta] = await db.query<MetaRow>(META, [dataset.name]);
  const [run] = await db.query<RunRow>(LAST_RUN, [dataset.name]);
  const [locked] = await db.query<LockedRow>(LOCKED_SINCE, [dataset.name, run?.id ?? null]);
  const [counts] = await db.query<CountsRow>(tableCounts(dataset.table), [now]);
  const [quarantined] = await db.query<{ n: number }>(QUARANTINED, [dataset.name]);
  const [ledger] = await db.query<{ n: number }>(LEDGER_FILES, [dataset.name]);
  return { meta, run, locked, counts, quarantined, ledger };
}

/** What the bucket holds for the dataset: files pending, keys ignored, CSV files elsewhere. */
async function readBucket(
  store: ObjectStore | undefined,
  dataset: Dataset,
  watermark: string | null,
): Promise<
  Pick<DatasetStatus, "pendingFiles" | "ignoredKeys" | "csvElsewhere" | "bucketEmpty">
> {
  if (!store) return { pendingFiles: null, ignoredKeys: null };
  const keys = (await store.list(dataset.changesPrefix)).map((k) => k.key);
  const ignoredKeys = keys.filter((k) => parseChangeKey(k, dataset.changesPrefix) === null);
  const pendingFiles = keys.length - ignoredKeys.length;
  const elsewhere = keys.length === 0 && watermark === null
    ? await lookElsewhere(store, dataset)
    : {};
  return { pendingFiles, ignoredKeys, ...elsewhere };
}

/** A reason when the role cannot write the tables a run writes. */
async function notWritable(db: Database, dataset: Dataset): Promise<string[]> {
  // A run that cannot write cannot record itself either: without this, a read-only role
  // would look healthy for ever (its failed runs leave no trace in tickets.runs).
  const tables = await tablesNotWritable(db, [dataset.table, ...RUN_TABLES]);
  if (tables.length === 0) return [];
  return [`The database role cannot write ${tables.join(", ")}: ${whatIngestCannot(tables)}`];
}

/** What a run cannot do without `tables` (before: "neither apply nor record" for either). */
function whatIngestCannot(tables: readonly string[]): string {
  const records = tables.includes("tickets.runs");
  if (records && tables.length === 1) {
    return "ingest applies files but cannot record its runs (status cannot see them)";
  }
  return records
    ? "ingest can neither apply files nor record its runs"
    : "ingest cannot apply files (a run fails, and records that)";
}

/** A reason when the last run failed, was interrupted, or applied its files with an error. */
function runFailure(run: RunRow | undefined): string[] {
  if (run && runStatus(run) === "died") {
    return [
      `The last run died: it began at ${eatIso(run.started_at)} and never recorded its end ` +
      `(killed, out of memory, its machine stopped, or it lost the database before it could ` +
      `record it); ${diedKept(run.files_applied)}, ` +
      `what it had not committed rolled back, and the next run goes on from the watermark`,
    ];
  }
  if (run?.status === "failed" || run?.status === "interrupted") {
    const what = run.status === "interrupted" ? "was interrupted" : "failed";
    return [`The last run ${what}: ${run.error ?? "no error recorded"}`];
  }
  // Its files are applied, but the map, dispatch or the history lag until a run succeeds.
  if (run?.status === "ok" && run.error !== null) {
    return [`The last run applied its files: ${run.error}`];
  }
  return [];
}

/**
 * How long the runs since the last one may all be skipped for the dataset's lock before the
 * feed counts as held: three runs of the 20-minute schedule. A run takes seconds to minutes.
 */
export const LOCK_HELD_MAX_MS = 3600_000;

/**
 * A reason when every run for over {@linkcode LOCK_HELD_MAX_MS} was skipped because another
 * session held the dataset's lock (a run that hangs, a psql holding it). Before, status stayed
 * OK until the max age passed (2 h), and the skipped runs logged at `info` (an operator's).
 */
function lockHeld(locked: LockedRow | undefined, now: Date): string[] {
  if (!locked?.first_at || now.getTime() - locked.first_at.getTime() <= LOCK_HELD_MAX_MS) {
    return [];
  }
  return [
    `Every run for ${ageText(now.getTime() - locked.first_at.getTime(), (h) => h.toFixed(1))} ` +
    `was skipped (${locked.runs} ${locked.runs === 1 ? "run" : "runs"}): another session has ` +
    `held the dataset's lock since ${eatIso(locked.first_at)} or before; a run says who holds ` +
    `it, and the runbook how to end it if no run is going`,
  ];
}

/** A reason when no file was applied for longer than the max age, in working hours. */
function staleness(lastApplied: Date | null, { now, maxAgeMs, workingHours }: Check): string[] {
  if (workingHours && (lastApplied === null || now.getTime() - lastApplied.getTime() > maxAgeMs)) {
    return [
      lastApplied === null
        ? "No change file has been applied yet"
        : `No change file applied for ${
          ageText(now.getTime() - lastApplied.getTime(), (h) => h.toFixed(1))
        } (max ${ageText(maxAgeMs, String)})`,
    ];
  }
  return [];
}

/** A reason when the newest ticket update is older than the max content lag (when one is set). */
function contentLag(
  contentLagMs: number | null,
  contentLagHours: number | null,
  check: Check,
  future: number,
): string[] {
  const maxLag = check.maxContentLagHours;
  // Every update dated ahead: no lag to measure, which must not read as none (before: OK).
  if (maxLag !== undefined && contentLagHours === null && future > 0) {
    return [
      `Every ticket update is dated more than an hour ahead of now (${future} ticket(s)): the ` +
      `content lag cannot be measured; check the export's clock`,
    ];
  }
  if (maxLag !== undefined && contentLagHours !== null && contentLagHours > maxLag) {
    return [
      `The newest ticket update is ${ageText(contentLagMs!, (h) => h.toFixed(1))} old ` +
      `(max content lag ${ageText(maxLag * 3600_000, String)}): ` +
      `the export may be re-sending old data`,
    ];
  }
  return [];
}

/** What a run that died had applied (before: "a file it was applying rolled back", always). */
function diedKept(files: number): string {
  return files === 0 ? "it had applied no file" : `the ${files} file(s) it applied are kept`;
}

/** A run record's status as `status` tells it: a `running` one whose session is gone died. */
function runStatus(run: RunRow): string {
  return run.status === "running" && !run.running ? "died" : run.status;
}

function lastRunOf(run: RunRow): NonNullable<DatasetStatus["lastRun"]> {
  return {
    startedAt: eatIso(run.started_at),
    finishedAt: run.finished_at === null ? null : eatIso(run.finished_at),
    status: runStatus(run),
    filesApplied: run.files_applied,
    totals: run.totals,
    error: run.error,
  };
}

/** `1 file`, `2 files`. */
function files(n: number): string {
  return `${n} ${n === 1 ? "file" : "files"}`;
}

/**
 * Renders a status report for a person at a terminal.
 *
 * @example Usage
 * ```ts
 * import { formatStatus } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const text = formatStatus({
 *   checkedAt: "2026-06-15T14:00:00.000Z",
 *   workingHours: true,
 *   healthy: true,
 *   datasets: [{
 *     dataset: "inc",
 *     health: "ok",
 *     reasons: [],
 *     watermark: "2026-06-15T17-00-00.csv",
 *     lastAppliedAt: "2026-06-15T14:01:10.000Z",
 *     filesApplied: 42,
 *     reapplications: 0,
 *     pendingFiles: 0,
 *     ignoredKeys: [],
 *     lastRun: null,
 *     lockedSince: null,
 *     rows: 20956,
 *     openBacklog: 96,
 *     contentLagHours: 49.5,
 *     futureUpdates: 0,
 *     quarantined: 0,
 *   }],
 * });
 * assert.ok(text.startsWith("fleettickets status at 2026-06-15T14:00:00.000Z: HEALTHY\n"));
 * assert.ok(text.includes("inc: OK  watermark 2026-06-15T17-00-00.csv"));
 * ```
 */
export function formatStatus(report: StatusReport): string {
  const lines = [
    `fleettickets status at ${report.checkedAt}${
      report.workingHours ? "" : " (outside working hours: staleness not checked)"
    }: ${report.healthy ? "HEALTHY" : "UNHEALTHY"}`,
  ];
  if (report.database !== undefined) lines.push(`database: ${report.database}`);
  for (const d of report.datasets) lines.push(...datasetLines(d), ...warningLines(d));
  return lines.join("\n");
}

/** A dataset's state, its last run, the runs skipped since, and why it is not ok. */
function datasetLines(d: DatasetStatus): string[] {
  const lines = [
    `${d.dataset}: ${d.health.toUpperCase()}  watermark ${d.watermark ?? "(none)"}` +
    `, last applied ${d.lastAppliedAt ?? "never"}, ${files(d.filesApplied)} applied` +
    // Distinct files; with a file applied again, every application too (as import_meta counts).
    (d.reapplications > 0 ? ` (${d.filesApplied + d.reapplications} applications)` : "") +
    (d.pendingFiles === null ? "" : `, ${files(d.pendingFiles)} pending`),
    `  ${d.rows} tickets, ${d.openBacklog} open, content lag ${
      d.contentLagHours === null ? "n/a" : `${d.contentLagHours} h`
    }, ${d.quarantined} quarantined rows`,
  ];
  if (d.futureUpdates > 0) {
    lines.push(
      `  ${d.futureUpdates} ticket(s) updated more than an hour ahead of now (a clock or an ` +
        `export wrong?): not counted in the content lag`,
    );
  }
  if (d.lastRun) {
    lines.push(lastRunLine(d.lastRun));
  }
  if (d.lockedSince) {
    const runs = d.lockedSince.runs;
    lines.push(
      `  ${d.lastRun ? "since then " : ""}${runs} ${runs === 1 ? "run" : "runs"} skipped: ` +
        `another run held the lock (last ${d.lockedSince.lastAt})`,
    );
  }
  for (const reason of d.reasons) lines.push(`  ! ${reason}`);
  return lines;
}

/** The last run: when it ended and how, or since when it runs, or when the one that died began. */
function lastRunLine(run: NonNullable<DatasetStatus["lastRun"]>): string {
  if (run.finishedAt === null) {
    return run.status === "running"
      ? `  last run: running since ${run.startedAt}`
      : `  last run began ${run.startedAt}: ${run.status}, no end recorded`;
  }
  return `  last run ${run.finishedAt}: ${run.status}, ${files(run.filesApplied)} applied` +
    (run.error ? ` (${run.error})` : "");
}

/** What in the bucket looks misplaced: CSV files under another prefix, keys never applied. */
function warningLines(d: DatasetStatus): string[] {
  const lines: string[] = [];
  if (d.csvElsewhere !== undefined) {
    lines.push(
      `  warning: no change files under "${DATASETS[d.dataset]?.changesPrefix}"; the bucket ` +
        `has CSV files under ${quoteCsvFolders(d.csvElsewhere)} (is the prefix right?)`,
    );
  }
  if (d.bucketEmpty) {
    lines.push(
      `  warning: no change files under "${DATASETS[d.dataset]?.changesPrefix}"; the bucket ` +
        `holds no files at all (is TICKETS_BUCKET the right bucket?)`,
    );
  }
  if (d.ignoredKeys?.length) {
    lines.push(
      `  warning: ${d.ignoredKeys.length} key(s) in changes/ are not change files and are ` +
        `never applied or moved: ${quoteIgnoredKeys(d.ignoredKeys)}`,
    );
  }
  return lines;
}
