-- Open INC tickets with their derived SLA state as of p_now. Open tickets all read 'Compliant'
-- at source, so the state is derived from the clock: created_at_service, else first_seen_at
-- (created_at_service is missing on most open tickets). hours_open is truncated, not rounded,
-- so hours_open >= 48 exactly when the state is breached; never below 0 (a clock up to an hour
-- ahead, a skew tickets.sla_clock_at accepts, read -0.5 h open: a tester's). Plain SQL, stable
-- and not strict so the planner inlines it: a KNN `order by geog <-> point` over it still uses
-- the GiST index.
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
      when c.clock_at = i.created_at_service then 'created_at_service'
      when c.clock_at = i.first_seen_at then 'first_seen_at'
    end,
    c.clock_at + tickets.sla_breach_after(),
    case when c.clock_at > p_now then 0.00
         else trunc(extract(epoch from p_now - c.clock_at) / 3600, 2) end,
    tickets.sla_state(p_now - c.clock_at),
    i.source_updated_at, i.latitude, i.longitude, i.geo_source, i.geom, i.geog
  from tickets.inc i
  -- The first plausible of the two (tickets.sla_clock_at): a placeholder date or one ahead of
  -- p_now is skipped, and neither is no clock ('unknown').
  cross join lateral (
    select tickets.sla_clock_at(i.created_at_service, i.first_seen_at, p_now) as clock_at
  ) c
  where i.is_actionable
$$;

-- The live open-SLA view for dashboards and dispatch (nearest open tickets by geog).
create or replace view tickets.inc_open_sla as
select * from tickets.inc_open_sla_at(now());
