/**
 * Closure attribution (`/api/teams`, `report --by team|owner`): `reporting.fn_team_performance`
 * per assigned team or owner, and its terminal table.
 *
 * @module
 */

import type { SqlSession } from "./ports/mod.ts";
import { decimalText, shareText } from "./decimal_text.ts";
import { terminalText } from "./terminal_text.ts";

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

/** The table for a terminal: each column as wide as its widest value (an MTTR of 4795.0 h too). */
export function formatTeamPerformance(report: TeamPerformance): string {
  const num = (v: number | null) => v === null ? "-" : decimalText(v, 1);
  const share = (part: number, whole: number) =>
    whole === 0 ? "-" : `${shareText(part, whole, 1)}%`;
  const columns: [string, (r: TeamRow) => string][] = [
    [report.by === "team" ? "Team" : "Owner", (r) => terminalText(r.key)],
    ["closed", (r) => String(r.closures)],
    ["MTTR h p50", (r) => num(r.mttr_hours.median)],
    ["p90", (r) => num(r.mttr_hours.p90)],
    ["compliant", (r) => share(r.closed_compliant, r.closed_compliant + r.closed_breached)],
    ["open", (r) => String(r.open)],
    ["breached", (r) => String(r.open_breached)],
    ["at risk", (r) => String(r.open_at_risk)],
    ["reopened", (r) => String(r.reopened)],
  ];
  const cells = report.rows.map((r) => columns.map(([, value]) => value(r)));
  const widths = columns.map(([head], i) =>
    Math.max(head.length, ...cells.map((c) => c[i]!.length))
  );
  // The first column (names) left-aligned, the figures right-aligned.
  const line = (texts: string[]) =>
    texts.map((t, i) => i === 0 ? t.padEnd(widths[i]!) : t.padStart(widths[i]!)).join("  ");
  const lines = [
    `Closure attribution by ${report.by}, ${report.window.name} (${report.window.from} .. ${report.window.to} EAT)` +
    (report.filters.cluster ? `, cluster ${report.filters.cluster}` : ""),
    "",
    line(columns.map(([head]) => head)),
    ...cells.map(line),
  ];
  if (report.rows.length === 0) lines.push("(no closures in the window and no open tickets)");
  return lines.join("\n");
}
