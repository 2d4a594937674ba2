// Named queries of the drain (load step). Private to this folder. Table names come from dataset
// configuration (never from input) and are quoted by `ident`; every value is a parameter.

import { ident } from "./_sql.ts";

/** The session's stage table (the JavaScript way), created once and emptied for each file. */
export const STAGE = "fleettickets_stage";

const CREATE_STAGE =
  `create temp table if not exists ${STAGE} (seq integer, ticket_id text, raw jsonb)`;

/** Creates or empties {@linkcode STAGE} (one round trip). */
export const PREPARE_STAGE = `${CREATE_STAGE};
truncate ${STAGE}`;

/**
 * Transaction-local planner hints for joining the stage to `table`, and whether `table` holds any
 * row (`holds_rows`: which form of the merge to run), in one round trip. A small stage probes the
 * primary key, a large one hashes. work_mem: the merge sorts the whole stage (jsonb rows); 4 MB
 * (the default) spills a baseline to disk.
 */
export function mergeSettingsSql(table: string, small: boolean): string {
  const join = small ? "off" : "on";
  return `
select set_config('enable_hashjoin', '${join}', true), set_config('enable_mergejoin', '${join}', true),
       set_config('work_mem', '64MB', true), exists (select from ${ident(table)}) as holds_rows`;
}

/**
 * A dry run merges into this session-private copy of the rows it touches, never into the
 * ticket table: no row locks, so a dry run of a large file never delays an applying run. Only
 * the columns the merge reads and writes. Rolled back with the dry run's transaction.
 */
export const CREATE_PLAN = `
create temp table if not exists fleettickets_plan (
  ticket_id text primary key, raw jsonb, source_file text, ingested_at timestamptz)`;

/**
 * Copies the staged tickets' current rows into the plan table (a plain read: no locks). `stage`
 * is {@linkcode STAGE} or the copy way's subquery (never input).
 */
export function seedPlanSql(table: string, stage: string): string {
  return `
insert into fleettickets_plan (ticket_id, raw, source_file, ingested_at)
select t.ticket_id, t.raw, t.source_file, t.ingested_at
from ${ident(table)} t
where t.ticket_id in (select ticket_id from ${stage} s)
on conflict (ticket_id) do nothing`;
}

// seq: the record's position in the file; the last record of a ticket wins.
export const STAGE_COLUMNS = ["seq", "ticket_id", "raw"] as const;

const latestStaged = (stage: string) => `
select distinct on (ticket_id) ticket_id, raw
from ${stage} s
order by ticket_id, seq desc`;

// The two forms of the merge below give the same rows and counts; they differ in speed only.
// $1 is the file name. The last row of a ticket in a file wins. A row last written by a newer
// file is left alone, so ticket state never moves backwards; an unchanged row still records the
// newer file (a late older file must not overwrite it later) but keeps its ingested_at. A changed
// row gets this statement's timestamp, so counts stay exact even when a dry run applies several
// files in one transaction. Inserted rows have xmax = 0. Both begin with MERGE_MARK, which tests
// and the chaos suite look for in pg_stat_activity.

/** The first line of either form of the merge. */
const MERGE_MARK = "-- merge the stage";

/**
 * The record a ticket gets from a staged `raw`: the staged record, or, for a file whose header
 * lacks some of the export's columns ($2, `keep`), the staged record with the stored values of
 * those columns (before: emptied, a closed ticket's closed_at with them).
 */
const merged = (stored: string, staged: string, keep: boolean) =>
  keep
    ? `(${staged} || (select coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb)
         from jsonb_each(${stored}) e where e.key = any($2::text[])))`
    : staged;

/** Inserts `rows` (ticket_id, raw), or updates a ticket the table holds already. */
const upsert = (table: string, rows: string, keep: boolean) => `
  insert into ${ident(table)} as t (ticket_id, raw, source_file, ingested_at)
  select ticket_id, raw, $1, statement_timestamp() from ${rows}
  on conflict (ticket_id) do update
  set raw = ${merged("t.raw", "excluded.raw", keep)},
      source_file = excluded.source_file,
      ingested_at = case when t.raw = ${merged("t.raw", "excluded.raw", keep)}
                         then t.ingested_at else excluded.ingested_at end
  where t.source_file <= excluded.source_file
  returning t.xmax = 0 as inserted, t.ingested_at = statement_timestamp() as changed`;

/** Ends the statement: counts what the `merged` rows (inserted, changed) say happened. */
const countMerged = (stage: string) =>
  `, staged as (
  select count(*) as all_rows, count(distinct ticket_id) as tickets from ${stage} s
)
select
  count(*) filter (where inserted)::int as inserted,
  count(*) filter (where not inserted and changed)::int as updated,
  count(*) filter (where not inserted and not changed)::int as unchanged,
  ((select tickets from staged) - count(*))::int as older_skipped,
  ((select all_rows - tickets from staged))::int as duplicates
from merged`;

/**
 * Keeps every other writer out of `table` until the file's transaction ends (readers are not
 * held): taken before a file merges into a table that held no row, so it still holds none.
 */
export function lockWritersSql(table: string): string {
  return `lock table ${ident(table)} in share row exclusive mode`;
}

/** Whether `table` holds no row (`empty`). */
export function isEmptySql(table: string): string {
  return `select not exists (select from ${ident(table)}) as empty`;
}

/**
 * The merge into a table that holds no row (a first baseline), locked by
 * {@linkcode lockWritersSql}: a plain insert of each ticket's last row, without an upsert's
 * speculative insertion (~9 % of a baseline's merge). $2 is the number of staged rows: every
 * ticket is inserted, so the rest are duplicates.
 */
export function insertStageSql(table: string, stage: string): string {
  return `${MERGE_MARK}
with inserted as (
  insert into ${ident(table)} (ticket_id, raw, source_file, ingested_at)
  select ticket_id, raw, $1, statement_timestamp() from (${latestStaged(stage)}) s
  returning 1
)
select count(*)::int as inserted, 0 as updated, 0 as unchanged, 0 as older_skipped,
       ($2::int - count(*))::int as duplicates
from inserted`;
}

/**
 * The merge into a table that holds rows: the tickets it holds are updated and only new ones
 * inserted. PostgreSQL computes a row's generated columns before an upsert looks for the
 * conflict, so an upsert of a ticket the table holds computed its 24 typed columns twice, and
 * of an unchanged one twice for nothing; here a changed ticket computes them once and an
 * unchanged one (which writes only `source_file`) not at all. The stage is read once into
 * `latest` (which costs a baseline ~150 ms: hence the other form for an empty table).
 */
export function mergeStageSql(table: string, stage: string, keep = false): string {
  const t = ident(table);
  const raw = merged("t.raw", "s.raw", keep);
  return `${MERGE_MARK}
with latest as materialized (${latestStaged(stage)}
), changed as (
  update ${t} as t set raw = ${raw}, source_file = $1, ingested_at = statement_timestamp()
  from latest s
  where t.ticket_id = s.ticket_id and t.source_file <= $1 and t.raw is distinct from ${raw}
  returning false as inserted, true as changed
), unchanged as (
  update ${t} as t set source_file = $1
  from latest s
  where t.ticket_id = s.ticket_id and t.source_file <= $1 and t.raw is not distinct from ${raw}
  returning false as inserted, false as changed
), added as (${
    upsert(
      table,
      `latest s where not exists (select from ${t} e where e.ticket_id = s.ticket_id)`,
      keep,
    )
  }
), merged as (
  select * from changed union all select * from unchanged union all select * from added
)${countMerged(stage)}`;
}

/**
 * $1 dataset, $2 file names. Ledger rows of the given files (ETag, and the time applied as EAT
 * text: written by the database, whatever the session's DateStyle).
 */
export const SELECT_LEDGER = `
select file_name, etag, tickets.eat_iso(applied_at) as applied_at from tickets.applied_files
where dataset = $1 and file_name = any($2::text[])`;

/** $1 dataset, $2 file name. A re-applied file replaces its earlier quarantine entries. */
export const CLEAR_QUARANTINE = `
delete from tickets.quarantine where dataset = $1 and file_name = $2`;

/** $1 dataset, $2 file name, $3 key, $4 JSON array text of {line, reason, fields} (cast via text: postgres.js would re-encode a string sent as jsonb). */
export const INSERT_QUARANTINE = `
insert into tickets.quarantine (dataset, file_name, key, line, reason, record)
select $1, $2, $3, (q ->> 'line')::integer, q ->> 'reason', q -> 'fields'
from jsonb_array_elements($4::text::jsonb) q`;

/**
 * Records a file as applied and advances the watermark (never backwards: a late file keeps it),
 * in the file's transaction and in one round trip. A file applied again is unmarked for the
 * history capture and the geometry resolution (its tickets are checked and placed again,
 * migrations 010 and 011). Its time is taken here, after the merge, just before the commit
 * (`clock_timestamp()`), not when the transaction began (`now()`: a baseline's seconds earlier,
 * when none of its rows could be seen yet). $1 dataset, $2 file name, $3 key, $4 etag, $5..$13
 * counts.
 */
export const RECORD_FILE = `
with applied as (select clock_timestamp() as at),
ledger as (
insert into tickets.applied_files (
  dataset, file_name, key, etag, rows_read, inserted, updated, unchanged, older_skipped,
  alarms_dropped, sentinels_dropped, duplicates, quarantined, applied_at
) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, (select at from applied))
on conflict (dataset, file_name) do update set
  key = excluded.key, etag = excluded.etag, rows_read = excluded.rows_read,
  inserted = excluded.inserted, updated = excluded.updated, unchanged = excluded.unchanged,
  older_skipped = excluded.older_skipped, alarms_dropped = excluded.alarms_dropped,
  sentinels_dropped = excluded.sentinels_dropped, duplicates = excluded.duplicates,
  quarantined = excluded.quarantined, applied_at = excluded.applied_at, captured_at = null,
  placed_at = null
returning 1
)
insert into tickets.import_meta (dataset, watermark, files_applied, last_applied_at)
values ($1, $2, 1, (select at from applied))
on conflict (dataset) do update set
  watermark = greatest(tickets.import_meta.watermark, excluded.watermark),
  files_applied = tickets.import_meta.files_applied + 1,
  last_applied_at = excluded.last_applied_at`;

/**
 * $1 file name. Records the closures the file's merge left (a dataset whose history is captured):
 * a later file of the same run may reopen the tickets before the run's capture looks. `recorded`
 * is null when another capture holds the turn (the run's capture records them then).
 */
export const RECORD_FILE_CLOSURES = `select tickets.record_file_closures($1) as recorded`;

/** $1 dataset. Marks a completed applying run (freshness: last run). */
export const TOUCH_LAST_RUN = `
insert into tickets.import_meta (dataset, last_run_at) values ($1, now())
on conflict (dataset) do update set last_run_at = now()`;

/**
 * Loads what writing a ticket needs into the session (definitions/15_warm_up.sql) and creates
 * its temp schema (the session's first temp table costs ~10 ms more than the next ones).
 */
export const WARM_UP = `select tickets.warm_up();
${CREATE_STAGE}`;

/**
 * $1 a run lock's name (`Database.tryLock`). Who holds that session advisory lock on PostgreSQL
 * (the key is `hashtextextended(name, 0)`, shown by pg_locks split in two: classid the high 32
 * bits, objid the low, objsubid 1): its process, application, client, seconds since it connected,
 * and state. No row once it is let go. Another role's session shows its pid and little else.
 */
export const SELECT_LOCK_HOLDER = `
select a.pid, a.application_name, host(a.client_addr) as client_addr,
       floor(extract(epoch from now() - a.backend_start))::int as connected_s, a.state
from pg_locks l
join pg_stat_activity a on a.pid = l.pid
where l.locktype = 'advisory' and l.granted and l.objsubid = 1
  and l.database = (select oid from pg_database where datname = current_database())
  and ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($1, 0)
limit 1`;

/** $1 dataset. */
export const SELECT_WATERMARK = `
select watermark from tickets.import_meta where dataset = $1`;
