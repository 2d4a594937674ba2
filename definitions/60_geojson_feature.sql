-- A GeoJSON Feature: Point geometry as [lon, lat] (6 decimals, ~0.1 m) and the properties.
create or replace function tickets.geojson_feature(p_geom geometry, p_properties jsonb)
returns jsonb language sql immutable parallel safe as $$
  select jsonb_build_object(
    'type', 'Feature',
    'geometry', st_asgeojson(p_geom, 6)::jsonb,
    'properties', p_properties
  )
$$;
