-- fleettickets: the read layer (open-SLA view, map and dashboard payloads) and history capture
-- (closure events, daily backlog snapshots).
--
-- Helpers live in `tickets`; only the two payload functions the dashboard API calls are in the
-- `reporting` schema, which production shares with other projects.
--
-- Time: every calendar day here is an EAT (Africa/Nairobi, UTC+3, no DST) day, computed with an
-- explicit `at time zone`, and every timestamp in a JSON payload is written in EAT by
-- tickets.eat_iso(): nothing depends on the session TimeZone or DateStyle. Every function that
-- reads the clock takes p_now (default now()) so tests and backfills can ask "as of" an instant.

-- Instant -> ISO 8601 text in EAT, e.g. 2026-06-15T17:00:00+03:00 (NULL stays NULL). A
-- timestamptz put straight into jsonb would be rendered in the session TimeZone.
create or replace function tickets.eat_iso(p_ts timestamptz) returns text
language sql stable parallel safe as $$
  select to_char(p_ts at time zone 'Africa/Nairobi', 'YYYY-MM-DD"T"HH24:MI:SS"+03:00"')
$$;

-- The EAT calendar day of an instant.
create or replace function tickets.eat_date(p_ts timestamptz) returns date
language sql immutable parallel safe as $$
  select (p_ts at time zone 'Africa/Nairobi')::date
$$;

-- The instant an EAT calendar day starts (EAT midnight).
create or replace function tickets.eat_day_start(p_day date) returns timestamptz
language sql immutable parallel safe as $$
  select p_day::timestamp at time zone 'Africa/Nairobi'
$$;

-- Open SLA state from the age of the SLA clock. The contract closes within 48 h; 36 h is the
-- early warning. No clock at all is 'unknown' rather than a guess.
create or replace function tickets.sla_state(p_age interval) returns text
language sql immutable parallel safe as $$
  select case
    when p_age is null then 'unknown'
    when p_age >= interval '48 hours' then 'breached'
    when p_age >= interval '36 hours' then 'at_risk'
    else 'ok'
  end
$$;

-- Open INC tickets with their derived SLA state as of p_now. Open tickets all read 'Compliant'
-- at source, so the state is derived from the clock: created_at_service, else first_seen_at
-- (created_at_service is missing on most open tickets). hours_open is truncated, not rounded,
-- so hours_open >= 48 exactly when the state is breached. Plain SQL, stable and not strict so
-- the planner inlines it: a KNN `order by geog <-> point` over it still uses the GiST index.
create or replace function tickets.inc_open_sla_at(p_now timestamptz)
returns table (
  ticket_id text,
  normalized_status text,
  raw_status text,
  cluster text,
  region text,
  location_name text,
  assigned_team text,
  owner text,
  created_at_service timestamptz,
  first_seen_at timestamptz,
  sla_clock_at timestamptz,
  sla_clock_source text,
  sla_due_at timestamptz,
  hours_open numeric,
  sla_state text,
  source_updated_at timestamptz,
  latitude double precision,
  longitude double precision,
  geo_source text,
  geom geometry,
  geog geography
)
language sql stable parallel safe as $$
  select
    i.ticket_id, i.normalized_status, i.raw_status, i.cluster, i.region, i.location_name,
    i.assigned_team, i.owner, i.created_at_service, i.first_seen_at,
    c.clock_at,
    case
      when i.created_at_service is not null then 'created_at_service'
      when i.first_seen_at is not null then 'first_seen_at'
    end,
    c.clock_at + interval '48 hours',
    trunc(extract(epoch from p_now - c.clock_at) / 3600, 2),
    tickets.sla_state(p_now - c.clock_at),
    i.source_updated_at, i.latitude, i.longitude, i.geo_source, i.geom, i.geog
  from tickets.inc i
  cross join lateral (select coalesce(i.created_at_service, i.first_seen_at) as clock_at) c
  where i.is_actionable
$$;

-- The live open-SLA view for dashboards and dispatch (nearest open tickets by geog).
create view tickets.inc_open_sla as
select * from tickets.inc_open_sla_at(now());

-- Observed closures, append-only: tickets.inc is current state, so a closure is otherwise lost
-- when the ticket is reopened. One row per (ticket, closed_at): a ticket reopened and closed
-- again gets a second row. observed_at is the first capture that saw it (the first capture
-- backfills every closure already in tickets.inc). The other columns are the ticket as it
-- stood at that sighting.
create table tickets.closure_events (
  ticket_id text not null,
  closed_at timestamptz not null,
  observed_at timestamptz not null,
  normalized_status text,
  cluster text,
  region text,
  location_name text,
  assigned_team text,
  owner text,
  created_at_service timestamptz,
  first_seen_at timestamptz,
  -- Feed MTTR in minutes (not wall-clock closed_at - created_at_service: see the spec).
  mttr integer,
  -- Source Compliant/Breached, meaningful once closed.
  sla_status text,
  source_file text,
  primary key (ticket_id, closed_at)
);

create index closure_events_closed_at_idx on tickets.closure_events (closed_at);
create index closure_events_observed_at_idx on tickets.closure_events (observed_at);

create or replace function tickets.reject_history_change() returns trigger
language plpgsql as $$
begin
  raise exception 'Table "%" is append-only: % is not allowed', tg_table_name, lower(tg_op)
    using errcode = '55000';
end
$$;

-- History that cannot be reconstructed must not be rewritten by accident.
create trigger closure_events_append_only
before update or delete on tickets.closure_events
for each row execute function tickets.reject_history_change();

-- The open backlog, one row per EAT day, upserted by every capture of that day (the last
-- capture of a day stands). It accrues from the first capture on: a past day's backlog cannot
-- be rebuilt from current state.
create table tickets.inc_daily_snapshot (
  snapshot_date date primary key,
  open_total integer not null,
  open_breached integer not null,
  open_at_risk integer not null,
  open_ok integer not null,
  -- Open tickets with neither created_at_service nor first_seen_at.
  open_unknown integer not null,
  -- {"Westlands": {"total": 3, "breached": 1, "at_risk": 0, "ok": 2, "unknown": 0}, ...};
  -- a ticket without a cluster counts under "(none)".
  by_cluster jsonb not null,
  -- {"in_progress": 2, "pending": 1, ...} over open tickets; "(none)" for a missing status.
  by_status jsonb not null,
  -- Tickets whose SLA clock (created_at_service, else first_seen_at) falls on this day.
  created_today integer not null,
  -- Closure events whose closed_at falls on this day, as known at the last capture of the day
  -- (content lags ~2 days, so this undercounts; closures_observed_today does not lag).
  closed_today integer not null,
  -- Closure events first observed on this day: with created_today, what moved the backlog.
  closures_observed_today integer not null,
  captured_at timestamptz not null
);

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
  -- path; on conflict still covers a concurrent capture.
  insert into tickets.closure_events (
    ticket_id, closed_at, observed_at, normalized_status, cluster, region, location_name,
    assigned_team, owner, created_at_service, first_seen_at, mttr, sla_status, source_file
  )
  select
    i.ticket_id, i.closed_at, v_now, i.normalized_status, i.cluster, i.region, i.location_name,
    i.assigned_team, i.owner, i.created_at_service, i.first_seen_at, i.mttr, i.sla_status,
    i.source_file
  from tickets.inc i
  where i.closed_at is not null
    and i.closed_at <= v_now
    and i.is_actionable is not true
    and not exists (
      select 1 from tickets.closure_events e
      where e.ticket_id = i.ticket_id and e.closed_at = i.closed_at
    )
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
    select cluster, jsonb_build_object(
      'total', count(*),
      'breached', count(*) filter (where sla_state = 'breached'),
      'at_risk', count(*) filter (where sla_state = 'at_risk'),
      'ok', count(*) filter (where sla_state = 'ok'),
      'unknown', count(*) filter (where sla_state = 'unknown')
    ) as counts
    from open_t group by cluster
  ),
  statuses as (
    select status, count(*) as n from open_t group by status
  )
  insert into tickets.inc_daily_snapshot as t (
    snapshot_date, open_total, open_breached, open_at_risk, open_ok, open_unknown, by_cluster,
    by_status, created_today, closed_today, closures_observed_today, captured_at
  )
  select
    v_day,
    (select count(*) from open_t),
    (select count(*) from open_t where sla_state = 'breached'),
    (select count(*) from open_t where sla_state = 'at_risk'),
    (select count(*) from open_t where sla_state = 'ok'),
    (select count(*) from open_t where sla_state = 'unknown'),
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

-- Freshness of one dataset as of p_now: the newest applied change file (its name is its EAT
-- export time), when the drain last applied a file and last ran, and the content lag (p_now -
-- newest source updated_at; ~2 days is normal, file_age_hours growing means the export stalled).
create or replace function tickets.freshness(p_dataset text, p_now timestamptz default now())
returns jsonb language plpgsql stable as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_meta tickets.import_meta;
  v_newest timestamptz;
  v_file_time timestamptz;
begin
  case p_dataset
    when 'inc' then select max(source_updated_at) into v_newest from tickets.inc;
    when 'crq' then select max(source_updated_at) into v_newest from tickets.crq;
    else raise exception 'Unknown dataset "%": use inc or crq', p_dataset using errcode = '22023';
  end case;
  select * into v_meta from tickets.import_meta where dataset = p_dataset;
  -- 2026-06-15T17-00-00.csv -> 2026-06-15 17:00:00 (EAT); anything else reads as NULL.
  v_file_time := tickets.eat_ts(
    left(v_meta.watermark, 10) || ' ' || replace(substr(v_meta.watermark, 12, 8), '-', ':')
  );
  return jsonb_build_object(
    'dataset', p_dataset,
    'newest_file', v_meta.watermark,
    'newest_file_time', tickets.eat_iso(v_file_time),
    'file_age_hours', round(extract(epoch from v_now - v_file_time) / 3600, 1),
    'files_applied', coalesce(v_meta.files_applied, 0),
    'last_applied_at', tickets.eat_iso(v_meta.last_applied_at),
    'last_run_at', tickets.eat_iso(v_meta.last_run_at),
    'newest_source_updated_at', tickets.eat_iso(v_newest),
    'content_lag_hours', round(extract(epoch from v_now - v_newest) / 3600, 1)
  );
end
$$;

-- A GeoJSON Feature: Point geometry as [lon, lat] (6 decimals, ~0.1 m) and the properties.
create or replace function tickets.geojson_feature(p_geom geometry, p_properties jsonb)
returns jsonb language sql immutable parallel safe as $$
  select jsonb_build_object(
    'type', 'Feature',
    'geometry', st_asgeojson(p_geom, 6)::jsonb,
    'properties', p_properties
  )
$$;

-- The map payload: a GeoJSON FeatureCollection of the geocoded tickets of INC and CRQ (open
-- only by default), plus a summary of what is on the map, what could not be placed, and the
-- freshness of each dataset. SLA fields are derived for open INC tickets only (CRQ has no SLA).
create or replace function reporting.fn_tickets_for_map(
  p_open_only boolean default true,
  p_now timestamptz default now()
) returns jsonb language plpgsql stable as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_open_only boolean := coalesce(p_open_only, true);
  v_result jsonb;
begin
  with t as (
    select 'inc'::text as dataset, i.ticket_id, i.normalized_status, i.raw_status,
           coalesce(i.is_actionable, false) as is_open, i.cluster, i.region, i.location_name,
           i.assigned_team, i.owner, i.created_at_service, i.first_seen_at, i.closed_at,
           s.hours_open, s.sla_state, s.sla_clock_source, i.sla_status, i.mttr, i.geo_source,
           i.source_updated_at, i.geom
    from tickets.inc i
    left join tickets.inc_open_sla_at(v_now) s on s.ticket_id = i.ticket_id
    where i.is_actionable or not v_open_only
    union all
    select 'crq', c.ticket_id, c.normalized_status, c.raw_status,
           coalesce(c.is_actionable, false), c.cluster, c.region, c.location_name,
           c.assigned_team, c.owner, c.created_at_service, c.first_seen_at, c.closed_at,
           null, null, null, c.sla_status, c.mttr, c.geo_source, c.source_updated_at, c.geom
    from tickets.crq c
    where c.is_actionable or not v_open_only
  ),
  mapped as (
    select * from t where geom is not null
  )
  select jsonb_build_object(
    'type', 'FeatureCollection',
    'features', coalesce((
      select jsonb_agg(tickets.geojson_feature(m.geom, jsonb_build_object(
        'dataset', m.dataset,
        'ticket_id', m.ticket_id,
        'normalized_status', m.normalized_status,
        'raw_status', m.raw_status,
        'is_open', m.is_open,
        'cluster', m.cluster,
        'region', m.region,
        'location_name', m.location_name,
        'assigned_team', m.assigned_team,
        'owner', m.owner,
        'created_at_service', tickets.eat_iso(m.created_at_service),
        'first_seen_at', tickets.eat_iso(m.first_seen_at),
        'closed_at', tickets.eat_iso(m.closed_at),
        'hours_open', m.hours_open,
        'sla_state', m.sla_state,
        'sla_clock_source', m.sla_clock_source,
        'sla_status', m.sla_status,
        'mttr_hours', round(m.mttr / 60.0, 2),
        'geo_source', m.geo_source,
        'source_updated_at', tickets.eat_iso(m.source_updated_at)
      )) order by m.dataset, m.ticket_id)
      from mapped m
    ), '[]'::jsonb),
    'summary', jsonb_build_object(
      'generated_at', tickets.eat_iso(v_now),
      'open_only', v_open_only,
      'total', (select count(*) from mapped),
      'by_dataset', jsonb_build_object(
        'inc', (select count(*) from mapped where dataset = 'inc'),
        'crq', (select count(*) from mapped where dataset = 'crq')
      ),
      'unmapped', jsonb_build_object(
        'inc', (select count(*) from t where geom is null and dataset = 'inc'),
        'crq', (select count(*) from t where geom is null and dataset = 'crq')
      ),
      'by_status', coalesce((
        select jsonb_object_agg(status, n) from (
          select coalesce(normalized_status, '(none)') as status, count(*) as n
          from mapped group by 1
        ) x
      ), '{}'::jsonb),
      'by_sla_state', jsonb_build_object(
        'breached', (select count(*) from mapped where sla_state = 'breached'),
        'at_risk', (select count(*) from mapped where sla_state = 'at_risk'),
        'ok', (select count(*) from mapped where sla_state = 'ok'),
        'unknown', (select count(*) from mapped where sla_state = 'unknown')
      ),
      'freshness', jsonb_build_object(
        'inc', tickets.freshness('inc', v_now),
        'crq', tickets.freshness('crq', v_now)
      )
    )
  ) into v_result;
  return v_result;
end
$$;

-- The INC dashboard payload. Open tickets are live (the window does not apply); closed tickets
-- and the created/closed flow are those of the window, an inclusive range of EAT calendar days:
-- today, yesterday, 7d (today and the 6 days before), 30d, mtd (month to date), or custom
-- (p_from..p_to; ignored by the other windows). NULL window means 7d. Cluster and status
-- filters match case-insensitively and AND together; NULL or '' means no filter. "Created" is
-- the SLA clock (created_at_service, else first_seen_at); "closed" is closed_at of a ticket that
-- is not open again. See the README for the JSON contract.
create or replace function reporting.fn_inc_dashboard(
  p_cluster text default null,
  p_status text default null,
  p_window text default '7d',
  p_from date default null,
  p_to date default null,
  p_now timestamptz default now()
) returns jsonb language plpgsql stable as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_cluster text := lower(nullif(btrim(p_cluster), ''));
  v_status text := lower(nullif(btrim(p_status), ''));
  v_window text := lower(btrim(coalesce(p_window, '7d')));
  v_today date := tickets.eat_date(v_now);
  v_from date;
  v_to date;
  v_start timestamptz;
  v_end timestamptz;
  v_result jsonb;
begin
  case v_window
    when 'today' then v_from := v_today; v_to := v_today;
    when 'yesterday' then v_from := v_today - 1; v_to := v_today - 1;
    when '7d' then v_from := v_today - 6; v_to := v_today;
    when '30d' then v_from := v_today - 29; v_to := v_today;
    -- make_date, not date_trunc: date_trunc on a date goes through the session TimeZone.
    when 'mtd' then
      v_from := make_date(extract(year from v_today)::int, extract(month from v_today)::int, 1);
      v_to := v_today;
    when 'custom' then
      -- Dates in messages as ISO text, whatever the session DateStyle.
      if p_from is null or p_to is null then
        raise exception 'Window "custom" needs both p_from and p_to (got "%" and "%")',
          to_char(p_from::timestamp, 'YYYY-MM-DD'), to_char(p_to::timestamp, 'YYYY-MM-DD')
          using errcode = '22023';
      end if;
      if p_from > p_to then
        raise exception 'Window start "%" is after its end "%"',
          to_char(p_from::timestamp, 'YYYY-MM-DD'), to_char(p_to::timestamp, 'YYYY-MM-DD')
          using errcode = '22023';
      end if;
      v_from := p_from; v_to := p_to;
    else
      raise exception 'Unknown window "%": use today, yesterday, 7d, 30d, mtd or custom',
        p_window using errcode = '22023';
  end case;
  v_start := tickets.eat_day_start(v_from);
  v_end := tickets.eat_day_start(v_to + 1);

  with open_t as (
    select s.* from tickets.inc_open_sla_at(v_now) s
    where (v_cluster is null or lower(s.cluster) = v_cluster)
      and (v_status is null or lower(s.normalized_status) = v_status)
  ),
  filtered as (
    select i.* from tickets.inc i
    where (v_cluster is null or lower(i.cluster) = v_cluster)
      and (v_status is null or lower(i.normalized_status) = v_status)
  ),
  closed_t as (
    select f.* from filtered f
    where f.closed_at >= v_start and f.closed_at < v_end and f.is_actionable is not true
  ),
  created_t as (
    select coalesce(f.created_at_service, f.first_seen_at) as created_at from filtered f
    where coalesce(f.created_at_service, f.first_seen_at) >= v_start
      and coalesce(f.created_at_service, f.first_seen_at) < v_end
  ),
  days as (
    select v_from + g as day from generate_series(0, v_to - v_from) g
  )
  select jsonb_build_object(
    'generated_at', tickets.eat_iso(v_now),
    'filters', jsonb_build_object(
      'cluster', nullif(btrim(p_cluster), ''),
      'status', nullif(btrim(p_status), '')
    ),
    'window', jsonb_build_object(
      'name', v_window,
      'from', v_from,
      'to', v_to,
      'start', tickets.eat_iso(v_start),
      'end', tickets.eat_iso(v_end),
      'time_zone', 'Africa/Nairobi'
    ),
    'open', jsonb_build_object(
      'type', 'FeatureCollection',
      'features', coalesce((
        select jsonb_agg(tickets.geojson_feature(o.geom, jsonb_build_object(
          'ticket_id', o.ticket_id,
          'normalized_status', o.normalized_status,
          'raw_status', o.raw_status,
          'cluster', o.cluster,
          'region', o.region,
          'location_name', o.location_name,
          'assigned_team', o.assigned_team,
          'owner', o.owner,
          'created_at_service', tickets.eat_iso(o.created_at_service),
          'first_seen_at', tickets.eat_iso(o.first_seen_at),
          'sla_clock_source', o.sla_clock_source,
          'sla_due_at', tickets.eat_iso(o.sla_due_at),
          'hours_open', o.hours_open,
          'sla_state', o.sla_state,
          'geo_source', o.geo_source
        )) order by o.hours_open desc nulls last, o.ticket_id)
        from open_t o where o.geom is not null
      ), '[]'::jsonb)
    ),
    'closed', jsonb_build_object(
      'type', 'FeatureCollection',
      'features', coalesce((
        select jsonb_agg(tickets.geojson_feature(c.geom, jsonb_build_object(
          'ticket_id', c.ticket_id,
          'normalized_status', c.normalized_status,
          'raw_status', c.raw_status,
          'cluster', c.cluster,
          'region', c.region,
          'location_name', c.location_name,
          'assigned_team', c.assigned_team,
          'owner', c.owner,
          'created_at_service', tickets.eat_iso(c.created_at_service),
          'closed_at', tickets.eat_iso(c.closed_at),
          'mttr_hours', round(c.mttr / 60.0, 2),
          'sla_status', c.sla_status,
          'geo_source', c.geo_source
        )) order by c.closed_at desc, c.ticket_id)
        from closed_t c where c.geom is not null
      ), '[]'::jsonb)
    ),
    'metrics', jsonb_build_object(
      'open_total', (select count(*) from open_t),
      'open_mapped', (select count(*) from open_t where geom is not null),
      'open_sla', jsonb_build_object(
        'breached', (select count(*) from open_t where sla_state = 'breached'),
        'at_risk', (select count(*) from open_t where sla_state = 'at_risk'),
        'ok', (select count(*) from open_t where sla_state = 'ok'),
        'unknown', (select count(*) from open_t where sla_state = 'unknown')
      ),
      'closed_in_window', (select count(*) from closed_t),
      'closed_mapped', (select count(*) from closed_t where geom is not null),
      'mttr_hours', (
        select jsonb_build_object(
          'median', round((percentile_cont(0.5) within group (order by mttr) / 60)::numeric, 2),
          'p90', round((percentile_cont(0.9) within group (order by mttr) / 60)::numeric, 2),
          'count', count(mttr)
        ) from closed_t
      ),
      'closed_compliant', (select count(*) from closed_t where lower(sla_status) = 'compliant'),
      'closed_breached', (select count(*) from closed_t where lower(sla_status) = 'breached'),
      -- Of the closed tickets with a source verdict; NULL when there is none.
      'compliance_rate', (
        select round(
          count(*) filter (where lower(sla_status) = 'compliant')::numeric
            / nullif(count(*) filter (where lower(sla_status) in ('compliant', 'breached')), 0),
          4)
        from closed_t
      ),
      'flow', jsonb_build_object(
        'created', (select count(*) from created_t),
        'closed', (select count(*) from closed_t),
        'net', (select count(*) from created_t) - (select count(*) from closed_t),
        'by_day', (
          select jsonb_agg(jsonb_build_object(
            'date', d.day, 'created', coalesce(cr.n, 0), 'closed', coalesce(cl.n, 0)
          ) order by d.day)
          from days d
          left join (
            select tickets.eat_date(created_at) as day, count(*) as n from created_t group by 1
          ) cr using (day)
          left join (
            select tickets.eat_date(closed_at) as day, count(*) as n from closed_t group by 1
          ) cl using (day)
        )
      )
    ),
    'freshness', tickets.freshness('inc', v_now)
  ) into v_result;
  return v_result;
end
$$;
