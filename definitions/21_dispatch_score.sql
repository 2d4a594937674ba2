-- The dispatch score of `serve`'s /api/nearest?rank=urgency (lower goes first): the distance in
-- km plus 0.25 km for every hour left before the SLA breach. A breached ticket (no time left)
-- counts its distance only; an `ok` ticket has at least 12 h left, so it carries at least 3 km:
-- a breached ticket 3 km away comes before an ok one 1 km away, and an at-risk ticket weighs
-- between the two. A ticket without an SLA clock (unknown) counts as 24 h left (6 km).
create or replace function tickets.dispatch_score(p_distance_m double precision, p_minutes_to_breach integer)
returns double precision language sql immutable parallel safe as $$
  select p_distance_m / 1000.0 + greatest(coalesce(p_minutes_to_breach, 24 * 60), 0) / 60.0 * 0.25
$$;
