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
  /**
   * True when this capture wrote the day's first snapshot (false: it replaced the day's row). The
   * day's first capture checks every closed ticket, as does a capture of an instant earlier than
   * the last one; the others only the tickets written by files applied since the last capture and
   * those whose closure fell due since.
   */
  snapshotCreated: boolean;
  /** The capture instant, ISO 8601 in EAT (`2026-06-15T17:00:00+03:00`). */
  capturedAt: string;
  /** Closures seen for the first time by this capture. */
  closuresAdded: number;
  /**
   * All closure events recorded so far (counted by a capture that checks every closed ticket,
   * then kept up by the later ones).
   */
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
 *
 * @example Usage
 * ```ts ignore
 * import { capture, createPgliteDatabase, formatCaptureReport } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * console.log(formatCaptureReport(await capture(db)));
 * // A backfill: the snapshot of the EAT day 2026-06-15, as of 23:59 EAT.
 * await capture(db, { now: new Date("2026-06-15T20:59:00Z") });
 * await db.close();
 * ```
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

/**
 * Renders a capture report as one line for a person at a terminal.
 *
 * @example Usage
 * ```ts
 * import { formatCaptureReport } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const line = formatCaptureReport({
 *   snapshotDate: "2026-06-15",
 *   snapshotCreated: true,
 *   capturedAt: "2026-06-15T17:00:00+03:00",
 *   closuresAdded: 12,
 *   closuresTotal: 840,
 *   openTotal: 96,
 *   openBreached: 7,
 *   openAtRisk: 5,
 *   openOk: 84,
 *   openUnknown: 0,
 *   createdToday: 31,
 *   closedToday: 28,
 *   closuresObservedToday: 12,
 *   durationMs: 41,
 * });
 * assert.equal(
 *   line,
 *   "history: 12 new closure(s) (840 recorded); snapshot 2026-06-15 created: 96 open " +
 *     "(7 breached, 5 at risk, 84 ok), 31 created and 28 closed today (41 ms)",
 * );
 * ```
 */
export function formatCaptureReport(report: CaptureReport): string {
  const unknown = report.openUnknown ? `, ${report.openUnknown} no clock` : "";
  return `history: ${report.closuresAdded} new closure(s) (${report.closuresTotal} recorded); ` +
    `snapshot ${report.snapshotDate} ${report.snapshotCreated ? "created" : "updated"}: ` +
    `${report.openTotal} open (${report.openBreached} breached, ${report.openAtRisk} at risk, ` +
    `${report.openOk} ok${unknown}), ${report.createdToday} created and ` +
    `${report.closedToday} closed today (${report.durationMs} ms)`;
}
