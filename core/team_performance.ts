/**
 * Closure attribution (`/api/teams`, `report --by team|owner`): `reporting.fn_team_performance`
 * per assigned team or owner, and its terminal table.
 *
 * @module
 */

import type { SqlSession } from "./ports/mod.ts";

/** Which grouping, window and cluster. */
export interface TeamQuery {
  /** `team` (assigned_team) or `owner`. */
  by: "team" | "owner";
  /** Cluster, case-insensitive. */
  cluster?: string;
  /** `today`, `yesterday`, `7d`, `30d`, `mtd` or `custom`. */
  window: string;
  /** First EAT day of a custom window. */
  from?: string;
  /** Last EAT day of a custom window. */
  to?: string;
}

/** One team's (or owner's) row. */
export interface TeamRow {
  key: string;
  closures: number;
  mttr_hours: { median: number | null; p90: number | null; count: number };
  closed_compliant: number;
  closed_breached: number;
  compliance_rate: number | null;
  open: number;
  open_breached: number;
  open_at_risk: number;
  reopened: number;
}

/** The payload of `reporting.fn_team_performance`. */
export interface TeamPerformance {
  generated_at: string;
  by: "team" | "owner";
  filters: { cluster: string | null };
  window: { name: string; from: string; to: string; start: string; end: string };
  rows: TeamRow[];
}

const SQL = `
select reporting.fn_team_performance($1, $2, $3, $4::date, $5::date, $6::timestamptz)::text as body`;

/** The payload's JSON text, as of `now`. */
export async function teamPerformance(
  tx: SqlSession,
  query: TeamQuery,
  now: Date = new Date(),
): Promise<string> {
  const [row] = await tx.query<{ body: string }>(SQL, [
    query.by,
    query.cluster ?? null,
    query.window,
    query.from ?? null,
    query.to ?? null,
    now.toISOString(),
  ]);
  return row!.body;
}

/** The table for a terminal. */
export function formatTeamPerformance(report: TeamPerformance): string {
  const head = report.by === "team" ? "Team" : "Owner";
  const width = Math.max(head.length, ...report.rows.map((r) => r.key.length));
  const num = (v: number | null, digits = 1) => v === null ? "-" : v.toFixed(digits);
  const lines = [
    `Closure attribution by ${report.by}, ${report.window.name} (${report.window.from} .. ${report.window.to} EAT)` +
    (report.filters.cluster ? `, cluster ${report.filters.cluster}` : ""),
    "",
    `${head.padEnd(width)}  closed  MTTR h p50   p90  compliant  open  breached  at risk  reopened`,
  ];
  for (const r of report.rows) {
    lines.push(
      `${r.key.padEnd(width)}  ${String(r.closures).padStart(6)}  ${
        num(r.mttr_hours.median).padStart(10)
      }  ${num(r.mttr_hours.p90).padStart(4)}  ${
        (r.compliance_rate === null ? "-" : `${(r.compliance_rate * 100).toFixed(1)}%`).padStart(9)
      }  ${String(r.open).padStart(4)}  ${String(r.open_breached).padStart(8)}  ${
        String(r.open_at_risk).padStart(7)
      }  ${String(r.reopened).padStart(8)}`,
    );
  }
  if (report.rows.length === 0) lines.push("(no closures in the window and no open tickets)");
  return lines.join("\n");
}
