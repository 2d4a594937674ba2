/**
 * The backlog trend (`/api/backlog`): the daily series of `tickets.inc_daily_snapshot` between
 * two EAT days, overall or for one cluster, with each day's created and closed tickets counted
 * as the data stands now.
 *
 * @module
 */

import type { SqlSession } from "./ports/mod.ts";

/** Which days, and optionally one cluster (in any case, spaces around it ignored). */
export interface BacklogQuery {
  /** First EAT day, `YYYY-MM-DD`. */
  from: string;
  /** Last EAT day, `YYYY-MM-DD`. */
  to: string;
  /** Cluster (case-insensitive): its days carry its own SLA split, created and closed counts. */
  cluster?: string;
}

// created (the SLA clock as of now: tickets.inc_created_between) and closed are counted from the
// tickets and the closure history when asked, not read from the snapshot: a day's snapshot
// counts them at its last capture, but content lags ~2 days, so a day's tickets and closures
// mostly arrive after it (its frozen counts stay near 0).
const SQL = `
with created as (
  select tickets.eat_date(c.created_at) as day, count(*)::int as n
  from tickets.inc_created_between(
    tickets.eat_day_start($1::date), tickets.eat_day_start($2::date + 1), $4::timestamptz) c
  where ($3::text is null or tickets.name_key(c.cluster) = tickets.name_key($3::text))
  group by 1
),
closed as (
  select tickets.eat_date(e.closed_at) as day, count(*)::int as n
  from tickets.closure_events e
  where e.closed_at >= tickets.eat_day_start($1::date)
    and e.closed_at < tickets.eat_day_start($2::date + 1)
    and ($3::text is null or tickets.name_key(e.cluster) = tickets.name_key($3::text))
  group by 1
)
select count(*)::int as returned,
       coalesce(jsonb_agg(jsonb_build_object(
         'date', to_char(d.snapshot_date, 'YYYY-MM-DD'),
         'open_total', coalesce((c.counts ->> 'total')::int, case when $3::text is null then d.open_total else 0 end),
         'open_breached', coalesce((c.counts ->> 'breached')::int, case when $3::text is null then d.open_breached else 0 end),
         'open_at_risk', coalesce((c.counts ->> 'at_risk')::int, case when $3::text is null then d.open_at_risk else 0 end),
         'open_ok', coalesce((c.counts ->> 'ok')::int, case when $3::text is null then d.open_ok else 0 end),
         'open_unknown', coalesce((c.counts ->> 'unknown')::int, case when $3::text is null then d.open_unknown else 0 end),
         'created', coalesce(cr.n, 0),
         'closed', coalesce(cl.n, 0),
         'closures_observed', case when $3::text is null then d.closures_observed_today end,
         'captured_at', tickets.eat_iso(d.captured_at)
       ) order by d.snapshot_date), '[]'::jsonb)::text as days
from tickets.inc_daily_snapshot d
left join created cr on cr.day = d.snapshot_date
left join closed cl on cl.day = d.snapshot_date
left join lateral (
  select sum((e.value ->> 'total')::int) as total, jsonb_build_object(
    'total', sum((e.value ->> 'total')::int),
    'breached', sum((e.value ->> 'breached')::int),
    'at_risk', sum((e.value ->> 'at_risk')::int),
    'ok', sum((e.value ->> 'ok')::int),
    'unknown', sum((e.value ->> 'unknown')::int)) as counts
  from jsonb_each(d.by_cluster) e
  where $3::text is not null and tickets.name_key(e.key) = tickets.name_key($3::text)
  having count(*) > 0
) c on true
where d.snapshot_date between $1::date and $2::date`;

/** The series: one object per captured day (days without a capture are absent). */
export async function readBacklog(
  tx: SqlSession,
  query: BacklogQuery,
  now: Date = new Date(),
): Promise<{ returned: number; days: string }> {
  const [row] = await tx.query<{ returned: number; days: string }>(SQL, [
    query.from,
    query.to,
    query.cluster ?? null,
    now.toISOString(),
  ]);
  return row ?? { returned: 0, days: "[]" };
}
