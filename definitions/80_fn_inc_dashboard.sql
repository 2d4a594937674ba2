-- The INC dashboard payload. Open tickets are live (the window does not apply); closed tickets
-- and the created/closed flow are those of the window, an inclusive range of EAT calendar days:
-- today, yesterday, 7d (today and the 6 days before), 30d, mtd (month to date), or custom
-- (p_from..p_to; ignored by the other windows). NULL window means 7d. Cluster and status
-- filters match a name by tickets.name_key (any case, white space around it ignored) and AND
-- together; NULL or '' means no filter. "Created" is
-- the SLA clock (tickets.inc_created_between); "closed" is closed_at of a ticket that is not
-- open again, at or before now (a closed_at ahead of now has not happened: the capture records
-- no closure for it either; before, it counted as closed today, an auditor's). See the README for
-- the JSON contract. tickets.inc_dashboard builds it; without p_features, the open and closed
-- FeatureCollections are left out (reporting.fn_inc_dashboard_summary: the page's cards, which
-- use none of them; with 20,000 open tickets the whole payload took 2.4-5.6 s and 12.6 MB, a map
-- tester's).
create or replace function tickets.inc_dashboard(
  p_cluster text,
  p_status text,
  p_window text,
  p_from date,
  p_to date,
  p_now timestamptz,
  p_features boolean
) returns jsonb language plpgsql stable
-- Its queries are planned for the filters given, also on serve's pool (generic plans there).
set plan_cache_mode = auto as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_cluster text := nullif(tickets.name_key(p_cluster), '');
  v_status text := nullif(tickets.name_key(p_status), '');
  v_window text := lower(btrim(coalesce(p_window, '7d')));
  v_from date;
  v_to date;
  v_start timestamptz;
  v_end timestamptz;
  v_result jsonb;
begin
  -- The window's EAT days, and its errors (SQLSTATE 22023), come from tickets.eat_window.
  select w.from_day, w.to_day into v_from, v_to
  from tickets.eat_window(p_window, p_from, p_to, v_now) w;
  v_start := tickets.eat_day_start(v_from);
  v_end := tickets.eat_day_start(v_to + 1);

  with open_t as (
    select s.* from tickets.inc_open_sla_at(v_now) s
    where (v_cluster is null or tickets.name_key(s.cluster) = v_cluster)
      and (v_status is null or tickets.name_key(s.normalized_status) = v_status)
  ),
  filtered as (
    select i.* from tickets.inc i
    where (v_cluster is null or tickets.name_key(i.cluster) = v_cluster)
      and (v_status is null or tickets.name_key(i.normalized_status) = v_status)
  ),
  closed_t as (
    select f.* from filtered f
    where f.closed_at >= v_start and f.closed_at < v_end and f.closed_at <= v_now
      and f.is_actionable is not true
  ),
  created_t as (
    select c.created_at from tickets.inc_created_between(v_start, v_end, v_now) c
    where (v_cluster is null or tickets.name_key(c.cluster) = v_cluster)
      and (v_status is null or tickets.name_key(c.normalized_status) = v_status)
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
    'open', case when p_features then jsonb_build_object(
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
    ) end,
    'closed', case when p_features then jsonb_build_object(
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
    ) end,
    'metrics', jsonb_build_object(
      'open_total', (select count(*) from open_t),
      'open_mapped', (select count(*) from open_t where geom is not null),
      'open_sla', (select tickets.sla_split(array_agg(sla_state)) from open_t),
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
  return case when p_features then v_result else v_result - 'open' - 'closed' end;
end
$$;

-- The whole payload (the predecessor's contract: the existing map front-end reads it).
create or replace function reporting.fn_inc_dashboard(
  p_cluster text default null,
  p_status text default null,
  p_window text default '7d',
  p_from date default null,
  p_to date default null,
  p_now timestamptz default now()
) returns jsonb language sql stable as $$
  select tickets.inc_dashboard(p_cluster, p_status, p_window, p_from, p_to, p_now, true)
$$;

-- The same without the open and closed FeatureCollections: metrics, flow, window, freshness.
create or replace function reporting.fn_inc_dashboard_summary(
  p_cluster text default null,
  p_status text default null,
  p_window text default '7d',
  p_from date default null,
  p_to date default null,
  p_now timestamptz default now()
) returns jsonb language sql stable as $$
  select tickets.inc_dashboard(p_cluster, p_status, p_window, p_from, p_to, p_now, false)
$$;
