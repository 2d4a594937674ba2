-- Appends newly observed closures and upserts the snapshot of p_now's EAT day, in the caller's
-- transaction. A closure is recorded once it has happened (closed_at <= p_now) and the ticket
-- is not open again. Returns what it did, as jsonb (see lib/capture.ts).
create or replace function tickets.capture_history(p_now timestamptz default now())
returns jsonb language plpgsql as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_day date := tickets.eat_date(v_now);
  v_start timestamptz := tickets.eat_day_start(v_day);
  v_end timestamptz := tickets.eat_day_start(v_day + 1);
  v_added integer;
  v_existed boolean;
  v_snap tickets.inc_daily_snapshot;
begin
  -- The anti-join keeps the common case (nothing new among ~20k closures) off the conflict
  -- path; on conflict still covers a concurrent capture. It reads only the (ticket_id,
  -- closed_at) pairs, from an index on each side (migration 008's, the primary key); just the
  -- rows it finds are then read whole.
  with missing as materialized (
    select c.ticket_id
    from tickets.inc c
    where c.closed_at is not null
      and c.closed_at <= v_now
      and c.is_actionable is not true
      and not exists (
        select 1 from tickets.closure_events e
        where e.ticket_id = c.ticket_id and e.closed_at = c.closed_at
      )
  )
  insert into tickets.closure_events (
    ticket_id, closed_at, observed_at, normalized_status, cluster, region, location_name,
    assigned_team, owner, created_at_service, first_seen_at, mttr, sla_status, source_file
  )
  select
    i.ticket_id, i.closed_at, v_now, i.normalized_status, i.cluster, i.region, i.location_name,
    i.assigned_team, i.owner, i.created_at_service, i.first_seen_at, i.mttr, i.sla_status,
    i.source_file
  from tickets.inc i
  -- The same row (one statement, one snapshot), looked up by its key: a join let the planner,
  -- expecting thousands of missing closures, hash the whole table (69 of a delta's 129 ms).
  where i.ticket_id = any (array(select ticket_id from missing))
  on conflict do nothing;
  get diagnostics v_added = row_count;

  v_existed := exists (select 1 from tickets.inc_daily_snapshot where snapshot_date = v_day);

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
    by_status, created_today, closed_today, closures_observed_today, captured_at
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
    (select count(*) from tickets.inc i
     where coalesce(i.created_at_service, i.first_seen_at) >= v_start
       and coalesce(i.created_at_service, i.first_seen_at) < v_end),
    (select count(*) from tickets.closure_events e
     where e.closed_at >= v_start and e.closed_at < v_end),
    (select count(*) from tickets.closure_events e
     where e.observed_at >= v_start and e.observed_at < v_end),
    v_now
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
    captured_at = excluded.captured_at
  returning * into v_snap;

  return jsonb_build_object(
    'snapshot_date', v_snap.snapshot_date,
    'snapshot_created', not v_existed,
    'captured_at', tickets.eat_iso(v_snap.captured_at),
    'closures_added', v_added,
    'closures_total', (select count(*) from tickets.closure_events),
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
