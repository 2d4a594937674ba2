/**
 * History capture: appends newly observed INC closures to `tickets.closure_events` and upserts
 * today's (EAT) backlog row of `tickets.inc_daily_snapshot`, through `tickets.capture_history()`.
 *
 * @module
 */

import type { Database } from "./ports/mod.ts";

/** Options for {@linkcode capture}. */
export interface CaptureOptions {
  /** The instant to capture as of (tests, backfills); default the database's `now()`. */
  now?: Date;
}

/** What one capture did; the counts are those of the day's snapshot row after the capture. */
export interface CaptureReport {
  /** EAT calendar day of the snapshot, `YYYY-MM-DD`. */
  snapshotDate: string;
  /** True when this capture wrote the day's first snapshot (false: it replaced the day's row). */
  snapshotCreated: boolean;
  /** The capture instant, ISO 8601 in EAT (`2026-06-15T17:00:00+03:00`). */
  capturedAt: string;
  /** Closures seen for the first time by this capture. */
  closuresAdded: number;
  /** All closure events recorded so far. */
  closuresTotal: number;
  /** Open INC tickets. */
  openTotal: number;
  /** Open tickets whose SLA clock is 48 h old or more. */
  openBreached: number;
  /** Open tickets whose SLA clock is 36 h to 48 h old. */
  openAtRisk: number;
  /** Open tickets under 36 h. */
  openOk: number;
  /** Open tickets with no SLA clock (neither `created_at_service` nor `first_seen_at`). */
  openUnknown: number;
  /** Tickets whose SLA clock falls on the snapshot day. */
  createdToday: number;
  /** Closure events whose `closed_at` falls on the snapshot day. */
  closedToday: number;
  /** Closure events first observed on the snapshot day. */
  closuresObservedToday: number;
  /** Wall time of the capture, ms. */
  durationMs: number;
}

interface CaptureRow {
  snapshot_date: string;
  snapshot_created: boolean;
  captured_at: string;
  closures_added: number;
  closures_total: number;
  open_total: number;
  open_breached: number;
  open_at_risk: number;
  open_ok: number;
  open_unknown: number;
  created_today: number;
  closed_today: number;
  closures_observed_today: number;
}

/**
 * Runs `tickets.capture_history()` in its own transaction and reports what it did. Safe to run
 * any number of times: a closure is recorded once, and the day's snapshot is replaced. Throws
 * when the database fails (nothing is then written).
 */
export async function capture(
  db: Database,
  options: CaptureOptions = {},
): Promise<CaptureReport> {
  const started = performance.now();
  // ISO text, not a Date: the instant must not pass through any driver's time zone handling.
  const now = options.now?.toISOString() ?? null;
  const [row] = await db.transaction((tx) =>
    tx.query<{ result: CaptureRow }>(
      `select tickets.capture_history(coalesce($1::timestamptz, now())) as result`,
      [now],
    )
  );
  if (row === undefined) throw new Error("tickets.capture_history() returned no row");
  const r = row.result;
  return {
    snapshotDate: r.snapshot_date,
    snapshotCreated: r.snapshot_created,
    capturedAt: r.captured_at,
    closuresAdded: r.closures_added,
    closuresTotal: r.closures_total,
    openTotal: r.open_total,
    openBreached: r.open_breached,
    openAtRisk: r.open_at_risk,
    openOk: r.open_ok,
    openUnknown: r.open_unknown,
    createdToday: r.created_today,
    closedToday: r.closed_today,
    closuresObservedToday: r.closures_observed_today,
    durationMs: Math.round(performance.now() - started),
  };
}

/** Renders a capture report as one line for a person at a terminal. */
export function formatCaptureReport(report: CaptureReport): string {
  const unknown = report.openUnknown ? `, ${report.openUnknown} no clock` : "";
  return `history: ${report.closuresAdded} new closure(s) (${report.closuresTotal} recorded); ` +
    `snapshot ${report.snapshotDate} ${report.snapshotCreated ? "created" : "updated"}: ` +
    `${report.openTotal} open (${report.openBreached} breached, ${report.openAtRisk} at risk, ` +
    `${report.openOk} ok${unknown}), ${report.createdToday} created and ` +
    `${report.closedToday} closed today (${report.durationMs} ms)`;
}
