-- Loads what writing a ticket needs into the session, once: PostGIS, and the parsers behind the
-- generated columns (compiled, their regular expressions built). A new session's first write
-- otherwise pays ~30 ms for it inside the change file's transaction; the drain calls this once
-- before it, so the first file's transaction (and its row locks) is as short as the
-- next ones. Touches no table.
create or replace function tickets.warm_up() returns void
language plpgsql stable as $$
begin
  perform tickets.eat_ts('2026-01-01 00:00:00'), tickets.num('1.5'),
          tickets.hours_to_minutes('1.5'), tickets.bool('t'), tickets.clean_place('ADR_MNT_x'),
          ('SRID=4326;POINT(36.8 -1.3)'::geometry)::geography;
end
$$;
