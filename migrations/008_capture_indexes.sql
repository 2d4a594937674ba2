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
