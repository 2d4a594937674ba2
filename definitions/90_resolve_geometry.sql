-- Re-resolves geom/geo_source of one ticket table (only the rows last written by p_files, when
-- given: after an ingest only those can have a new cluster or place); only rows whose answer
-- changed are written, so it is cheap after every ingest and every gazetteer change. Returns
-- the number of rows updated.
--
-- Two steps. First the candidates: a row can get a new answer only if it holds one now, or
-- the feed gives both coordinates, or the cache has a hit for its cluster or place (a cluster
-- by tickets.name_key); any other row stays 'none' without geometry, and a baseline on an empty
-- cache (every row such) is done after one read of its rows. Then those rows, by key, are resolved and written if changed.
-- Two statements, so two snapshots: a cache answer committed between them is not missed for
-- long, as every writer resolves after its own commit (geocode and gazetteer import with a full
-- pass, ingest for its files). One statement (`ticket_id = any(array(select …))`) gave the
-- same rows 20-30 ms slower on the bench's baseline (fresh sessions, 6 runs each).
create or replace function tickets.resolve_geometry(p_table regclass, p_files text[] default null)
returns integer
language plpgsql as $$
declare
  v_ids text[];
  n integer;
begin
  execute format($q$
    select array_agg(t.ticket_id) from %s t
    where ($1 is null or t.source_file = any($1))
      and (t.geo_source <> 'none' or t.geom is not null
           or (t.raw ->> 'latitude' <> '' and t.raw ->> 'longitude' <> '')
           or tickets.name_key(t.cluster) in (
                select tickets.name_key(c.cluster) from tickets.geo_clusters c
                where c.status in ('hit', 'manual'))
           or (tickets.name_key(t.cluster), t.place) in (
                select tickets.name_key(l.cluster), l.place from tickets.geo_locations l
                where l.status in ('hit', 'manual')))
  $q$, p_table) into v_ids using p_files;
  if v_ids is null then
    return 0;
  end if;
  execute format($q$
    with resolved as (
      select t.ticket_id,
        case
          when f.usable and g.near then f.point
          else coalesce(l.geom, c.geom)
        end as geom,
        case
          when f.usable and g.near then 'feed'
          when l.geom is not null then 'location'
          when c.geom is not null then 'cluster'
          else 'none'
        end as geo_source
      from %s t
      cross join lateral (
        -- num() only on a value: each call starts a subtransaction, and most feeds send none.
        select case when t.raw ->> 'latitude' <> '' then tickets.num(t.raw ->> 'latitude') end as lat,
               case when t.raw ->> 'longitude' <> '' then tickets.num(t.raw ->> 'longitude') end as lon
      ) n
      -- Feed coordinates on the globe, and not 0,0 (how an export writes "none": before, a point
      -- in the Gulf of Guinea that dispatch measured from).
      cross join lateral (
        select n.lat between -90 and 90 and n.lon between -180 and 180
               and not (n.lat = 0 and n.lon = 0) as usable,
               st_setsrid(st_makepoint(n.lon::double precision, n.lat::double precision), 4326)
                 as point
      ) f
      -- A cluster's cached answers by its name in any case (tickets.name_key), as the filters
      -- find it (before: only the exact spelling, so " Westlands" had no point and dispatch
      -- missed its breached tickets: a tester's); of two spellings cached, a curated one first
      -- (before, a provider's "Westlands" hid the "WESTLANDS" an operator imported: a tester's),
      -- then the ticket's own.
      left join lateral (
        select l.geom from tickets.geo_locations l
        where tickets.name_key(l.cluster) = tickets.name_key(t.cluster) and l.place = t.place
          and l.status in ('hit', 'manual')
        order by l.status = 'manual' desc, l.cluster = t.cluster desc, l.cluster collate "C"
        limit 1
      ) l on true
      left join lateral (
        select c.geom from tickets.geo_clusters c
        where tickets.name_key(c.cluster) = tickets.name_key(t.cluster)
          and c.status in ('hit', 'manual')
        order by c.status = 'manual' desc, c.cluster = t.cluster desc, c.cluster collate "C"
        limit 1
      ) c on true
      -- Feed coordinates more than 25 km from the cluster's centroid are passed over, as a
      -- geocoder's answer that far is (core/geocode.ts LOCATION_GUARD_M): latitude and longitude
      -- swapped put a Westlands ticket 4,000 km away, out of every dispatch question (a tester's).
      -- A cluster with no centroid has nothing to measure from: its feed points are taken.
      left join lateral (
        select c.geom is null
               or st_dwithin(f.point::geography, c.geom::geography, 25000) as near
        where f.usable
      ) g on true
      where t.ticket_id = any($1)
    )
    update %s t set geom = r.geom, geo_source = r.geo_source
    from resolved r
    where t.ticket_id = r.ticket_id
      and (t.geo_source is distinct from r.geo_source or t.geom is distinct from r.geom)
  $q$, p_table, p_table) using v_ids;
  get diagnostics n = row_count;
  return n;
end
$$;
