-- A reporting window as an inclusive range of EAT calendar days, as of p_now: today,
-- yesterday, 7d (today and the 6 days before), 30d, mtd (month to date) or custom
-- (p_from..p_to; ignored by the other windows). NULL window means 7d. An unknown window, a
-- custom window without both days, from > to, or one over 366 days raise SQLSTATE 22023. Used
-- by the dashboard and team performance payloads: the window rules are written here only.
create or replace function tickets.eat_window(
  p_window text,
  p_from date,
  p_to date,
  p_now timestamptz default now()
) returns table (name text, from_day date, to_day date)
language plpgsql stable as $$
declare
  v_window text := lower(btrim(coalesce(p_window, '7d')));
  v_today date := tickets.eat_date(coalesce(p_now, now()));
begin
  name := v_window;
  case v_window
    when 'today' then from_day := v_today; to_day := v_today;
    when 'yesterday' then from_day := v_today - 1; to_day := v_today - 1;
    when '7d' then from_day := v_today - 6; to_day := v_today;
    when '30d' then from_day := v_today - 29; to_day := v_today;
    when 'mtd' then
      from_day := make_date(extract(year from v_today)::int, extract(month from v_today)::int, 1);
      to_day := v_today;
    when 'custom' then
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
      -- A dashboard builds a row per day: a window of centuries ran the embedded database
      -- out of memory (it cannot stop a statement at its timeout).
      if p_to - p_from + 1 > 366 then
        raise exception 'Window "%" to "%" spans % days: at most 366',
          to_char(p_from::timestamp, 'YYYY-MM-DD'), to_char(p_to::timestamp, 'YYYY-MM-DD'),
          p_to - p_from + 1
          using errcode = '22023';
      end if;
      from_day := p_from; to_day := p_to;
    else
      raise exception 'Unknown window "%": use today, yesterday, 7d, 30d, mtd or custom',
        p_window using errcode = '22023';
  end case;
  return next;
end
$$;
