-- The history capture runs after every applying run and, until now, compared every closed ticket
-- with every recorded closure: a cost that grows with history (246-281 ms a run once 183k closures
-- are recorded, against 46-54 ms now), not with what the run changed. From here a capture checks
-- the tickets that files applied since the last capture wrote, marked here once checked, plus
-- those whose closure fell due since; the first capture of each EAT day still checks every
-- closed ticket (a closure written some other way, by hand or by a restore, waits at most a day).
-- NULL: not yet checked by a capture (rows of a database migrated earlier: the next capture
-- checks their tickets once). A re-applied file is unmarked again. Only INC has a capture: CRQ's
-- rows stay NULL, outside the index.
alter table tickets.applied_files add column captured_at timestamptz;
create index applied_files_uncaptured_idx on tickets.applied_files (file_name)
  where captured_at is null and dataset = 'inc';
-- The number of closures recorded as of the day's last capture: counted by a capture that checks
-- every closed ticket, then kept up by each later capture's additions, so a capture with nothing
-- new does not count the whole history. NULL on rows written before this migration.
alter table tickets.inc_daily_snapshot add column closures_total integer;
