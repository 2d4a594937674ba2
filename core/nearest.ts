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
           s.geo_source, s.assigned_team, s.owner, s.hours_open, s.sla_state, s.sla_due_at,
           tickets.minutes_to_breach(s.sla_due_at, $1::timestamptz) as minutes_to_breach,
           s.geom, s.geog
    from tickets.inc_open_sla_at($1::timestamptz) s`,
  crq: `
    select 'crq'::text as dataset, c.ticket_id, c.normalized_status, c.cluster, c.location_name,
           c.geo_source, c.assigned_team, c.owner, null::numeric as hours_open,
           null::text as sla_state,
           null::timestamptz as sla_due_at, null::integer as minutes_to_breach, c.geom, c.geog
    from tickets.crq c
    where c.is_actionable and $1::timestamptz is not null /* types $1 when CRQ is alone */`,
} as const;

const POINT = `st_setsrid(st_makepoint($2::float8, $3::float8), 4326)::geography`;

/** How the nearest tickets are walked: the GiST index outwards (KNN), or every ticket sorted. */
export type Walk = "index" | "sort";

/** The ORDER BY that finds the tickets nearest the vehicle first. */
function nearestFirst(walk: Walk): string {
  return walk === "index" ? `o.geog <-> ${POINT}` : `st_distance(o.geog, ${POINT})`;
}

function candidates(source: string, query: NearestQuery, walk: Walk): string {
  const state = query.slaState === undefined ? "" : `and o.sla_state = $6`;
  const distance = `st_distance(o.geog, ${POINT})`;
  // Distance: KNN (`geog <-> point`, the point a constant) walks the GiST index outwards to the
  // k nearest; the candidates are every ticket no farther than the farthest of those (+1 mm for
  // rounding), ranked outside by distance, then ticket_id. Not `order by geog <-> point,
  // ticket_id limit k`: that loses the index-ordered scan (PostgreSQL reads and sorts every open
  // ticket: 27 ms against 2 ms on 20,000). Nor the KNN's k alone: among tickets at one distance
  // they are an arbitrary pick, so k=3 was not the start of k=10. The cut-off also keeps a
  // ticket that `<->` (on the sphere) puts after the k-th but st_distance (on the spheroid)
  // before it. The radius is applied outside. Urgency: the open tickets within urgencyRadius
  // (max_km itself for a question with an SLA filter or over 50 tickets), scored (its distance
  // computed for the score and for the row), in the order used outside: among equal scores the
  // least time left first (breached tickets at one place, a cluster centroid: the longest
  // overdue; before, ticket_id order), then distance and ticket_id.
  if (query.rank === "distance") {
    return `(select o.*, ${distance} as distance_m from (${source}) o
        where o.geog is not null ${state} and st_dwithin(o.geog, ${POINT}, (
          select max(st_distance(k.geog, ${POINT})) + 0.001 from (
            select o.geog from (${source}) o where o.geog is not null ${state}
            order by ${nearestFirst(walk)} limit $4) k)))`;
  }
  const radius = query.slaState === undefined && query.k <= BOUNDED_K
    ? urgencyRadius(source, walk)
    : "$5::float8";
  return `(select o.*, ${distance} as distance_m from (${source}) o
        where o.geog is not null and st_dwithin(o.geog, ${POINT}, ${radius}) ${state}
        order by tickets.dispatch_score(${distance}, o.minutes_to_breach),
                 o.minutes_to_breach nulls last, ${distance}, o.ticket_id
        limit $4)`;
}

/** Urgency questions for at most this many tickets, without an SLA filter, are bounded. */
const BOUNDED_K = 50;

/**
 * How far the k most urgent tickets can be, in metres: no farther than max_km, nor than the k-th
 * lowest score (in km) among the tickets nearest the vehicle within max_km, as a ticket's score
 * is its distance in km plus a time term that is never negative (`tickets.dispatch_score`): those
 * tickets already score that much, so a better one must lie closer (+1 m for rounding). Their
 * scores come from the KNN's first max(4k, 40) (a few breached ones among them make the bound
 * tight). Every ticket that can be among the k lies within it, so the answer is the one scoring
 * every ticket within max_km gives (tests/serve_test.ts compares them), which is what this did
 * before: 9.3-9.6 ms p50 a request from one client on the 20,956-ticket baseline (k=10, 25 km),
 * 1.1-1.2 ms with the bound (BENCHMARKS.md). Not used with an SLA filter (a rare state makes the
 * KNN walk every ticket within max_km: 4.4 ms against 1.1 without the bound) nor for k over 50
 * (k=500: 18.5 against 13.2 ms), where scoring every ticket within max_km is as cheap or cheaper.
 */
function urgencyRadius(source: string, walk: Walk): string {
  const kth = `
    select s.score * 1000 + 1 from (
      select tickets.dispatch_score(st_distance(n.geog, ${POINT}), n.minutes_to_breach) as score
      from (
        select o.geog, o.minutes_to_breach from (${source}) o
        where o.geog is not null and st_dwithin(o.geog, ${POINT}, $5::float8)
        order by ${nearestFirst(walk)} limit greatest($4::integer * 4, 40)) n
    ) s order by s.score offset $4::integer - 1 limit 1`;
  return `least($5::float8, coalesce((${kth}), $5::float8))`;
}

/**
 * The SQL and parameters of a dispatch question (exported for the benchmark's anchor): one row
 * per ticket, in rank order, every value as text ready for JSON ({@linkcode nearest} writes the
 * Features; PostgreSQL's JSON functions took half the statement's time for 10 tickets). `walk`
 * `sort` finds the nearest tickets without the index's order (see {@linkcode isIndexOrderError}):
 * the same answer, as the radius and the score bound hold for any tickets they start from.
 */
export function nearestSql(
  query: NearestQuery,
  now: Date,
  walk: Walk = "index",
): { text: string; params: unknown[] } {
  const sets = query.dataset === "all" ? ["inc", "crq"] as const : [query.dataset];
  const union = sets.map((d) => candidates(SOURCES[d], query, walk)).join(" union all ");
  const rankOrder = query.rank === "distance"
    ? "n.distance_m, n.dataset, n.ticket_id"
    : "n.score, n.minutes_to_breach nulls last, n.distance_m, n.dataset, n.ticket_id";
  const params: unknown[] = [now.toISOString(), query.lon, query.lat, query.k, query.maxKm * 1000];
  if (query.slaState !== undefined) params.push(query.slaState);
  const score = query.rank === "urgency" ? "round(n.score::numeric, 3)::text" : "null::text";
  return {
    text: `
with near as (
  select c.*, tickets.dispatch_score(c.distance_m, c.minutes_to_breach) as score
  from (${union}) c
)
select st_asgeojson(n.geom, 6) as geometry, n.dataset, n.ticket_id, n.normalized_status,
       n.cluster, n.location_name, n.geo_source, n.assigned_team, n.owner,
       n.hours_open::text as hours_open,
       n.sla_state, tickets.eat_iso(n.sla_due_at) as sla_due_at,
       n.minutes_to_breach::text as minutes_to_breach,
       round(n.distance_m::numeric, 1)::text as distance_m, ${score} as score
from near n where n.distance_m <= $5::float8 order by ${rankOrder} limit $4`,
    params,
  };
}

/** A found ticket as {@linkcode nearestSql} returns it: text, numbers in PostgreSQL's notation. */
type NearestRow = { geometry: string | null } & Record<keyof typeof PROPERTIES, string | null>;

/** The Features' properties, in order, and how each goes out (a number's text unquoted). */
const PROPERTIES = {
  dataset: "text",
  ticket_id: "text",
  normalized_status: "text",
  cluster: "text",
  location_name: "text",
  geo_source: "text",
  assigned_team: "text",
  owner: "text",
  hours_open: "number",
  sla_state: "text",
  sla_due_at: "text",
  minutes_to_breach: "number",
  distance_m: "number",
  score: "number",
} as const;

/** The properties as [name, its JSON key with the colon, kind], listed once (not per row). */
const PROPERTY_LIST = (Object.keys(PROPERTIES) as (keyof typeof PROPERTIES)[]).map(
  (name) => [name, `"${name}":`, PROPERTIES[name]] as const,
);

/** One GeoJSON Feature (text) of a found ticket. */
function featureJson(row: NearestRow): string {
  let properties = "";
  for (const [name, key, kind] of PROPERTY_LIST) {
    const value = row[name];
    const json = value === null ? "null" : kind === "number" ? value : JSON.stringify(value);
    properties += (properties === "" ? key : `,${key}`) + json;
  }
  return `{"type":"Feature","geometry":${row.geometry ?? "null"},"properties":{${properties}}}`;
}

/** The answer: the tickets as a JSON array of GeoJSON Features (text). */
export type NearestResult = {
  /** Tickets found (at most k). */
  returned: number;
  /** Features, nearest (or most urgent) first. */
  features: string;
};

/**
 * Whether `error` is PostGIS's KNN failing on the antimeridian: a ticket at (180, 0) seen from
 * (-180, 0), or the other way round, ends the index walk with "index returned tuples in wrong
 * order" (PostGIS 3.3, on PostgreSQL and in PGlite alike; a tester's 500). The question is then
 * asked again with `walk` `sort` ({@linkcode nearestSql}), in a statement (and a transaction) of
 * its own: that one failed.
 */
export function isIndexOrderError(error: unknown): boolean {
  return error instanceof Error && /index returned tuples in wrong order/.test(error.message);
}

/** Answers a dispatch question as of `now`; `walk` as {@linkcode nearestSql}'s. */
export async function nearest(
  tx: SqlSession,
  query: NearestQuery,
  now: Date = new Date(),
  walk: Walk = "index",
): Promise<NearestResult> {
  const { text, params } = nearestSql(query, now, walk);
  const rows = await tx.query<NearestRow>(text, params);
  return { returned: rows.length, features: `[${rows.map(featureJson).join(",")}]` };
}
