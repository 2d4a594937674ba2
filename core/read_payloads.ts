/**
 * The predecessor's payloads, byte for byte: `reporting.fn_tickets_for_map` (the map) and
 * `reporting.fn_inc_dashboard` (the INC dashboard), as the JSON text PostgreSQL writes.
 *
 * @module
 */

import type { SqlSession } from "./ports/mod.ts";

/** Dashboard parameters (see `reporting.fn_inc_dashboard`). */
export interface DashboardQuery {
  /** Cluster, case-insensitive. */
  cluster?: string;
  /** Canonical status, case-insensitive. */
  status?: string;
  /** `today`, `yesterday`, `7d`, `30d`, `mtd` or `custom`. */
  window: string;
  /** First EAT day of a custom window, `YYYY-MM-DD`. */
  from?: string;
  /** Last EAT day of a custom window, `YYYY-MM-DD`. */
  to?: string;
  /**
   * `false`: without the open and closed FeatureCollections (`fn_inc_dashboard_summary`: the
   * figures only). Default: the whole payload.
   */
  features?: boolean;
}

/** The map payload's JSON text. */
export async function mapPayload(
  tx: SqlSession,
  openOnly: boolean,
  now: Date = new Date(),
): Promise<string> {
  const [row] = await tx.query<{ body: string }>(
    `select reporting.fn_tickets_for_map($1::boolean, $2::timestamptz)::text as body`,
    [openOnly, now.toISOString()],
  );
  return row!.body;
}

/** The dashboard payload's JSON text. */
export async function dashboardPayload(
  tx: SqlSession,
  query: DashboardQuery,
  now: Date = new Date(),
): Promise<string> {
  const [row] = await tx.query<{ body: string }>(
    `select reporting.${
      query.features === false ? "fn_inc_dashboard_summary" : "fn_inc_dashboard"
    }($1, $2, $3, $4::date, $5::date, $6::timestamptz)::text as body`,
    [
      query.cluster ?? null,
      query.status ?? null,
      query.window,
      query.from ?? null,
      query.to ?? null,
      now.toISOString(),
    ],
  );
  return row!.body;
}
