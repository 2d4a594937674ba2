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

// Transaction-local planner hints for joining the stage to the ticket table.
// work_mem: the merge sorts the whole stage (jsonb rows); 4 MB (the default) spills a baseline
// to disk.
export const PREFER_INDEX_JOIN = `
select set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true),
       set_config('work_mem', '64MB', true)`;
export const PREFER_HASH_JOIN = `
select set_config('enable_hashjoin', 'on', true), set_config('enable_mergejoin', 'on', true),
       set_config('work_mem', '64MB', true)`;

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

/**
 * $1 file name. Upserts the staged rows (the last row of a ticket in a file wins) and counts what
 * happened in the same statement. A row last written by a newer file is left alone, so ticket
 * state never moves backwards; an unchanged row still records the newer file (a late older file
 * must not overwrite it later) but keeps its ingested_at. Inserted rows have xmax = 0; a changed
 * row gets this statement's timestamp, so counts stay exact even when a dry run applies several
 * files in one transaction.
 */
export function mergeStageSql(table: string, stage: string): string {
  return `
with merged as (
  insert into ${ident(table)} as t (ticket_id, raw, source_file, ingested_at)
  select ticket_id, raw, $1, statement_timestamp() from (${latestStaged(stage)}) s
  on conflict (ticket_id) do update
  set raw = excluded.raw,
      source_file = excluded.source_file,
      ingested_at = case when t.raw = excluded.raw then t.ingested_at else excluded.ingested_at end
  where t.source_file <= excluded.source_file
  returning t.xmax = 0 as inserted, t.ingested_at = statement_timestamp() as changed
), staged as (
  select count(*) as all_rows, count(distinct ticket_id) as tickets from ${stage} s
)
select
  count(*) filter (where inserted)::int as inserted,
  count(*) filter (where not inserted and changed)::int as updated,
  count(*) filter (where not inserted and not changed)::int as unchanged,
  ((select tickets from staged) - count(*))::int as older_skipped,
  ((select all_rows - tickets from staged))::int as duplicates
from merged`;
}

/** $1 dataset, $2 file names. Ledger rows of the given files. */
export const SELECT_LEDGER = `
select file_name, etag from tickets.applied_files
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
 * history capture (its tickets are checked again, migration 010). $1 dataset, $2 file name, $3
 * key, $4 etag, $5..$13 counts.
 */
export const RECORD_FILE = `
with ledger as (
insert into tickets.applied_files (
  dataset, file_name, key, etag, rows_read, inserted, updated, unchanged, older_skipped,
  alarms_dropped, sentinels_dropped, duplicates, quarantined
) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
on conflict (dataset, file_name) do update set
  key = excluded.key, etag = excluded.etag, rows_read = excluded.rows_read,
  inserted = excluded.inserted, updated = excluded.updated, unchanged = excluded.unchanged,
  older_skipped = excluded.older_skipped, alarms_dropped = excluded.alarms_dropped,
  sentinels_dropped = excluded.sentinels_dropped, duplicates = excluded.duplicates,
  quarantined = excluded.quarantined, applied_at = now(), captured_at = null
returning 1
)
insert into tickets.import_meta (dataset, watermark, files_applied, last_applied_at)
values ($1, $2, 1, now())
on conflict (dataset) do update set
  watermark = greatest(tickets.import_meta.watermark, excluded.watermark),
  files_applied = tickets.import_meta.files_applied + 1,
  last_applied_at = now()`;

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

/** $1 dataset. */
export const SELECT_WATERMARK = `
select watermark from tickets.import_meta where dataset = $1`;
