/**
 * The ticket selection of the read API (`/api/tickets`, its CSV export): filters and the
 * bounding box become parameterised WHERE clauses on `tickets.tickets_read_at` (inlined by the
 * planner, so they reach the table indexes), one page in a stable order, and how many match.
 *
 * @module
 */

import type { SqlSession } from "./ports/mod.ts";

/** Derived SLA states of open INC tickets. */
export const SLA_STATES = ["breached", "at_risk", "ok", "unknown"] as const;
/** A derived SLA state. */
export type SlaState = typeof SLA_STATES[number];

/** Which tickets to read. */
export interface TicketQuery {
  /** `inc`, `crq` or `all`. */
  dataset: "inc" | "crq" | "all";
  /** Only open (actionable) tickets. */
  openOnly: boolean;
  /** Cluster, case-insensitive. */
  cluster?: string;
  /** Canonical status (`normalized_status`), case-insensitive. */
  status?: string;
  /** Derived SLA state (open INC tickets only have one). */
  slaState?: SlaState;
  /** Assigned team, case-insensitive. */
  team?: string;
  /** `[minLon, minLat, maxLon, maxLat]`: tickets placed inside it. */
  bbox?: readonly [number, number, number, number];
  /** Page size. */
  limit: number;
  /** Tickets to skip (after `after`, when given). */
  offset: number;
  /**
   * Only the tickets after this one in the selection's order (the last of the page before): a
   * page so asked starts where the one before ended, whatever changed meanwhile.
   */
  after?: TicketKey;
}

/** A ticket's place in the selection's order: INC before CRQ, then by id. */
export interface TicketKey {
  dataset: "inc" | "crq";
  ticketId: string;
}

/** One page of tickets as GeoJSON Feature text. */
export type TicketPage = {
  /** Tickets matching the filters (all pages). */
  matched: number;
  /** Tickets on this page. */
  returned: number;
  /** The page's Features, as a JSON array (text, passed through unparsed). */
  features: string;
  /** The page's last ticket, when more follow it: where the next page starts (`after`). */
  last: TicketKey | null;
};

const DATASET_CLAUSE = { inc: "t.dataset = 'inc'", crq: "t.dataset = 'crq'" } as const;

/**
 * The team filter for tickets with no team: the name `/api/teams` and `report --by team` give
 * them (`reporting.fn_team_performance`), so its row can be opened (before: it matched none).
 */
export const NO_TEAM = "(none)";

/**
 * How a name (cluster, status, team) is matched: in any case, the white space around it ignored
 * (tickets.name_key, migration 015, the expression of its indexes), on both sides.
 */
const NAME_KEY = (column: string) => `tickets.name_key(${column})`;

/** The WHERE clause and parameters of a selection; `$1` is the instant SLA ages are taken at. */
export function ticketFilter(query: TicketQuery): { where: string; params: unknown[] } {
  const params: unknown[] = [];
  const clauses: string[] = [];
  const add = (clause: (n: number) => string, value: unknown) => {
    params.push(value);
    clauses.push(clause(params.length + 1));
  };
  // The dataset is part of the text, not a parameter: serve's prepared statements are planned
  // once for every value (generic plans), and only a constant lets the planner drop the other
  // dataset's half of the union.
  if (query.dataset !== "all") clauses.push(DATASET_CLAUSE[query.dataset]);
  if (query.openOnly) clauses.push("t.is_open");
  // Names match in any case and without the spaces around them, as fn_team_performance,
  // the capture and report group them: a row's figures come back filtered by its name.
  if (query.cluster !== undefined) {
    add((n) => `${NAME_KEY("t.cluster")} = tickets.name_key($${n})`, query.cluster);
  }
  if (query.status !== undefined) {
    add((n) => `${NAME_KEY("t.normalized_status")} = tickets.name_key($${n})`, query.status);
  }
  if (query.slaState !== undefined) add((n) => `t.sla_state = $${n}`, query.slaState);
  // "(none)", as any team, case-insensitive; it is also every ticket without a team (a team of
  // that name is counted in the same row by fn_team_performance).
  if (query.team?.toLowerCase() === NO_TEAM) {
    add(
      (n) =>
        `(t.assigned_team is null or ${NAME_KEY("t.assigned_team")} = tickets.name_key($${n}))`,
      query.team,
    );
  } else if (query.team !== undefined) {
    add((n) => `${NAME_KEY("t.assigned_team")} = tickets.name_key($${n})`, query.team);
  }
  if (query.bbox !== undefined) clauses.push(boxClause(query.bbox, params));
  return { where: clauses.length === 0 ? "true" : clauses.join(" and "), params };
}

/**
 * The box as SQL on the geometry index, its numbers added to `params`. West of east is one
 * envelope; east of west crosses the antimeridian: the two envelopes either side of it.
 */
function boxClause(
  [west, south, east, north]: readonly [number, number, number, number],
  params: unknown[],
): string {
  const envelope = (x1: number, x2: number) => {
    const first = params.length + 2; // $1 is the instant
    params.push(x1, south, x2, north);
    return `t.geom && st_makeenvelope($${first}::float8, $${first + 1}::float8, ` +
      `$${first + 2}::float8, $${first + 3}::float8, 4326)`;
  };
  return west <= east
    ? envelope(west, east)
    : `(${envelope(west, 180)} or ${envelope(-180, east)})`;
}

/**
 * A ticket Feature (SQL over `t`, a row of `tickets.tickets_read_at`). `json`, not `jsonb`: the
 * text goes out as it is, and building json is ~2.5× faster than jsonb for a page of thousands.
 */
const FEATURE = `json_build_object('type', 'Feature', 'geometry', st_asgeojson(t.geom, 6)::json,
  'properties', json_build_object(
  'dataset', t.dataset,
  'ticket_id', t.ticket_id,
  'is_open', t.is_open,
  'normalized_status', t.normalized_status,
  'raw_status', t.raw_status,
  'cluster', t.cluster,
  'region', t.region,
  'location_name', t.location_name,
  'assigned_team', t.assigned_team,
  'owner', t.owner,
  'created_at_service', tickets.eat_iso(t.created_at_service),
  'first_seen_at', tickets.eat_iso(t.first_seen_at),
  'closed_at', tickets.eat_iso(t.closed_at),
  'hours_open', t.hours_open,
  'sla_state', t.sla_state,
  'sla_clock_source', t.sla_clock_source,
  'sla_due_at', tickets.eat_iso(t.sla_due_at),
  'minutes_to_breach', t.minutes_to_breach,
  'sla_status', t.sla_status,
  'mttr_hours', round(t.mttr / 60.0, 2),
  'geo_source', t.geo_source,
  'source_updated_at', tickets.eat_iso(t.source_updated_at)
))`;

/**
 * The tickets after a next link's cursor in the selection's order (`dataset desc, ticket_id`),
 * its dataset and ticket id the parameters `$n` and `$n+1`; every ticket when they are null.
 * Pages and the CSV export go on from a cursor alike.
 */
export function afterCursor(n: number): string {
  const [dataset, id] = [`$${n}::text`, `$${n + 1}::text`];
  return `${dataset} is null or t.dataset < ${dataset}
       or (t.dataset = ${dataset} and t.ticket_id > ${id})`;
}

/**
 * The SQL of one page (exported for the benchmark's direct-SQL anchor): the matching tickets
 * counted, those after the cursor (none when its dataset is null), one more than the page (`rn` =
 * limit + 1) read to know whether another follows, and the page's last ticket then. One pass over
 * the page: no second sort, no ordered aggregate of text.
 */
export function ticketPageSql(query: TicketQuery): { text: string; params: unknown[] } {
  const { where, params } = ticketFilter(query);
  const n = params.length + 2;
  const [limit, offset] = [`$${n}`, `$${n + 1}`];
  const after = afterCursor(n + 2);
  return {
    text: `
with page as (
  select t.*, row_number() over (order by t.dataset desc, t.ticket_id) as rn from (
    select * from (
      select t.*, count(*) over () as matched
      from tickets.tickets_read_at($1::timestamptz) t
      where ${where}
    ) t
    where ${after}
    order by t.dataset desc, t.ticket_id
    limit ${limit}::int + 1 offset ${offset}
  ) t
)
select coalesce(max(t.matched), 0)::int as matched,
       (count(*) filter (where t.rn <= ${limit}))::int as returned,
       coalesce(json_agg(${FEATURE} order by t.rn) filter (where t.rn <= ${limit}), '[]'::json)::text
         as features,
       case when count(*) > ${limit} then max(t.dataset) filter (where t.rn = ${limit}) end
         as last_dataset,
       case when count(*) > ${limit} then max(t.ticket_id) filter (where t.rn = ${limit}) end
         as last_ticket_id
from page t`,
    params: [
      ...params,
      query.limit,
      query.offset,
      query.after?.dataset ?? null,
      query.after?.ticketId ?? null,
    ],
  };
}

/** Reads one page of tickets as of `now`. */
export async function readTickets(
  tx: SqlSession,
  query: TicketQuery,
  now: Date = new Date(),
): Promise<TicketPage> {
  const { text, params } = ticketPageSql(query);
  const [row] = await tx.query<
    Omit<TicketPage, "last"> & { last_dataset: "inc" | "crq" | null; last_ticket_id: string | null }
  >(text, [now.toISOString(), ...params]);
  const empty = { matched: 0, returned: 0, features: "[]", last: null };
  if (row === undefined) return empty;
  // A page past the end still says how many match.
  if (row.returned === 0 && (query.offset > 0 || query.after !== undefined)) {
    const [count] = await tx.query<{ n: number }>(
      `select count(*)::int as n from tickets.tickets_read_at($1::timestamptz) t
       where ${ticketFilter(query).where}`,
      [now.toISOString(), ...ticketFilter(query).params],
    );
    return { ...empty, matched: count?.n ?? 0 };
  }
  const { matched, returned, features, last_dataset, last_ticket_id } = row;
  const last = last_dataset === null || last_ticket_id === null
    ? null
    : { dataset: last_dataset, ticketId: last_ticket_id };
  return { matched, returned, features, last };
}
