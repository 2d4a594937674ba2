-- EAT (Africa/Nairobi, UTC+3, no DST) calendar helpers for payloads and windows.

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
