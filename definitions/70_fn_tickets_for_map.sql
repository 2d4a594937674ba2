-- The map payload: a GeoJSON FeatureCollection of the geocoded tickets of INC and CRQ (open
-- only by default), plus a summary of what is on the map, what could not be placed, and the
-- freshness of each dataset. SLA fields are derived for open INC tickets only (CRQ has no SLA);
-- the source's sla_status is given for closed INC tickets (and CRQ's as sent), as /api/tickets does.
create or replace function reporting.fn_tickets_for_map(
  p_open_only boolean default true,
  p_now timestamptz default now()
) returns jsonb language plpgsql stable
-- Its queries are planned for the filters given, also on serve's pool (generic plans there).
set plan_cache_mode = auto as $$
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
        -- The source says Compliant on every open ticket: its verdict counts once closed.
        'sla_status', case when m.dataset = 'inc' and m.is_open then null else m.sla_status end,
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
      'by_sla_state', (select tickets.sla_split(array_agg(sla_state)) from mapped),
      'freshness', jsonb_build_object(
        'inc', tickets.freshness('inc', v_now),
        'crq', tickets.freshness('crq', v_now)
      )
    )
  ) into v_result;
  return v_result;
end
$$;
