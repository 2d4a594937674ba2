-- A run's record is begun when the run takes its dataset's lock (status 'running', no end yet,
-- and the database session running it) and completed under its run key when it ends. Before, the
-- row was written only at the end: a run that ended without a word (kill -9, out of memory, the
-- machine stopping) left no row at all, and `status` reported the run before it as the last.
-- Now such a row stays 'running' with its session gone: `status` reads it as died, and the next
-- run of the dataset marks it 'died'.
alter table tickets.runs alter column finished_at drop not null;
alter table tickets.runs drop constraint runs_status_check;
alter table tickets.runs add constraint runs_status_check
  check (status in ('ok', 'failed', 'locked', 'interrupted', 'running', 'died'));
alter table tickets.runs add column session_pid integer;
alter table tickets.runs add column session_started_at timestamptz;
-- When the run took the lock and began its record (after any wait for another run's lock): the
-- files in the ledger since then are the ones it applied, while it has no end.
alter table tickets.runs add column locked_at timestamptz;
-- The last run of a dataset is the one that took its lock last: the row begun then has the
-- highest id (a row written whole at its end, as every row before this migration, gets it then).
create index runs_dataset_id_idx on tickets.runs (dataset, id desc);
