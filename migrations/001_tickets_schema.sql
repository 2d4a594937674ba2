-- fleettickets: ticket tables, parsing helpers, drain ledger and watermark.
-- Runs unchanged on PGlite (+ PostGIS) and PostgreSQL 15+ (+ PostGIS 3).

create extension if not exists postgis;
create schema if not exists tickets;
create schema if not exists reporting;

-- EAT wall-clock text -> timestamptz. Never raises: anything it cannot read is NULL,
-- so one bad value never fails a file. Independent of the session TimeZone.
create or replace function tickets.eat_ts(v text) returns timestamptz
language plpgsql immutable parallel safe as $$
declare
  m text[];
  y int; mo int; d int; h int; mi int; s numeric;
  off_minutes int := 180; -- EAT is UTC+3 with no DST
begin
  if v is null then
    return null;
  end if;
  m := regexp_match(btrim(v),
    '^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d{1,6})?)\d*)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$');
  if m is null then
    return null;
  end if;
  y := m[1]::int; mo := m[2]::int; d := m[3]::int;
  if y < 1 or mo < 1 or mo > 12 or d < 1 then
    return null;
  end if;
  if d > extract(day from (make_date(y, mo, 1) + interval '1 month' - interval '1 day'))::int then
    return null;
  end if;
  h := coalesce(m[4]::int, 0);
  mi := coalesce(m[5]::int, 0);
  s := coalesce(m[6]::numeric, 0);
  if h > 23 or mi > 59 or s >= 60 then
    return null;
  end if;
  if m[7] is not null then
    if upper(m[7]) = 'Z' then
      off_minutes := 0;
    else
      off_minutes := substr(m[7], 2, 2)::int * 60
        + coalesce(nullif(substr(replace(m[7], ':', ''), 4, 2), '')::int, 0);
      if off_minutes > 14 * 60 then
        return null;
      end if;
      if left(m[7], 1) = '-' then
        off_minutes := -off_minutes;
      end if;
    end if;
  end if;
  return make_timestamptz(y, mo, d, h, mi, s, 'UTC') - make_interval(mins => off_minutes);
end
$$;

-- Decimal text -> numeric, NULL (never an error) when it is not a plain number.
create or replace function tickets.num(v text) returns numeric
language sql immutable parallel safe as $$
  select case when btrim(v) ~ '^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$'
    then btrim(v)::numeric end
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
  mttr integer generated always as (round(tickets.num(raw ->> 'mttr') * 60)::integer) stored,
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
