-- Appends newly observed closures and upserts the snapshot of p_now's EAT day, in the caller's
-- transaction. A closure is recorded once it has happened (closed_at <= p_now) and the ticket
-- is not open again. Returns what it did, as jsonb (see core/capture.ts).
--
-- Which tickets it checks (migration 010): the day's first capture checks every closed ticket (a
-- full sweep), and so does a capture of an instant earlier than the last capture's (a backfill).
-- A later capture that day checks only the tickets that files applied since the last capture
-- wrote (the ledger rows not marked yet), and those whose closed_at fell due since that capture:
-- the only ways a ticket can gain a recordable closure without a full sweep. Files are read first
-- and exactly those are marked, so a file committed meanwhile waits for the next capture; a write
-- that bypasses the ledger is recorded once its closure falls due after a capture, or else by the
-- next full sweep (at the latest the next day's first capture).
-- No parallel workers: the daily sweep took 400-436 ms with them against 269-290 ms without on
-- a 2-core server (183k closures recorded), and on a shared server every core is in use anyway.
-- Waits for the history capture's turn (an advisory lock until the caller's transaction ends):
-- two captures at once could both count the history, or one mark a file the other had not
-- checked. Bounded: a capture left open in some session must not stall every run.
create or replace function tickets.take_capture_turn() returns void
language plpgsql as $$
declare
  v_since timestamptz := clock_timestamp();
begin
  while not pg_try_advisory_xact_lock(hashtextextended('tickets.capture_history', 0)) loop
    if clock_timestamp() - v_since > interval '60 seconds' then
      raise exception using errcode = '55P03', message = 'Cannot capture history: another '
        || 'capture has held its lock for 60 s (a session that called '
        || 'tickets.capture_history() and has not ended its transaction, or a run still '
        || 'applying a change file: each file records its closures)';
    end if;
    perform pg_sleep(0.05);
  end loop;
end
$$;

-- The closed tickets whose closure (ticket_id, closed_at) is not recorded yet and has happened by
-- p_now: among all of them (p_full), or among the rows p_files wrote and those whose closed_at
-- fell in (p_since, p_now]. The anti-join keeps the common case (nothing new) off the insert's
-- conflict path. A full sweep reads only (ticket_id, closed_at) pairs, from an index on each side
-- (migration 008's, the primary key); the other the rows of its files and of the closures due
-- since (indexes of migrations 009 and 001). EXECUTE plans it for this call's values, so each
-- kind gets its own plan (a cached generic plan would read the whole history every time).
create or replace function tickets.unrecorded_closures(
  p_full boolean, p_files text[], p_since timestamptz, p_now timestamptz
) returns text[]
language plpgsql stable as $$
declare
  v_ids text[];
begin
  execute $q$
    select array(
      select c.ticket_id
      from tickets.inc c
      where ($1 or c.source_file = any ($2) or (c.closed_at > $3 and c.closed_at <= $4))
        and c.closed_at is not null
        and c.closed_at <= $4
        and c.is_actionable is not true
        and not exists (
          select 1 from tickets.closure_events e
          where e.ticket_id = c.ticket_id and e.closed_at = c.closed_at
        )
    )$q$
  into v_ids using p_full, p_files, p_since, p_now;
  return v_ids;
end
$$;

-- Records the closures the tickets p_ids hold as of p_now, returns how many. The caller holds the
-- capture's turn (tickets.take_capture_turn). The tickets are read whole by key (a join let the
-- planner, expecting thousands, hash the whole table) and checked again: a ticket reopened since
-- its id was listed is not recorded, nor a closure it now holds that is recorded already (its
-- closed_at moved back since). Captures take turns, so this statement sees every closure
-- recorded: the anti-join is enough, and costs less than `on conflict do nothing` (its
-- speculative insertion: 18,309 closures in 150 ms, 98-106 ms with the anti-join). A caller in a
-- REPEATABLE READ transaction that began before another capture committed gets a unique
-- violation here, where `on conflict` gave it a serialization failure: either way an error,
-- never a closure recorded twice.
create or replace function tickets.record_closures(p_ids text[], p_now timestamptz)
returns integer language plpgsql as $$
declare
  v_added integer;
begin
  insert into tickets.closure_events (
    ticket_id, closed_at, observed_at, normalized_status, cluster, region, location_name,
    assigned_team, owner, created_at_service, first_seen_at, mttr, sla_status, source_file
  )
  select
    i.ticket_id, i.closed_at, p_now, i.normalized_status, i.cluster, i.region, i.location_name,
    i.assigned_team, i.owner, i.created_at_service, i.first_seen_at, i.mttr, i.sla_status,
    i.source_file
  from tickets.inc i
  where i.ticket_id = any (p_ids)
    and i.closed_at is not null
    and i.closed_at <= p_now
    and i.is_actionable is not true
    and not exists (
      select 1 from tickets.closure_events e
      where e.ticket_id = i.ticket_id and e.closed_at = i.closed_at
    );
  get diagnostics v_added = row_count;
  return v_added;
end
$$;

create or replace function tickets.capture_history(p_now timestamptz default now())
returns jsonb language plpgsql
set max_parallel_workers_per_gather = 0
as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_day date := tickets.eat_date(v_now);
  v_start timestamptz := tickets.eat_day_start(v_day);
  v_end timestamptz := tickets.eat_day_start(v_day + 1);
  v_added integer;
  v_files text[];
  v_ids text[];
  v_applied timestamptz[];
  v_last tickets.inc_daily_snapshot;
  v_latest timestamptz;
  v_in_order boolean;
  v_full boolean;
  v_since timestamptz;
  v_total integer;
  v_snap tickets.inc_daily_snapshot;
begin
  -- An instant to come: a sweep as of it would not see what is written until then.
  if v_now > now() + interval '5 minutes' then
    raise exception 'Cannot capture history as of %: that is in the future (now %)',
      tickets.eat_iso(v_now), tickets.eat_iso(now()) using errcode = '22023';
  end if;
  perform tickets.take_capture_turn();
  select * into v_last from tickets.inc_daily_snapshot where snapshot_date = v_day;
  select max(captured_at) into v_latest from tickets.inc_daily_snapshot;
  -- Later than (or as late as) every capture so far: the usual case. A capture of an earlier
  -- instant (a backfill) checks every closed ticket and marks nothing.
  v_in_order := v_latest is null or v_now >= v_latest;
  -- Checking only what changed needs the day's row to be the last capture's (its captured_at is
  -- where the closures fallen due since begin).
  v_full := not coalesce(v_in_order and v_last.captured_at = v_latest, false);
  v_since := v_last.captured_at;
  select coalesce(array_agg(file_name), '{}'), coalesce(array_agg(applied_at), '{}')
  into v_files, v_applied
  from tickets.applied_files where dataset = 'inc' and captured_at is null;

  v_ids := tickets.unrecorded_closures(v_full, v_files, v_since, v_now);
  v_added := tickets.record_closures(v_ids, v_now);

  -- Exactly the files read above (one applied again meanwhile has a new applied_at and stays),
  -- and only by a capture in time order: a backfill has not checked what falls due after it.
  if v_in_order then
    update tickets.applied_files f set captured_at = v_now
    from unnest(v_files, v_applied) as r(file_name, applied_at)
    where f.dataset = 'inc' and f.file_name = r.file_name and f.applied_at = r.applied_at
      and f.captured_at is null;
  end if;
  -- Counted by a full sweep; a later capture adds what it recorded to the day's row (captures
  -- take turns, above). A backfill that recorded closures leaves the last capture's total short:
  -- the next capture counts again.
  if v_full or v_last.closures_total is null then
    v_total := (select count(*) from tickets.closure_events);
  end if;
  if not v_in_order and v_added > 0 then
    update tickets.inc_daily_snapshot set closures_total = null
    where captured_at = v_latest and snapshot_date <> v_day;
  end if;
  with open_t as (
    select coalesce(s.cluster, '(none)') as cluster,
           coalesce(s.normalized_status, '(none)') as status,
           s.sla_state
    from tickets.inc_open_sla_at(v_now) s
  ),
  clusters as (
    select cluster,
           jsonb_build_object('total', count(*)) || tickets.sla_split(array_agg(sla_state)) as counts
    from open_t group by cluster
  ),
  statuses as (
    select status, count(*) as n from open_t group by status
  ),
  split as (
    select tickets.sla_split(array_agg(sla_state)) as s from open_t
  )
  insert into tickets.inc_daily_snapshot as t (
    snapshot_date, open_total, open_breached, open_at_risk, open_ok, open_unknown, by_cluster,
    by_status, created_today, closed_today, closures_observed_today, captured_at, closures_total
  )
  select
    v_day,
    (select count(*) from open_t),
    (select (s ->> 'breached')::int from split),
    (select (s ->> 'at_risk')::int from split),
    (select (s ->> 'ok')::int from split),
    (select (s ->> 'unknown')::int from split),
    coalesce((select jsonb_object_agg(cluster, counts) from clusters), '{}'),
    coalesce((select jsonb_object_agg(status, n) from statuses), '{}'),
    (select count(*) from tickets.inc_created_between(v_start, v_end, v_now)),
    (select count(*) from tickets.closure_events e
     where e.closed_at >= v_start and e.closed_at < v_end),
    (select count(*) from tickets.closure_events e
     where e.observed_at >= v_start and e.observed_at < v_end),
    v_now,
    v_total
  on conflict (snapshot_date) do update set
    open_total = excluded.open_total,
    open_breached = excluded.open_breached,
    open_at_risk = excluded.open_at_risk,
    open_ok = excluded.open_ok,
    open_unknown = excluded.open_unknown,
    by_cluster = excluded.by_cluster,
    by_status = excluded.by_status,
    created_today = excluded.created_today,
    closed_today = excluded.closed_today,
    closures_observed_today = excluded.closures_observed_today,
    captured_at = excluded.captured_at,
    closures_total = coalesce(excluded.closures_total, t.closures_total + v_added)
  returning * into v_snap;

  return jsonb_build_object(
    'snapshot_date', v_snap.snapshot_date,
    'snapshot_created', v_last.snapshot_date is null,
    'captured_at', tickets.eat_iso(v_snap.captured_at),
    'closures_added', v_added,
    'closures_total', v_snap.closures_total,
    'open_total', v_snap.open_total,
    'open_breached', v_snap.open_breached,
    'open_at_risk', v_snap.open_at_risk,
    'open_ok', v_snap.open_ok,
    'open_unknown', v_snap.open_unknown,
    'created_today', v_snap.created_today,
    'closed_today', v_snap.closed_today,
    'closures_observed_today', v_snap.closures_observed_today
  );
end
$$;
