-- Six numbered migrations were edited after they were added (migrations/known_checksums.txt), and
-- a release may have applied an earlier text: from 2026-11-28 such a database was refused ("008
-- changed after it was applied"). It is accepted now, and this brings it to what the current
-- texts create. On a database that ran the current texts every statement here changes nothing
-- (the one index rebuilt is over the ledger's uncaptured rows: a few at most).

-- 005 before it took the files to resolve: the one-argument function would make a call with one
-- argument ambiguous beside the current one (definitions/90).
drop function if exists tickets.resolve_geometry(regclass);

-- 006 before dispatch's indexes over the open tickets' places.
create index if not exists inc_open_geog_idx on tickets.inc using gist (geog) where is_actionable;
create index if not exists crq_open_geog_idx on tickets.crq using gist (geog) where is_actionable;

-- 008 before (or with fewer of) its autovacuum settings for the capture's index-only scans.
alter table tickets.inc set (autovacuum_vacuum_threshold = 100,
  autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_threshold = 100,
  autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
alter table tickets.closure_events set (autovacuum_vacuum_insert_threshold = 100,
  autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);

-- 010 before its index of uncaptured files was keyed by file name.
drop index if exists tickets.applied_files_uncaptured_idx;
create index applied_files_uncaptured_idx on tickets.applied_files (file_name)
  where captured_at is null and dataset = 'inc';

-- 013 before a run's record had its lock time and the last run was read by id.
alter table tickets.runs add column if not exists locked_at timestamptz;
drop index if exists tickets.runs_dataset_ended_idx;
drop index if exists tickets.runs_dataset_last_idx;
create index if not exists runs_dataset_id_idx on tickets.runs (dataset, id desc);
