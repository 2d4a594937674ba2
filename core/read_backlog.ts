/**
 * The backlog trend (`/api/backlog`): the daily series of `tickets.inc_daily_snapshot` between
 * two EAT days, overall or for one cluster.
 *
 * @module
 */

import type { SqlSession } from "./ports/mod.ts";

/** Which days, and optionally one cluster (case-insensitive). */
export interface BacklogQuery {
  /** First EAT day, `YYYY-MM-DD`. */
  from: string;
  /** Last EAT day, `YYYY-MM-DD`. */
  to: string;
  /** Cluster; its days carry its own SLA split and no created/closed counts (not per cluster). */
  cluster?: string;
}

const SQL = `
select count(*)::int as returned,
       coalesce(jsonb_agg(jsonb_build_object(
         'date', to_char(d.snapshot_date, 'YYYY-MM-DD'),
         'open_total', coalesce((c.counts ->> 'total')::int, case when $3::text is null then d.open_total else 0 end),
         'open_breached', coalesce((c.counts ->> 'breached')::int, case when $3::text is null then d.open_breached else 0 end),
         'open_at_risk', coalesce((c.counts ->> 'at_risk')::int, case when $3::text is null then d.open_at_risk else 0 end),
         'open_ok', coalesce((c.counts ->> 'ok')::int, case when $3::text is null then d.open_ok else 0 end),
         'open_unknown', coalesce((c.counts ->> 'unknown')::int, case when $3::text is null then d.open_unknown else 0 end),
         'created', case when $3::text is null then d.created_today end,
         'closed', case when $3::text is null then d.closed_today end,
         'closures_observed', case when $3::text is null then d.closures_observed_today end,
         'captured_at', tickets.eat_iso(d.captured_at)
       ) order by d.snapshot_date), '[]'::jsonb)::text as days
from tickets.inc_daily_snapshot d
left join lateral (
  select sum((e.value ->> 'total')::int) as total, jsonb_build_object(
    'total', sum((e.value ->> 'total')::int),
    'breached', sum((e.value ->> 'breached')::int),
    'at_risk', sum((e.value ->> 'at_risk')::int),
    'ok', sum((e.value ->> 'ok')::int),
    'unknown', sum((e.value ->> 'unknown')::int)) as counts
  from jsonb_each(d.by_cluster) e
  where $3::text is not null and lower(e.key) = lower($3::text)
  having count(*) > 0
) c on true
where d.snapshot_date between $1::date and $2::date`;

/** The series: one object per captured day (days without a capture are absent). */
export async function readBacklog(
  tx: SqlSession,
  query: BacklogQuery,
): Promise<{ returned: number; days: string }> {
  const [row] = await tx.query<{ returned: number; days: string }>(SQL, [
    query.from,
    query.to,
    query.cluster ?? null,
  ]);
  return row ?? { returned: 0, days: "[]" };
}
