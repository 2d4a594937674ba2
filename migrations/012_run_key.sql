-- A run's record carries a key the worker draws once per run. Its second attempt, after a lost
-- connection, inserted the row only if no row had the run's dataset, start and end yet: a first
-- attempt whose server session outlived its lost connection and committed after that check
-- recorded the run twice. Both attempts now insert the same key and the second does nothing if
-- the first's row is there, whenever either commits. Rows recorded before have no key (NULL,
-- which the unique index lets repeat).
alter table tickets.runs add column run_key uuid;
create unique index runs_run_key_idx on tickets.runs (run_key);
