-- Geometry resolution after a run placed only the rows written by the files that run applied: a
-- run stopped after a file's commit and before its post-apply steps (a kill, a redeploy, an
-- out-of-memory end), or whose geometry step failed, left those files' new tickets off the map
-- and out of dispatch for good, as later runs resolved only their own files. From here each
-- ledger row says whether its rows were placed; every applying run places the files not yet
-- placed, its own and any an earlier run left (tickets.resolve_applied_geometry()).
-- NULL: not yet placed. A re-applied file is unmarked again. Rows of a database migrated
-- earlier are NULL too: the first run after this migration places every ledger file's rows
-- once (0.3 s for 21k tickets; only rows whose answer changed are written), which also heals a
-- database that such a stopped run left with unplaced tickets.
alter table tickets.applied_files add column placed_at timestamptz;
create index applied_files_unplaced_idx on tickets.applied_files (dataset)
  where placed_at is null;
