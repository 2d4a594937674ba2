-- fleettickets: ticket tables, parsing helpers, drain ledger and watermark.
-- Runs unchanged on PGlite (+ PostGIS) and PostgreSQL 15+ (+ PostGIS 3).

create extension if not exists postgis;
create schema if not exists tickets;
create schema if not exists reporting;

-- EAT wall-clock text -> timestamptz. Never raises: anything it cannot read is NULL, so one
-- bad value never fails a file. Accepts YYYY-MM-DD[( |T)HH:MM[:SS[.fff]]][Z|+hh[:mm]]; a value
-- without an offset is EAT (UTC+3, no DST). Immutable in fact, not only in name: the date is
-- checked to be ISO-ordered (so DateStyle cannot reorder it) and an offset is always present
-- when the text is cast (so the session TimeZone is never consulted). The cast inside an
-- exception block is ~10x faster than validating with a regular expression first.
create or replace function tickets.eat_ts(v text) returns timestamptz
language plpgsql immutable parallel safe as $$
declare
  s text := btrim(v);
  shape text := translate(s, '0123456789', '9999999999');
  tail text := substr(shape, 11);
begin
  if v is null or left(shape, 10) <> '9999-99-99'
     or not (tail = '' or left(tail, 6) in (' 99:99', 'T99:99'))
     or translate(substr(tail, 7), '9:.+-Zz ', '') <> '' then
    return null;
  end if;
  if tail = '' then
    s := s || ' 00:00';
  end if;
  if not (right(shape, 1) in ('Z', 'z') or strpos(substr(tail, 7), '+') > 0
          or strpos(substr(tail, 7), '-') > 0) then
    s := s || '+03';
  end if;
  return s::timestamptz;
exception when others then
  return null;
end
$$;

-- Decimal text -> numeric; NULL (never an error) unless it is a finite number below 1e15.
create or replace function tickets.num(v text) returns numeric
language plpgsql immutable parallel safe as $$
declare
  n numeric;
begin
  if v is null or strpos(v, 'n') > 0 or strpos(v, 'N') > 0 then
    return null; -- NaN, Infinity
  end if;
  n := btrim(v)::numeric;
  return case when abs(n) < 1e15 then n end;
exception when others then
  return null;
end
$$;

-- Feed MTTR (decimal hours) -> integer minutes; NULL when unreadable or out of range.
create or replace function tickets.hours_to_minutes(v text) returns integer
language sql immutable parallel safe as $$
  select case when abs(h) < 3.5e7 then round(h * 60)::integer end
  from (select tickets.num(v) as h) x
$$;

-- Feed boolean text -> boolean: true/false in any case, 1/0, t/f, yes/no, y/n; else NULL.
create or replace function tickets.bool(v text) returns boolean
language sql immutable parallel safe as $$
  select case lower(btrim(v))
    when 'true' then true when 't' then true when '1' then true when 'yes' then true when 'y' then true
    when 'false' then false when 'f' then false when '0' then false when 'no' then false when 'n' then false
  end
$$;

-- One table per dataset, identical shape. raw is the cleaned source record (the source of
-- truth); every typed column is generated from it, so a source schema change needs no loader change.
create table tickets.inc (
  ticket_id text primary key,
  raw jsonb not null,
  -- Name of the change file that last wrote this row: a row is never overwritten by an older file.
  source_file text not null,
  geom geometry(Point, 4326),
  geo_source text not null default 'none' check (geo_source in ('feed', 'location', 'cluster', 'none')),
  ingested_at timestamptz not null default now(),
  normalized_status text generated always as (raw ->> 'normalized_status') stored,
  raw_status text generated always as (raw ->> 'raw_status') stored,
  bucket text generated always as (raw ->> 'bucket') stored,
  is_actionable boolean generated always as (tickets.bool(raw ->> 'is_actionable')) stored,
  cluster text generated always as (raw ->> 'cluster') stored,
  region text generated always as (raw ->> 'region') stored,
  location_name text generated always as (raw ->> 'location_name') stored,
  assigned_team text generated always as (raw ->> 'assigned_team') stored,
  owner text generated always as (raw ->> 'owner') stored,
  sla_status text generated always as (raw ->> 'sla_status') stored,
  mttr integer generated always as (tickets.hours_to_minutes(raw ->> 'mttr')) stored,
  created_at_service timestamptz generated always as (tickets.eat_ts(raw ->> 'created_at_service')) stored,
  scheduled_at timestamptz generated always as (tickets.eat_ts(raw ->> 'scheduled_at')) stored,
  closed_at timestamptz generated always as (tickets.eat_ts(raw ->> 'closed_at')) stored,
  first_seen_at timestamptz generated always as (tickets.eat_ts(raw ->> 'first_seen_at')) stored,
  last_seen_at timestamptz generated always as (tickets.eat_ts(raw ->> 'last_seen_at')) stored,
  source_created_at timestamptz generated always as (tickets.eat_ts(raw ->> 'created_at')) stored,
  source_updated_at timestamptz generated always as (tickets.eat_ts(raw ->> 'updated_at')) stored,
  latitude double precision generated always as (
    coalesce(tickets.num(raw ->> 'latitude')::double precision, st_y(geom))
  ) stored,
  longitude double precision generated always as (
    coalesce(tickets.num(raw ->> 'longitude')::double precision, st_x(geom))
  ) stored,
  geog geography(Point, 4326) generated always as (geom::geography) stored
);

create index inc_normalized_status_idx on tickets.inc (normalized_status);
create index inc_cluster_idx on tickets.inc (cluster);
create index inc_open_idx on tickets.inc (is_actionable) where is_actionable;
create index inc_closed_at_idx on tickets.inc (closed_at);
create index inc_geog_idx on tickets.inc using gist (geog);

-- Per dataset: watermark (newest applied file) and freshness.
create table tickets.import_meta (
  dataset text primary key,
  watermark text,
  files_applied bigint not null default 0,
  last_applied_at timestamptz,
  last_run_at timestamptz,
  metadata jsonb not null default '{}'
);

-- Every applied change file, written in the same transaction as its rows: the exactly-once ledger.
create table tickets.applied_files (
  dataset text not null,
  file_name text not null,
  key text not null,
  etag text,
  rows_read integer not null,
  inserted integer not null,
  updated integer not null,
  unchanged integer not null,
  older_skipped integer not null,
  alarms_dropped integer not null,
  sentinels_dropped integer not null,
  duplicates integer not null,
  quarantined integer not null,
  applied_at timestamptz not null default now(),
  primary key (dataset, file_name)
);

-- Rows that cannot be tickets, kept with file, line and reason (the rest of the file loads).
create table tickets.quarantine (
  id bigint generated always as identity primary key,
  dataset text not null,
  file_name text not null,
  key text not null,
  line integer not null,
  reason text not null,
  record jsonb,
  quarantined_at timestamptz not null default now()
);

create index quarantine_file_idx on tickets.quarantine (dataset, file_name);
