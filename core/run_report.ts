/**
 * The INC report (`deno task report`): open backlog by cluster with the SLA split, the oldest
 * open tickets, closures of the last 7 EAT days, backlog over time from the daily snapshots, and
 * freshness. {@linkcode buildReport} gathers it as data (`--json`); {@linkcode formatReport}
 * renders it for a terminal.
 *
 * @module
 */

import { terminalText } from "./terminal_text.ts";
import type { Database, SqlSession } from "./ports/mod.ts";
import { decimalText } from "./decimal_text.ts";

/** How many of the oldest open tickets the report lists. */
const OLDEST_LIMIT = 10;
/** Days of closures the report covers, today included. */
const CLOSURE_DAYS = 7;
/** Days of snapshots the backlog-over-time section covers, today included. */
const BACKLOG_DAYS = 30;

/** Open counts by derived SLA state. */
export interface SlaSplit {
  /** Open tickets. */
  total: number;
  /** SLA clock 48 h old or more. */
  breached: number;
  /** SLA clock 36 h to 48 h old. */
  atRisk: number;
  /** SLA clock under 36 h old. */
  ok: number;
  /** No SLA clock at all. */
  unknown: number;
}

/** The open backlog of one cluster. */
export interface ClusterBacklog extends SlaSplit {
  /** Cluster name; `(none)` for tickets without one. */
  cluster: string;
  /** Age of the cluster's oldest open ticket, hours (null when none has a clock). */
  oldestHours: number | null;
}

/** One of the oldest open tickets. */
export interface OpenTicket {
  /** Ticket id. */
  ticketId: string;
  /** Cluster. */
  cluster: string | null;
  /** Canonical status. */
  status: string | null;
  /** Hours since the SLA clock (truncated to 2 decimals). */
  hoursOpen: number | null;
  /** `breached`, `at_risk`, `ok` or `unknown`. */
  slaState: string;
  /** `created_at_service` or `first_seen_at` (null: no clock). */
  slaClockSource: string | null;
  /** When the SLA clock started, ISO 8601 in EAT. */
  slaClockAt: string | null;
  /** Assigned team. */
  assignedTeam: string | null;
  /** Owner. */
  owner: string | null;
}

/** Recorded closures of one EAT day. */
export interface ClosureDay {
  /** EAT date, `YYYY-MM-DD`. */
  date: string;
  /** Closure events with `closed_at` on that day. */
  closed: number;
  /** Of those, source `Compliant`. */
  compliant: number;
  /** Of those, source `Breached`. */
  breached: number;
  /** Median feed MTTR, hours (null without data). */
  medianMttrHours: number | null;
}

/** One daily snapshot of the open backlog. */
export interface BacklogDay {
  /** EAT date, `YYYY-MM-DD`. */
  date: string;
  /** Open tickets at the day's last capture. */
  openTotal: number;
  /** Of those, breached. */
  breached: number;
  /** Of those, at risk. */
  atRisk: number;
  /** Of those, ok. */
  ok: number;
  /** Of those, without an SLA clock. */
  unknown: number;
  /** Tickets whose SLA clock falls on that day. */
  createdToday: number;
  /** Closures with `closed_at` on that day (as known at the day's last capture). */
  closedToday: number;
  /** Closures first observed that day. */
  closuresObservedToday: number;
  /** The day's last capture, ISO 8601 in EAT. */
  capturedAt: string;
}

/** Freshness of the INC data (`tickets.freshness('inc')`). */
export interface Freshness {
  /** Newest applied change file (the watermark). */
  newestFile: string | null;
  /** Its EAT export time, from its name, ISO 8601. */
  newestFileTime: string | null;
  /** Hours from that export time to the report time. */
  fileAgeHours: number | null;
  /** Change files applied so far. */
  filesApplied: number;
  /** When the drain last applied a file, ISO 8601 in EAT. */
  lastAppliedAt: string | null;
  /** When the drain last completed an applying run, ISO 8601 in EAT. */
  lastRunAt: string | null;
  /** Newest `updated_at` in the ticket content, ISO 8601 in EAT. */
  newestSourceUpdatedAt: string | null;
  /** Report time minus that, hours (~48 is the export's normal lag). */
  contentLagHours: number | null;
  /** Tickets updated more than an hour ahead of the report time (not in the lag). */
  futureUpdates: number;
}

/** Everything `deno task report` shows; `--json` prints it as is. */
export interface TicketReport {
  /** Report time, ISO 8601 in EAT. */
  generatedAt: string;
  /** The report's EAT date. */
  today: string;
  /** Open INC backlog with the SLA split. */
  open: SlaSplit & {
    /** Open tickets clocked from `first_seen_at` (no `created_at_service`). */
    clockFromFirstSeen: number;
  };
  /** Open backlog per cluster, largest first. */
  byCluster: ClusterBacklog[];
  /** The oldest open tickets by SLA clock, oldest first. */
  oldest: OpenTicket[];
  /** Recorded closures of the last 7 EAT days (today included), oldest first. */
  closures: { from: string; to: string; total: number; days: ClosureDay[] };
  /** Daily snapshots of the last 30 EAT days, oldest first (they accrue from the first capture). */
  backlog: BacklogDay[];
  /** Freshness of the INC data. */
  freshness: Freshness;
}

/** Options for {@linkcode buildReport}. */
export interface BuildReportOptions {
  /** The instant to report as of; default the database's `now()`. */
  now?: Date;
}

/**
 * Gathers the report in one repeatable-read transaction, so every section sees the same state.
 * Read-only: it never writes.
 *
 * @example Usage
 * ```ts ignore
 * import { buildReport, createPgliteDatabase, formatReport } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * const report = await buildReport(db); // or { now: new Date("2026-06-15T14:00:00Z") }
 * console.log(formatReport(report));
 * console.log(JSON.stringify(report.freshness));
 * await db.close();
 * ```
 */
export function buildReport(
  db: Database,
  options: BuildReportOptions = {},
): Promise<TicketReport> {
  return db.transaction(async (tx) => {
    await tx.query(`set transaction isolation level repeatable read`);
    const clock = await readClock(tx, options.now);
    const now = clock.now;
    const byCluster = await clusters(tx, now);
    const open = await openTotals(tx, now, byCluster);
    const days = await closureDays(tx, now);
    return {
      generatedAt: clock.generated_at,
      today: clock.today,
      open,
      byCluster,
      oldest: await oldestOpen(tx, now),
      closures: {
        from: days[0]?.date ?? clock.today,
        to: clock.today,
        total: days.reduce((total, d) => total + d.closed, 0),
        days,
      },
      backlog: await backlogDays(tx, now),
      freshness: await freshness(tx, now),
    };
  });
}

// Every query casts its output (int, float8, ISO text) so postgres.js and PGlite return the same
// JS types: postgres.js would give bigint and numeric as strings, and a date as a local-midnight
// Date; and date::text would follow the session DateStyle.

/** The report's instant (`now`, or the database's clock), its EAT time and its EAT day. */
async function readClock(
  tx: SqlSession,
  at: Date | undefined,
): Promise<{ now: string; generated_at: string; today: string }> {
  const [clock] = await tx.query<{ now: string; generated_at: string; today: string }>(
    // Dates and the instant travel as ISO text: ::text would follow the session DateStyle.
    `select to_char(n at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as now,
            tickets.eat_iso(n) as generated_at, to_char(tickets.eat_date(n)::timestamp, 'YYYY-MM-DD') as today
     from (select coalesce($1::timestamptz, now()) as n) x`,
    [at?.toISOString() ?? null],
  );
  if (clock === undefined) throw new Error("The database returned no clock row");
  return clock;
}

/** The open backlog's SLA split over every cluster, and how many clocks start at first sight. */
async function openTotals(
  tx: SqlSession,
  now: string,
  byCluster: ClusterBacklog[],
): Promise<TicketReport["open"]> {
  const [firstSeen] = await tx.query<{ n: number }>(
    `select count(*)::int as n from tickets.inc_open_sla_at($1::timestamptz)
     where sla_clock_source = 'first_seen_at'`,
    [now],
  );
  const sum = (pick: (c: ClusterBacklog) => number) =>
    byCluster.reduce((total, c) => total + pick(c), 0);
  return {
    total: sum((c) => c.total),
    breached: sum((c) => c.breached),
    atRisk: sum((c) => c.atRisk),
    ok: sum((c) => c.ok),
    unknown: sum((c) => c.unknown),
    clockFromFirstSeen: firstSeen?.n ?? 0,
  };
}

async function clusters(tx: SqlSession, now: string): Promise<ClusterBacklog[]> {
  const rows = await tx.query<{
    cluster: string;
    total: number;
    breached: number;
    at_risk: number;
    ok: number;
    unknown: number;
    oldest_hours: number | null;
  }>(
    `select cluster, total, (split ->> 'breached')::int as breached,
            (split ->> 'at_risk')::int as at_risk, (split ->> 'ok')::int as ok,
            (split ->> 'unknown')::int as unknown, oldest_hours
     from (
       -- A cluster in any case and without the spaces around it, as the filters match it (before:
       -- "Westlands" 25 and "westlands" 1, where the dashboard's cluster=Westlands says 26),
       -- named as most of its tickets spell it.
       select mode() within group (order by coalesce(cluster, '(none)') collate "C") as cluster,
              count(*)::int as total,
              tickets.sla_split(array_agg(sla_state)) as split,
              max(hours_open)::float8 as oldest_hours
       from tickets.inc_open_sla_at($1::timestamptz)
       group by tickets.name_key(coalesce(cluster, '(none)'))
     ) c
     order by total desc, cluster`,
    [now],
  );
  return rows.map((r) => ({
    cluster: r.cluster,
    total: r.total,
    breached: r.breached,
    atRisk: r.at_risk,
    ok: r.ok,
    unknown: r.unknown,
    oldestHours: r.oldest_hours,
  }));
}

async function oldestOpen(tx: SqlSession, now: string): Promise<OpenTicket[]> {
  const rows = await tx.query<{
    ticket_id: string;
    cluster: string | null;
    normalized_status: string | null;
    hours_open: number | null;
    sla_state: string;
    sla_clock_source: string | null;
    sla_clock_at: string | null;
    assigned_team: string | null;
    owner: string | null;
  }>(
    `select ticket_id, cluster, normalized_status, hours_open::float8 as hours_open, sla_state,
            sla_clock_source, tickets.eat_iso(sla_clock_at) as sla_clock_at, assigned_team, owner
     from tickets.inc_open_sla_at($1::timestamptz)
     order by sla_clock_at nulls last, ticket_id
     limit ${OLDEST_LIMIT}`,
    [now],
  );
  return rows.map((r) => ({
    ticketId: r.ticket_id,
    cluster: r.cluster,
    status: r.normalized_status,
    hoursOpen: r.hours_open,
    slaState: r.sla_state,
    slaClockSource: r.sla_clock_source,
    slaClockAt: r.sla_clock_at,
    assignedTeam: r.assigned_team,
    owner: r.owner,
  }));
}

async function closureDays(tx: SqlSession, now: string): Promise<ClosureDay[]> {
  const rows = await tx.query<{
    date: string;
    closed: number;
    compliant: number;
    breached: number;
    median_mttr_hours: number | null;
  }>(
    `with days as (
       select tickets.eat_date($1::timestamptz) - g as day
       from generate_series(0, ${CLOSURE_DAYS - 1}) g
     )
     select to_char(d.day::timestamp, 'YYYY-MM-DD') as date, count(c.ticket_id)::int as closed,
            count(*) filter (where c.verdict = 'compliant')::int as compliant,
            count(*) filter (where c.verdict = 'breached')::int as breached,
            round((percentile_cont(0.5) within group (order by c.mttr) / 60)::numeric, 2)::float8
              as median_mttr_hours
     from days d
     left join (
       -- As fn_team_performance reads them: the ticket still closed at that instant is the same
       -- closure, whose MTTR and verdict are the feed's latest word (an export may fill them in
       -- after closed_at first appears; before, the first capture's blanks stayed here).
       select e.ticket_id, e.closed_at, coalesce(i.mttr, e.mttr) as mttr,
              lower(coalesce(i.sla_status, e.sla_status)) as verdict
       from tickets.closure_events e
       left join tickets.inc i on i.ticket_id = e.ticket_id and i.closed_at = e.closed_at
         and i.is_actionable is not true
     ) c
       on c.closed_at >= tickets.eat_day_start(d.day)
      and c.closed_at < tickets.eat_day_start(d.day + 1)
     group by d.day order by d.day`,
    [now],
  );
  return rows.map((r) => ({
    date: r.date,
    closed: r.closed,
    compliant: r.compliant,
    breached: r.breached,
    medianMttrHours: r.median_mttr_hours,
  }));
}

async function backlogDays(tx: SqlSession, now: string): Promise<BacklogDay[]> {
  const rows = await tx.query<{
    date: string;
    open_total: number;
    open_breached: number;
    open_at_risk: number;
    open_ok: number;
    open_unknown: number;
    created_today: number;
    closed_today: number;
    closures_observed_today: number;
    captured_at: string;
  }>(
    `select to_char(snapshot_date::timestamp, 'YYYY-MM-DD') as date, open_total, open_breached, open_at_risk, open_ok,
            open_unknown, created_today, closed_today, closures_observed_today,
            tickets.eat_iso(captured_at) as captured_at
     from tickets.inc_daily_snapshot
     where snapshot_date > tickets.eat_date($1::timestamptz) - ${BACKLOG_DAYS}
       and snapshot_date <= tickets.eat_date($1::timestamptz)
     order by snapshot_date`,
    [now],
  );
  return rows.map((r) => ({
    date: r.date,
    openTotal: r.open_total,
    breached: r.open_breached,
    atRisk: r.open_at_risk,
    ok: r.open_ok,
    unknown: r.open_unknown,
    createdToday: r.created_today,
    closedToday: r.closed_today,
    closuresObservedToday: r.closures_observed_today,
    capturedAt: r.captured_at,
  }));
}

async function freshness(tx: SqlSession, now: string): Promise<Freshness> {
  const [row] = await tx.query<{ f: Record<string, unknown> }>(
    `select tickets.freshness('inc', $1::timestamptz) as f`,
    [now],
  );
  const f = row?.f ?? {};
  const num = (v: unknown) => (typeof v === "number" ? v : null);
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  return {
    newestFile: str(f.newest_file),
    newestFileTime: str(f.newest_file_time),
    fileAgeHours: num(f.file_age_hours),
    filesApplied: num(f.files_applied) ?? 0,
    lastAppliedAt: str(f.last_applied_at),
    lastRunAt: str(f.last_run_at),
    newestSourceUpdatedAt: str(f.newest_source_updated_at),
    contentLagHours: num(f.content_lag_hours),
    futureUpdates: num(f.future_updates) ?? 0,
  };
}

/** `2026-06-15T17:00:00+03:00` -> `2026-06-15 17:00` (every report time is EAT). */
function clockText(iso: string | null): string {
  return iso === null ? "never" : iso.slice(0, 16).replace("T", " ");
}

function hoursText(hours: number | null): string {
  return hours === null ? "-" : decimalText(hours, 1);
}

/** An open ticket's age in hours, rounded down as the SLA state is: 47.9 at risk, 48.0 breached. */
function ageText(hours: number | null): string {
  return hours === null ? "-" : (Math.floor(hours * 10 + 1e-6) / 10).toFixed(1);
}

/** Lays rows out in columns; `align` has one letter per column, `l`eft or `r`ight. */
function table(align: string, rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  // The feed's text (a cluster, a team) may hold control characters: escaped, and measured so.
  rows = rows.map((row) => row.map(terminalText));
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  return rows.map((row) =>
    "  " +
    row.map((cell, i) => align[i] === "r" ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))
      .join("  ").trimEnd()
  );
}

/**
 * Renders the report for a person at a terminal (times are EAT).
 *
 * @example Usage
 * ```ts ignore
 * import { buildReport, createPgliteDatabase, formatReport } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * console.log(formatReport(await buildReport(db))); // "INC report as of … EAT", then sections
 * await db.close();
 * ```
 */
export function formatReport(report: TicketReport): string {
  return [
    `INC report as of ${clockText(report.generatedAt)} EAT`,
    freshnessLine(report.freshness),
    "",
    ...openLines(report),
    "",
    ...closureLines(report.closures),
    "",
    ...backlogLines(report),
  ].join("\n");
}

function freshnessLine(f: Freshness): string {
  return f.newestFile === null
    ? "Freshness: no change file applied yet"
    : `Freshness: newest file ${f.newestFile} (${hoursText(f.fileAgeHours)} h old), ` +
      `last run ${clockText(f.lastRunAt)}, content lag ${hoursText(f.contentLagHours)} h ` +
      `(newest update ${clockText(f.newestSourceUpdatedAt)})` +
      (f.futureUpdates > 0
        ? `; ${f.futureUpdates} ticket(s) dated more than an hour ahead, not counted`
        : "");
}

/** The open backlog by cluster, then the oldest open tickets. */
function openLines(report: TicketReport): string[] {
  const o = report.open;
  if (o.total === 0) return ["Open backlog: none"];
  return [
    `Open backlog: ${o.total} (${o.breached} breached, ${o.atRisk} at risk, ${o.ok} ok` +
    (o.unknown ? `, ${o.unknown} without a clock` : "") + `); ` +
    // A placeholder or future created_at_service is passed over too (tickets.sla_clock_plausible).
    `${o.clockFromFirstSeen} clocked from first_seen_at (no usable created_at_service)`,
    // "no clock": a row adds up (open = breached + at risk + ok + no clock).
    ...table("lrrrrrr", [
      ["cluster", "open", "breached", "at risk", "ok", "no clock", "oldest h"],
      ...report.byCluster.map((c) => [
        c.cluster,
        String(c.total),
        String(c.breached),
        String(c.atRisk),
        String(c.ok),
        String(c.unknown),
        ageText(c.oldestHours),
      ]),
    ]),
    "",
    `Oldest open tickets:`,
    ...table("lrlllll", [
      ["ticket", "hours", "sla", "cluster", "status", "clock", "team / owner"],
      ...report.oldest.map((t) => [
        t.ticketId,
        ageText(t.hoursOpen),
        t.slaState,
        t.cluster ?? "-",
        t.status ?? "-",
        t.slaClockSource ?? "none",
        [t.assignedTeam, t.owner].filter((v) => v).join(" / ") || "-",
      ]),
    ]),
  ];
}

function closureLines(c: TicketReport["closures"]): string[] {
  const heading = `Closures ${c.from} to ${c.to} (EAT closed date): ${c.total}`;
  if (c.total === 0) return [heading];
  return [
    heading,
    ...table("lrrrr", [
      ["date", "closed", "compliant", "breached", "median MTTR h"],
      ...c.days.map((d) => [
        d.date,
        String(d.closed),
        String(d.compliant),
        String(d.breached),
        hoursText(d.medianMttrHours),
      ]),
    ]),
  ];
}

function backlogLines(report: TicketReport): string[] {
  if (report.backlog.length === 0) {
    return [
      `Backlog over time: no snapshot in the ${BACKLOG_DAYS} days to ${report.today} ` +
      `(they accrue from the first capture on)`,
    ];
  }
  return [
    `Backlog over time (last capture of each EAT day):`,
    ...table("lrrrrrrrr", [
      [
        "date",
        "open",
        "breached",
        "at risk",
        "ok",
        "no clock",
        "created",
        "closed",
        "closures seen",
      ],
      ...report.backlog.map((d) => [
        d.date,
        String(d.openTotal),
        String(d.breached),
        String(d.atRisk),
        String(d.ok),
        String(d.unknown),
        String(d.createdToday),
        String(d.closedToday),
        String(d.closuresObservedToday),
      ]),
    ]),
  ];
}
