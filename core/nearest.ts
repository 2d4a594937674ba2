/**
 * Dispatch (`/api/nearest`): the open tickets nearest a vehicle, in exact metres on `geography`
 * (`ST_Distance`), found by KNN on the GiST index (`geog <-> point`, the point a constant), or
 * ranked by urgency (`tickets.dispatch_score`: distance plus time left before the SLA breach).
 *
 * @module
 */

import type { SqlSession } from "./ports/mod.ts";
import type { SlaState } from "./read_tickets.ts";

/** A dispatch question. */
export interface NearestQuery {
  /** Vehicle longitude, degrees. */
  lon: number;
  /** Vehicle latitude, degrees. */
  lat: number;
  /** How many tickets. */
  k: number;
  /** Search radius, km. */
  maxKm: number;
  /** `inc`, `crq` or `all` (CRQ has no SLA state). */
  dataset: "inc" | "crq" | "all";
  /** Only tickets in this SLA state. */
  slaState?: SlaState;
  /** `distance` (nearest first) or `urgency` (lowest dispatch score first). */
  rank: "distance" | "urgency";
}

// Open tickets with a place, one shape for both datasets; $1 is the instant, $2/$3 lon/lat.
const SOURCES = {
  inc: `
    select 'inc'::text as dataset, s.ticket_id, s.normalized_status, s.cluster, s.location_name,
           s.assigned_team, s.owner, s.hours_open, s.sla_state, s.sla_due_at,
           floor(extract(epoch from s.sla_due_at - $1::timestamptz) / 60)::integer
             as minutes_to_breach,
           s.geom, s.geog
    from tickets.inc_open_sla_at($1::timestamptz) s`,
  crq: `
    select 'crq'::text as dataset, c.ticket_id, c.normalized_status, c.cluster, c.location_name,
           c.assigned_team, c.owner, null::numeric as hours_open, null::text as sla_state,
           null::timestamptz as sla_due_at, null::integer as minutes_to_breach, c.geom, c.geog
    from tickets.crq c
    where c.is_actionable and $1::timestamptz is not null /* types $1 when CRQ is alone */`,
} as const;

const POINT = `st_setsrid(st_makepoint($2::float8, $3::float8), 4326)::geography`;

function candidates(source: string, query: NearestQuery): string {
  const state = query.slaState === undefined ? "" : `and o.sla_state = $6`;
  // KNN: the index walks outwards from the point; st_dwithin bounds the walk.
  const order = query.rank === "distance"
    ? `order by o.geog <-> ${POINT} limit $4`
    : `order by tickets.dispatch_score(st_distance(o.geog, ${POINT}), o.minutes_to_breach),
               o.geog <-> ${POINT} limit $4`;
  return `(select o.* from (${source}) o
          where o.geog is not null and st_dwithin(o.geog, ${POINT}, $5::float8) ${state}
          ${order})`;
}

/** The SQL and parameters of a dispatch question (exported for the benchmark's anchor). */
export function nearestSql(query: NearestQuery, now: Date): { text: string; params: unknown[] } {
  const sets = query.dataset === "all" ? ["inc", "crq"] as const : [query.dataset];
  const union = sets.map((d) => candidates(SOURCES[d], query)).join(" union all ");
  const rankOrder = query.rank === "distance"
    ? "n.distance_m, n.dataset, n.ticket_id"
    : "n.score, n.distance_m, n.dataset, n.ticket_id";
  const params: unknown[] = [now.toISOString(), query.lon, query.lat, query.k, query.maxKm * 1000];
  if (query.slaState !== undefined) params.push(query.slaState);
  return {
    text: `
with near as (
  select c.*, st_distance(c.geog, ${POINT}) as distance_m,
         tickets.dispatch_score(st_distance(c.geog, ${POINT}), c.minutes_to_breach) as score
  from (${union}) c
), ranked as (
  select * from near n order by ${rankOrder} limit $4
)
select count(*)::int as returned,
       coalesce(jsonb_agg(tickets.geojson_feature(n.geom, jsonb_build_object(
         'dataset', n.dataset,
         'ticket_id', n.ticket_id,
         'normalized_status', n.normalized_status,
         'cluster', n.cluster,
         'location_name', n.location_name,
         'assigned_team', n.assigned_team,
         'owner', n.owner,
         'hours_open', n.hours_open,
         'sla_state', n.sla_state,
         'sla_due_at', tickets.eat_iso(n.sla_due_at),
         'minutes_to_breach', n.minutes_to_breach,
         'distance_m', round(n.distance_m::numeric, 1),
         'score', case when $7::boolean then round(n.score::numeric, 3) end
       )) order by ${rankOrder}), '[]'::jsonb)::text as features
from ranked n`.replaceAll("$7", `$${params.length + 1}`),
    params: [...params, query.rank === "urgency"],
  };
}

/** The answer: the tickets as a JSON array of GeoJSON Features (text). */
export type NearestResult = {
  /** Tickets found (at most k). */
  returned: number;
  /** Features, nearest (or most urgent) first. */
  features: string;
};

/** Answers a dispatch question as of `now`. */
export async function nearest(
  tx: SqlSession,
  query: NearestQuery,
  now: Date = new Date(),
): Promise<NearestResult> {
  const { text, params } = nearestSql(query, now);
  const [row] = await tx.query<NearestResult>(text, params);
  return row ?? { returned: 0, features: "[]" };
}
