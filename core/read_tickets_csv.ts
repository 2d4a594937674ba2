/**
 * The dispatcher's export (`/api/tickets.csv`): the selection of {@linkcode readTickets} as CSV,
 * read through a cursor in batches so the first lines leave before the last rows are read.
 *
 * @module
 */

import type { SqlSession } from "./ports/mod.ts";
import { afterCursor, ticketFilter, type TicketQuery } from "./read_tickets.ts";

/** The export's columns, in order. */
export const CSV_COLUMNS = [
  "dataset",
  "ticket_id",
  "is_open",
  "normalized_status",
  "raw_status",
  "cluster",
  "region",
  "location_name",
  "assigned_team",
  "owner",
  "created_at_service",
  "first_seen_at",
  "closed_at",
  "hours_open",
  "sla_state",
  "sla_due_at",
  "minutes_to_breach",
  "sla_status",
  "mttr_hours",
  "geo_source",
  "longitude",
  "latitude",
  // Last, so a sheet reading columns by position keeps its others (they came after the page's).
  "sla_clock_source",
  "source_updated_at",
] as const;

const TIMES = new Set([
  "created_at_service",
  "first_seen_at",
  "closed_at",
  "sla_due_at",
  "source_updated_at",
]);

function selectList(): string {
  const expression = (c: string) => {
    if (TIMES.has(c)) return `tickets.eat_iso(t.${c})`;
    if (c === "mttr_hours") return `round(t.mttr / 60.0, 2)::text`;
    if (c === "longitude") return `round(st_x(t.geom)::numeric, 6)::text`;
    if (c === "latitude") return `round(st_y(t.geom)::numeric, 6)::text`;
    return `t.${c}::text`;
  };
  return CSV_COLUMNS.map((c) => `${expression(c)} as ${c}`).join(", ");
}

const NUMERIC = new Set(["hours_open", "minutes_to_breach", "mttr_hours", "longitude", "latitude"]);

/**
 * One CSV field (RFC 4180 quoting). Text that a spreadsheet would run as a formula (`=`, `+`,
 * `-`, `@`, tab, CR first) gets a leading `'`, so an exported cell cannot execute.
 */
export function csvField(value: string | null, numeric = false): string {
  if (value === null) return "";
  const safe = !numeric && /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/**
 * Writes the selection as CSV (header first, CRLF line ends) to `write`, `batchSize` rows per
 * call, with the number of rows in each (awaited, when it returns a promise); returns the number
 * of rows. A `signal` that aborts stops it before its next fetch (the reader is gone), throwing
 * the signal's reason.
 */
export async function readTicketsCsv(
  tx: SqlSession,
  query: TicketQuery,
  write: (text: string, rows: number) => void | Promise<void>,
  options: { now?: Date; batchSize?: number; signal?: AbortSignal } = {},
): Promise<number> {
  const { where, params } = ticketFilter(query);
  const n = params.length + 2;
  const now = (options.now ?? new Date()).toISOString();
  await tx.query(
    `declare tickets_csv no scroll cursor for
     select ${selectList()} from tickets.tickets_read_at($1::timestamptz) t
     where ${where}
       and (${afterCursor(n + 2)})
     order by t.dataset desc, t.ticket_id limit $${n} offset $${n + 1}`,
    [
      now,
      ...params,
      query.limit,
      query.offset,
      query.after?.dataset ?? null,
      query.after?.ticketId ?? null,
    ],
  );
  await write(CSV_COLUMNS.join(",") + "\r\n", 0);
  const batch = options.batchSize ?? 2000;
  let rows = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    const page = await tx.query<Record<string, string | null>>(
      `fetch forward ${batch} from tickets_csv`,
    );
    if (page.length === 0) break;
    rows += page.length;
    await write(
      page.map((r) => Object.values(r).map((v, i) => csvField(v, NUMERIC.has(CSV_COLUMNS[i]!))))
        .map((fields) => fields.join(",") + "\r\n").join(""),
      page.length,
    );
  }
  await tx.query(`close tickets_csv`);
  return rows;
}
