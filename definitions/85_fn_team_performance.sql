-- Closure attribution: per assigned_team (p_by 'team') or per owner (p_by 'owner'), the
-- closures of the window with their MTTR and SLA compliance, the open backlog now with how
-- much of it is breached or at risk, and how many tickets closed in the window were reopened.
-- The window and the cluster filter follow reporting.fn_inc_dashboard (EAT calendar days;
-- a cluster by tickets.name_key; NULL or '' means no filter).
--
-- Closures are tickets.closure_events (the team and owner as they stood when the closure was
-- observed), so a ticket closed twice in the window counts twice. MTTR is the feed's, in hours;
-- compliance is Compliant / (Compliant + Breached) of the source verdicts, NULL without any; both
-- as the ticket now gives them while it holds that closure, else as first observed.
-- Reopened: distinct tickets with a closure in the window that are open again now or were
-- closed again later. A missing team or owner is "(none)". A team or owner is its name in any
-- case and without the white space around it (tickets.name_key), as the filters match it, shown
-- as most of its tickets spell it (a tie: the first in code-point order, as the page picks).
create or replace function reporting.fn_team_performance(
  p_by text default 'team',
  p_cluster text default null,
  p_window text default '7d',
  p_from date default null,
  p_to date default null,
  p_now timestamptz default now()
) returns jsonb language plpgsql stable
-- Its queries are planned for the filters given, also on serve's pool (generic plans there).
set plan_cache_mode = auto as $$
declare
  v_now timestamptz := coalesce(p_now, now());
  v_by text := lower(btrim(coalesce(p_by, 'team')));
  v_cluster text := nullif(tickets.name_key(p_cluster), '');
  v_win record;
  v_start timestamptz;
  v_end timestamptz;
  v_result jsonb;
begin
  if v_by not in ('team', 'owner') then
    raise exception 'Unknown grouping "%": use team or owner', p_by using errcode = '22023';
  end if;
  select * into v_win from tickets.eat_window(p_window, p_from, p_to, v_now);
  v_start := tickets.eat_day_start(v_win.from_day);
  v_end := tickets.eat_day_start(v_win.to_day + 1);

  with closures as (
    select coalesce(case when v_by = 'team' then e.assigned_team else e.owner end, '(none)') as name,
           e.ticket_id, e.closed_at, coalesce(i.mttr, e.mttr) as mttr,
           lower(coalesce(i.sla_status, e.sla_status)) as verdict
    from tickets.closure_events e
    -- The ticket still closed at that instant is the same closure: its MTTR and verdict are the
    -- feed's latest word (an export may fill them in after closed_at first appears).
    left join tickets.inc i on i.ticket_id = e.ticket_id and i.closed_at = e.closed_at
      and i.is_actionable is not true
    where e.closed_at >= v_start and e.closed_at < v_end
      and (v_cluster is null or tickets.name_key(e.cluster) = v_cluster)
  ),
  closed_by as (
    select tickets.name_key(c.name) as key, array_agg(c.name) as names,
           count(*) as closures,
           round((percentile_cont(0.5) within group (order by c.mttr) / 60)::numeric, 2) as median,
           round((percentile_cont(0.9) within group (order by c.mttr) / 60)::numeric, 2) as p90,
           count(c.mttr) as mttr_count,
           count(*) filter (where c.verdict = 'compliant') as compliant,
           count(*) filter (where c.verdict = 'breached') as breached,
           count(distinct c.ticket_id) filter (where
             exists (select 1 from tickets.inc i where i.ticket_id = c.ticket_id and i.is_actionable)
             or exists (select 1 from tickets.closure_events l
                        where l.ticket_id = c.ticket_id and l.closed_at > c.closed_at)
           ) as reopened
    from closures c group by 1
  ),
  open_by as (
    select tickets.name_key(coalesce(case when v_by = 'team' then s.assigned_team else s.owner end,
                                     '(none)')) as key,
           array_agg(coalesce(case when v_by = 'team' then s.assigned_team else s.owner end,
                              '(none)')) as names,
           count(*) as open,
           count(*) filter (where s.sla_state = 'breached') as open_breached,
           count(*) filter (where s.sla_state = 'at_risk') as open_at_risk
    from tickets.inc_open_sla_at(v_now) s
    where v_cluster is null or tickets.name_key(s.cluster) = v_cluster
    group by 1
  ),
  rows as (
    -- One row per name by tickets.name_key (what the filters match),
    -- named as most of its tickets spell it (before: "NBI North FLM" and "nbi north flm" were
    -- two rows, each of which /api/tickets?team= answered with both).
    select (select mode() within group (order by n collate "C")
            from unnest(coalesce(c.names, '{}') || coalesce(o.names, '{}')) n) as key,
           coalesce(c.closures, 0) as closures, c.median, c.p90,
           coalesce(c.mttr_count, 0) as mttr_count, coalesce(c.compliant, 0) as compliant,
           coalesce(c.breached, 0) as breached, coalesce(o.open, 0) as open,
           coalesce(o.open_breached, 0) as open_breached,
           coalesce(o.open_at_risk, 0) as open_at_risk, coalesce(c.reopened, 0) as reopened
    from closed_by c full join open_by o on o.key = c.key
  )
  select jsonb_build_object(
    'generated_at', tickets.eat_iso(v_now),
    'by', v_by,
    'filters', jsonb_build_object('cluster', nullif(btrim(p_cluster), '')),
    'window', jsonb_build_object(
      'name', v_win.name,
      'from', v_win.from_day,
      'to', v_win.to_day,
      'start', tickets.eat_iso(v_start),
      'end', tickets.eat_iso(v_end),
      'time_zone', 'Africa/Nairobi'
    ),
    'rows', coalesce((
      select jsonb_agg(jsonb_build_object(
        'key', r.key,
        'closures', r.closures,
        'mttr_hours', jsonb_build_object('median', r.median, 'p90', r.p90, 'count', r.mttr_count),
        'closed_compliant', r.compliant,
        'closed_breached', r.breached,
        'compliance_rate', round(r.compliant::numeric / nullif(r.compliant + r.breached, 0), 4),
        'open', r.open,
        'open_breached', r.open_breached,
        'open_at_risk', r.open_at_risk,
        'reopened', r.reopened
      ) order by r.closures desc, r.open desc, r.key)
      from rows r
    ), '[]'::jsonb)
  ) into v_result;
  return v_result;
end
$$;
