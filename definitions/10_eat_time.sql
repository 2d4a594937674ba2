-- EAT (UTC+3, no DST) calendar helpers for payloads and windows. A fixed offset, as the feed's
-- times are read (tickets.eat_ts appends +03) and as core/eat_time.ts prints: the time zone
-- Africa/Nairobi's rules give the years before 1942 other offsets (+02:27:16, +02:30, +02:45), so
-- a placeholder date 0001-01-01 00:00 came back as 0001-12-31T23:27:16+03:00 (an auditor's).

-- Instant -> ISO 8601 text in EAT, e.g. 2026-06-15T17:00:00+03:00 (NULL stays NULL). A
-- timestamptz put straight into jsonb would be rendered in the session TimeZone.
create or replace function tickets.eat_iso(p_ts timestamptz) returns text
language sql stable parallel safe as $$
  select to_char(p_ts at time zone interval '+03:00', 'YYYY-MM-DD"T"HH24:MI:SS"+03:00"')
$$;

-- The EAT calendar day of an instant.
create or replace function tickets.eat_date(p_ts timestamptz) returns date
language sql immutable parallel safe as $$
  select (p_ts at time zone interval '+03:00')::date
$$;

-- The instant an EAT calendar day starts (EAT midnight).
create or replace function tickets.eat_day_start(p_day date) returns timestamptz
language sql immutable parallel safe as $$
  select p_day::timestamp at time zone interval '+03:00'
$$;
