-- Every ticket of INC and CRQ in one shape for the read API (`serve`: /api/tickets, its CSV,
-- and /api/tickets/{id}), as of p_now. Open INC tickets come from tickets.inc_open_sla_at (the
-- SLA rule lives there only), with tickets.minutes_to_breach (whole minutes until sla_due_at,
-- rounded down; negative once breached). Closed INC tickets and CRQ have no derived SLA state.
-- Plain SQL, stable and not strict, so the planner inlines it: a caller's filters on dataset,
-- is_open, cluster, team or geom reach the branches and their indexes.
create or replace function tickets.tickets_read_at(p_now timestamptz)
returns table (
  dataset text,
  ticket_id text,
  is_open boolean,
  normalized_status text,
  raw_status text,
  cluster text,
  region text,
  location_name text,
  assigned_team text,
  owner text,
  created_at_service timestamptz,
  first_seen_at timestamptz,
  closed_at timestamptz,
  hours_open numeric,
  sla_state text,
  sla_clock_source text,
  sla_due_at timestamptz,
  minutes_to_breach integer,
  sla_status text,
  mttr integer,
  geo_source text,
  source_updated_at timestamptz,
  geom geometry
)
language sql stable parallel safe as $$
  select 'inc'::text, s.ticket_id, true, s.normalized_status, s.raw_status, s.cluster, s.region,
         s.location_name, s.assigned_team, s.owner, s.created_at_service, s.first_seen_at,
         null::timestamptz, s.hours_open, s.sla_state, s.sla_clock_source, s.sla_due_at,
         tickets.minutes_to_breach(s.sla_due_at, p_now),
         null::text, null::integer, s.geo_source, s.source_updated_at, s.geom
  from tickets.inc_open_sla_at(p_now) s
  union all
  select 'inc'::text, i.ticket_id, false, i.normalized_status, i.raw_status, i.cluster, i.region,
         i.location_name, i.assigned_team, i.owner, i.created_at_service, i.first_seen_at,
         i.closed_at, null::numeric, null::text, null::text, null::timestamptz, null::integer,
         i.sla_status, i.mttr, i.geo_source, i.source_updated_at, i.geom
  from tickets.inc i
  where i.is_actionable is not true
  union all
  select 'crq'::text, c.ticket_id, coalesce(c.is_actionable, false), c.normalized_status,
         c.raw_status, c.cluster, c.region, c.location_name, c.assigned_team, c.owner,
         c.created_at_service, c.first_seen_at, c.closed_at, null::numeric, null::text,
         null::text, null::timestamptz, null::integer, c.sla_status, c.mttr, c.geo_source,
         c.source_updated_at, c.geom
  from tickets.crq c
$$;
