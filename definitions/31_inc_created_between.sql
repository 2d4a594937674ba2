-- The INC tickets created in [p_start, p_end) as of p_now, "created" being the SLA clock
-- (tickets.sla_clock_at): the dashboard's and the backlog's created counts and the capture's
-- created_today. Before, they took created_at_service whenever set, also a placeholder date or
-- one ahead of p_now that the open-SLA view had passed over for first_seen_at, so a ticket dated
-- 5 h ahead counted as created today while its SLA ran from two days before.
-- Found through inc_clock_start_idx (coalesce(created_at_service, first_seen_at)): a clock in the
-- window is that value in the window, or else the clock is first_seen_at behind an implausible
-- created_at_service, which lies before 2000 or over an hour ahead of p_now (the ranges of
-- tickets.sla_clock_plausible, written out so the index can find them).
create or replace function tickets.inc_created_between(
  p_start timestamptz, p_end timestamptz, p_now timestamptz
) returns table (ticket_id text, cluster text, normalized_status text, created_at timestamptz)
language sql stable parallel safe as $$
  select i.ticket_id, i.cluster, i.normalized_status, c.clock_at
  from tickets.inc i
  cross join lateral (
    select tickets.sla_clock_at(i.created_at_service, i.first_seen_at, p_now) as clock_at
  ) c
  where (coalesce(i.created_at_service, i.first_seen_at) >= p_start
         and coalesce(i.created_at_service, i.first_seen_at) < p_end
      or coalesce(i.created_at_service, i.first_seen_at) < timestamptz '2000-01-01 00:00:00+03'
      or coalesce(i.created_at_service, i.first_seen_at) > p_now + interval '1 hour')
    and c.clock_at >= p_start and c.clock_at < p_end
$$;
