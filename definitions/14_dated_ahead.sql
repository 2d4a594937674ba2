-- Whether a time from the feed is dated ahead of p_now: more than an hour after it (a clock or an
-- export wrong; the drain sets aside a file named that far ahead the same way). Such a time is no
-- update for the content lag (tickets.freshness, `status`) and no SLA clock
-- (tickets.sla_clock_plausible). Stable, as its body is, so it is inlined where it is used.
create or replace function tickets.dated_ahead(p_at timestamptz, p_now timestamptz)
returns boolean language sql stable parallel safe as $$
  select p_at > p_now + interval '1 hour'
$$;
