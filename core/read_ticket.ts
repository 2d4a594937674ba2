/**
 * One ticket (`/api/tickets/{id}`): its row with every property `/api/tickets` gives it, its raw
 * (cleaned source) record, where its geometry came from, and its observed closures.
 *
 * @module
 */

import type { SqlSession } from "./ports/mod.ts";

const SQL = `
select jsonb_build_object(
  'type', 'Feature',
  'geometry', st_asgeojson(x.geom, 6)::jsonb,
  'properties', jsonb_build_object(
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
    'source_updated_at', tickets.eat_iso(t.source_updated_at),
    'geo_source', x.geo_source,
    'place', x.place,
    'source_file', x.source_file,
    'ingested_at', tickets.eat_iso(x.ingested_at)
  ),
  'raw', x.raw,
  'closures', coalesce((
    select jsonb_agg(jsonb_build_object(
      'closed_at', tickets.eat_iso(e.closed_at),
      'observed_at', tickets.eat_iso(e.observed_at),
      'normalized_status', e.normalized_status,
      'assigned_team', e.assigned_team,
      'owner', e.owner,
      'mttr_hours', round(e.mttr / 60.0, 2),
      'sla_status', e.sla_status,
      'source_file', e.source_file
    ) order by e.closed_at)
    from tickets.closure_events e where e.ticket_id = t.ticket_id and t.dataset = 'inc'
  ), '[]'::jsonb)
)::text as body
from tickets.tickets_read_at($2::timestamptz) t
join lateral (
  select i.raw, i.geom, i.geo_source, i.place, i.source_file, i.ingested_at
  from tickets.inc i where t.dataset = 'inc' and i.ticket_id = t.ticket_id
  union all
  select c.raw, c.geom, c.geo_source, c.place, c.source_file, c.ingested_at
  from tickets.crq c where t.dataset = 'crq' and c.ticket_id = t.ticket_id
) x on true
where t.ticket_id = $1 and ($3::text is null or t.dataset = $3::text)
order by t.dataset = 'inc' desc
limit 1`;

/**
 * The ticket's JSON text, or null when no dataset has it. An id both datasets hold is the INC
 * ticket unless `dataset` asks for the CRQ one.
 */
export async function readTicket(
  tx: SqlSession,
  ticketId: string,
  now: Date = new Date(),
  dataset?: "inc" | "crq",
): Promise<string | null> {
  const rows = await tx.query<{ body: string }>(SQL, [
    ticketId,
    now.toISOString(),
    dataset ?? null,
  ]);
  return rows[0]?.body ?? null;
}
