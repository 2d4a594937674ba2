-- Indexes for the history capture (tickets.capture_history), which runs after every applying run,
-- no-op runs included. It looks for closed tickets whose closure is not yet recorded: an
-- anti-join of every closed ticket against tickets.closure_events. With the pair in an index on
-- each side it reads two indexes (index-only once vacuum has passed) instead of ~19k wide ticket
-- rows, which took most of a no-op run's 140-190 ms capture in a fresh session.
create index inc_closed_pair_idx on tickets.inc (ticket_id, closed_at)
  where closed_at is not null and is_actionable is not true;
-- It also counts the tickets created on the day (the SLA clock's start): a scan of the whole
-- table (~55 ms of the same capture) without an index on that instant.
create index inc_clock_start_idx on tickets.inc ((coalesce(created_at_service, first_seen_at)));
-- Index-only scans need the visibility map that vacuum keeps. By default autovacuum waits for a
-- fifth of a table to change (7 or more deltas of ~600 rows on the 21k-ticket baseline), and for
-- 1,000 inserted rows more than that; at 100 rows + 2 % (~520 updated or ~520 inserted rows)
-- it visits tickets.inc after every delta or two, within its one-minute nap and so before the
-- next run 20 minutes later, and closure_events after a few hundred closures; the statistics stay
-- current for the read API too.
alter table tickets.inc set (autovacuum_vacuum_threshold = 100,
  autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_threshold = 100,
  autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
alter table tickets.closure_events set (autovacuum_vacuum_insert_threshold = 100,
  autovacuum_vacuum_insert_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
