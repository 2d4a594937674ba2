-- The closures one applied change file leaves in tickets.inc, recorded in the file's own
-- transaction, right after its merge (core/_apply_file.ts, for a dataset whose history is
-- captured). Returns how many, or null when another capture holds the turn. A later file of the
-- same run that reopens a ticket overwrites its closed state before the run's capture looks: a
-- tester drained a generated stream in one run and 6 of 593 closures were never recorded (587
-- against 593 one file a run), so the closure and reopen counts depended on how many files a run
-- happened to drain. The rule is the capture's (tickets.record_closures: happened by now, the
-- ticket not open again), and so is the turn, held until the file's transaction ends; but a file
-- does not wait for it: while another session holds it (a capture by hand, or one left open in a
-- transaction), the file is applied and its closures are left to the run's capture (before, such
-- a session failed every file after 60 s). The day's snapshot keeps its total of recorded
-- closures (a later capture adds its own to it).
create or replace function tickets.record_file_closures(p_file text)
returns integer language plpgsql as $$
declare
  v_now timestamptz := now();
  v_added integer;
begin
  if not pg_try_advisory_xact_lock(hashtextextended('tickets.capture_history', 0)) then
    return null;
  end if;
  -- Its closed tickets; tickets.record_closures checks them again and leaves out those recorded.
  v_added := tickets.record_closures(array(
    select i.ticket_id from tickets.inc i
    where i.source_file = p_file and i.closed_at is not null and i.is_actionable is not true
  ), v_now);
  if v_added > 0 then
    update tickets.inc_daily_snapshot set closures_total = closures_total + v_added
    where snapshot_date = tickets.eat_date(v_now) and closures_total is not null;
  end if;
  return v_added;
end
$$;
