// Golden tests of the read layer (migration 003) and history capture: hand-built change files
// with known ages are drained, then the SLA view, the map and dashboard payloads, capture() and
// the report are checked against values worked out by hand. Every test runs with the session
// time zone set to New York, whose calendar day differs from EAT's around EAT midnight: any
// reliance on the session TimeZone shows up as a wrong day (and DateStyle is day-first, so
// any date rendered through ::text shows up too).

import assert from "node:assert/strict";
import { COLUMNS } from "../demo/generate_stream.ts";
import { capture, formatCaptureReport } from "../core/capture.ts";
import { readBacklog } from "../core/read_backlog.ts";
import { CRQ, type Dataset, INC } from "../core/datasets.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import { drain } from "../core/drain.ts";
import { formatDrainReport } from "../cli/format_report.ts";
import type { Database } from "../core/ports/mod.ts";
import { buildReport, formatReport } from "../core/run_report.ts";
import { NO_TEAM, readTickets } from "../core/read_tickets.ts";
import { backends, makeDirBucket, openTicket, removeTestDataAtEnd, shared } from "./_harness.ts";

/** The instant every test reports as of: 2026-06-15 12:00 EAT (09:00 UTC, 05:00 in New York). */
const NOW = new Date("2026-06-15T12:00:00+03:00");
const HOUR = 3_600_000;

// Payloads are compared field by field with literal JSON.
// deno-lint-ignore no-explicit-any
type Json = any;

// Capture is tested on its own: a drain that runs the INC post-apply hook would capture at the
// wall clock in between.
const INC_DATA: Dataset = { ...INC, afterApply: [] };
const CRQ_DATA: Dataset = { ...CRQ, afterApply: [] };

/** EAT wall-clock text of an instant, as the feed writes it. */
function eat(at: Date | number): string {
  const ms = typeof at === "number" ? at : at.getTime();
  return new Date(ms + 3 * HOUR).toISOString().slice(0, 19).replace("T", " ");
}

/** EAT wall-clock text `hours` before NOW. */
function ago(hours: number): string {
  return eat(NOW.getTime() - hours * HOUR);
}

/** An instant from EAT wall-clock text. */
function at(eatText: string): Date {
  return new Date(eatText.replace(" ", "T") + "+03:00");
}

/** An open INC ticket in Westlands (at the Sarit Centre) with no lifecycle times set. */
function row(id: string, overrides: Record<string, string> = {}): Record<string, string> {
  return openTicket(id, {
    assigned_team: "Team A",
    owner: "Jane Wanjiru",
    sla_status: "Compliant",
    updated_at: ago(49),
    latitude: "-1.2605",
    longitude: "36.8025",
    ...overrides,
  });
}

/** A ticket closed at `closedAt` (EAT text) after `mttrHours` of feed MTTR. */
function closed(
  id: string,
  closedAt: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return row(id, {
    raw_status: "CLOSED",
    normalized_status: "closed",
    bucket: "closed",
    is_actionable: "false",
    closed_at: closedAt,
    mttr: "2",
    ...overrides,
  });
}

function csv(rows: readonly Record<string, string>[]): string {
  const q = (v: string) => `"${v.replaceAll('"', '""')}"`;
  return [COLUMNS.map(q).join(","), ...rows.map((r) => COLUMNS.map((c) => q(r[c] ?? "")).join(","))]
    .join("\r\n") + "\r\n";
}

interface Feature {
  type: string;
  geometry: { type: string; coordinates: number[] };
  properties: Record<string, unknown>;
}
interface FeatureCollection {
  type: string;
  features: Feature[];
}

/** Checks GeoJSON structure (RFC 7946) and returns the features' properties. */
function assertFeatureCollection(fc: unknown): Record<string, unknown>[] {
  const c = fc as FeatureCollection;
  assert.equal(c.type, "FeatureCollection");
  assert.ok(Array.isArray(c.features), "features is an array");
  for (const f of c.features) {
    assert.equal(f.type, "Feature");
    assert.equal(f.geometry.type, "Point");
    assert.equal(f.geometry.coordinates.length, 2);
    const [lon, lat] = f.geometry.coordinates as [number, number];
    assert.ok(Math.abs(lon) <= 180 && Math.abs(lat) <= 90, `[${lon}, ${lat}] is [lon, lat]`);
    assert.equal(typeof f.properties, "object");
    assert.notEqual(f.properties, null);
  }
  return c.features.map((f) => f.properties);
}

function ids(fc: unknown): string[] {
  return assertFeatureCollection(fc).map((p) => p.ticket_id as string);
}

for (const b of backends()) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${b.name}] ${name}`, ...shared, fn });

  /** Empties the database and sets a non-EAT session time zone. */
  const fresh = async (): Promise<Database> => {
    await b.reset();
    const db = await b.db();
    await db.exec(`set time zone 'America/New_York'; set datestyle = 'SQL, DMY'`);
    return db;
  };

  /**
   * Drains one change file and places tickets at their feed coordinates (a stand-in for the
   * geometry resolver, which is not part of this layer). Names must grow across calls.
   */
  const load = async (
    db: Database,
    name: string,
    rows: readonly Record<string, string>[],
    dataset: Dataset = INC_DATA,
  ) => {
    const root = await makeDirBucket([{ name, text: csv(rows) }], dataset.changesPrefix);
    try {
      const report = await drain(createDirObjectStore(root), db, { dataset, apply: true });
      assert.equal(report.status, "ok", report.error);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
    await db.exec(`
      update ${dataset.table} set geom = st_setsrid(st_makepoint(longitude, latitude), 4326),
        geo_source = 'feed'
      where geom is null and latitude is not null and longitude is not null`);
  };

  /** How many open INC tickets /api/tickets matches with `filter`. */
  const openMatched = (db: Database, filter: { team?: string; cluster?: string }) =>
    db.transaction(async (tx) =>
      (await readTickets(tx, {
        dataset: "inc",
        openOnly: true,
        ...filter,
        limit: 100,
        offset: 0,
      }, NOW)).matched
    );

  const dashboard = async (db: Database, args: readonly unknown[]) => {
    const [r] = await db.query<{ d: Record<string, unknown> }>(
      `select reporting.fn_inc_dashboard($1, $2, $3, $4::date, $5::date, $6::timestamptz) as d`,
      [...args, NOW.toISOString()],
    );
    return r!.d as Json;
  };

  test("inc_open_sla derives each SLA state and clock source, exactly at the thresholds", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T11-40-00.csv", [
      row("BREACHED_48H", { created_at_service: ago(48) }),
      row("AT_RISK_JUST", { created_at_service: eat(NOW.getTime() - 48 * HOUR + 1000) }),
      row("AT_RISK_36H", { first_seen_at: ago(36) }),
      row("OK_JUST", { first_seen_at: eat(NOW.getTime() - 36 * HOUR + 1000) }),
      // created_at_service is the clock whenever it is there, even if first_seen_at is older.
      row("OK_CAS_WINS", { created_at_service: ago(2), first_seen_at: ago(100) }),
      // An unreadable created_at_service falls back to first_seen_at.
      row("BREACHED_FS", { created_at_service: "N/A", first_seen_at: ago(50) }),
      row("NO_CLOCK"),
      closed("CLOSED", ago(3), { created_at_service: ago(90) }),
      row("NOT_ACTIONABLE", { is_actionable: "false", created_at_service: ago(90) }),
    ]);
    const rows = await db.query<Record<string, unknown>>(
      `select ticket_id, sla_state, sla_clock_source, hours_open::text as hours_open,
              tickets.eat_iso(sla_due_at) as due
       from tickets.inc_open_sla_at($1::timestamptz) order by ticket_id`,
      [NOW.toISOString()],
    );
    // [ticket, state, clock source, hours open, due]
    assert.deepEqual(rows.map((r) => Object.values(r)), [
      ["AT_RISK_36H", "at_risk", "first_seen_at", "36.00", "2026-06-16T00:00:00+03:00"],
      ["AT_RISK_JUST", "at_risk", "created_at_service", "47.99", "2026-06-15T12:00:01+03:00"],
      ["BREACHED_48H", "breached", "created_at_service", "48.00", "2026-06-15T12:00:00+03:00"],
      ["BREACHED_FS", "breached", "first_seen_at", "50.00", "2026-06-15T10:00:00+03:00"],
      ["NO_CLOCK", "unknown", null, null, null],
      ["OK_CAS_WINS", "ok", "created_at_service", "2.00", "2026-06-17T10:00:00+03:00"],
      ["OK_JUST", "ok", "first_seen_at", "35.99", "2026-06-16T00:00:01+03:00"],
    ]);

    // The view is the same thing at the live clock (one statement: one now()).
    const [same] = await db.query<{ view: unknown[]; fn: unknown[] }>(
      `select
         (select jsonb_agg(to_jsonb(v) - 'geom' - 'geog' order by v.ticket_id)
          from tickets.inc_open_sla v) as view,
         (select jsonb_agg(to_jsonb(f) - 'geom' - 'geog' order by f.ticket_id)
          from tickets.inc_open_sla_at(now()) f) as fn`,
    );
    assert.equal(same?.view.length, rows.length);
    assert.deepEqual(same?.view, same?.fn);
    const [columns] = await db.query(
      `select ticket_id, hours_open, sla_clock_source, sla_state, assigned_team, owner, cluster,
              region, geog from tickets.inc_open_sla limit 1`,
    );
    assert.ok(columns);
  });

  test("inc_open_sla serves nearest-open-ticket queries through the geography index", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T11-40-00.csv", [
      row("NEAR", { latitude: "-1.2600", longitude: "36.8000" }),
      row("FAR", { latitude: "-4.0435", longitude: "39.6682" }),
      row("MID", { latitude: "-1.3000", longitude: "36.8000" }),
      closed("CLOSED_NEAREST", ago(1), { latitude: "-1.2600", longitude: "36.8001" }),
    ]);
    const rows = await db.query<{ ticket_id: string; metres: number }>(
      `select ticket_id,
              round(st_distance(geog, st_setsrid(st_makepoint(36.8, -1.26), 4326)::geography))::int
                as metres
       from tickets.inc_open_sla
       order by geog <-> st_setsrid(st_makepoint(36.8, -1.26), 4326)::geography limit 2`,
    );
    assert.deepEqual(rows.map((r) => r.ticket_id), ["NEAR", "MID"]);
    assert.equal(rows[0]!.metres, 0);
    assert.ok(Math.abs(rows[1]!.metres - 4423) < 10, `0.04 degrees of latitude is ~4.4 km`);
  });

  test("fn_inc_dashboard windows are EAT calendar days with boundaries at EAT midnight", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T11-40-00.csv", [
      closed("C_0614_2359", "2026-06-14 23:59:59"),
      closed("C_0615_0000", "2026-06-15 00:00:00"),
      closed("C_0608_2359", "2026-06-08 23:59:59"),
      closed("C_0609_0000", "2026-06-09 00:00:00"),
      closed("C_0601_0000", "2026-06-01 00:00:00"),
      closed("C_0531_2359", "2026-05-31 23:59:59"),
      closed("C_0517_0000", "2026-05-17 00:00:00"),
      closed("C_0516_2359", "2026-05-16 23:59:59"),
      // Reopened: still carries its old closed_at, but it is open, so not a closure.
      row("REOPENED", { closed_at: "2026-06-15 08:00:00", created_at_service: ago(1) }),
    ]);
    const closedIn = async (window: string, from?: string, to?: string) => {
      const d = await dashboard(db, [null, null, window, from ?? null, to ?? null]);
      assert.equal(d.metrics.closed_in_window, d.closed.features.length);
      return ids(d.closed).sort();
    };
    assert.deepEqual(await closedIn("today"), ["C_0615_0000"]);
    assert.deepEqual(await closedIn("yesterday"), ["C_0614_2359"]);
    assert.deepEqual(await closedIn("7d"), ["C_0609_0000", "C_0614_2359", "C_0615_0000"]);
    assert.deepEqual(await closedIn("mtd"), [
      "C_0601_0000",
      "C_0608_2359",
      "C_0609_0000",
      "C_0614_2359",
      "C_0615_0000",
    ]);
    assert.deepEqual(await closedIn("30d"), [
      "C_0517_0000",
      "C_0531_2359",
      "C_0601_0000",
      "C_0608_2359",
      "C_0609_0000",
      "C_0614_2359",
      "C_0615_0000",
    ]);
    assert.deepEqual(await closedIn("custom", "2026-05-16", "2026-05-16"), ["C_0516_2359"]);
    assert.deepEqual(await closedIn("custom", "2026-05-31", "2026-06-01"), [
      "C_0531_2359",
      "C_0601_0000",
    ]);
    assert.deepEqual(await closedIn(" 7D "), await closedIn("7d"), "names are case-insensitive");

    const d = await dashboard(db, [null, null, "7d", "2020-01-01", "2020-01-02"]);
    assert.deepEqual(d.window, {
      name: "7d",
      from: "2026-06-09",
      to: "2026-06-15",
      start: "2026-06-09T00:00:00+03:00",
      end: "2026-06-16T00:00:00+03:00",
      time_zone: "Africa/Nairobi",
    }, "a named window ignores p_from/p_to");
    assert.deepEqual(ids(d.open), ["REOPENED"]);
    const [nullWindow] = await db.query<{ name: string }>(
      `select reporting.fn_inc_dashboard(null, null, null, null, null, $1) -> 'window' ->> 'name'
         as name`,
      [NOW.toISOString()],
    );
    assert.equal(nullWindow?.name, "7d");

    // Just after EAT midnight "today" is the new EAT day, while New York is still on the 14th.
    const [late] = await db.query<{ w: Record<string, string> }>(
      `select reporting.fn_inc_dashboard(null, null, 'today', null, null,
                '2026-06-15T00:30:00+03:00') -> 'window' as w`,
    );
    assert.equal(late?.w.from, "2026-06-15");

    // The payload is the same under any session time zone.
    const here = JSON.stringify(await dashboard(db, [null, null, "30d", null, null]));
    await db.exec(`set time zone 'Pacific/Kiritimati'`);
    assert.equal(JSON.stringify(await dashboard(db, [null, null, "30d", null, null])), here);
  });

  test("fn_inc_dashboard counts no closure dated ahead of now: it has not happened, and the capture records none", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T11-40-00.csv", [
      closed("C_DONE", ago(1)),
      closed("C_AHEAD", eat(NOW.getTime() + 2 * HOUR)), // a feed's clock, or a typo
    ]);
    const d = await dashboard(db, [null, null, "today", null, null]);
    // Before: 2, C_AHEAD first, its MTTR and verdict in today's figures.
    assert.deepEqual(ids(d.closed), ["C_DONE"]);
    assert.equal(d.metrics.closed_in_window, 1);
  });

  test("EAT text is UTC+3 for every date: a placeholder year 1 or a 1935 date keeps its wall clock", async () => {
    const db = await fresh();
    const [r] = await db.query<{ a: string; b: string; c: string; day: string; start: string }>(
      `select tickets.eat_iso(tickets.eat_ts('0001-01-01 00:00:00')) as a,
              tickets.eat_iso(tickets.eat_ts('1935-06-01 12:00:00')) as b,
              tickets.eat_iso(tickets.eat_ts('2026-06-15 17:00:00')) as c,
              to_char(tickets.eat_date(tickets.eat_ts('1935-06-01 00:10:00')), 'YYYY-MM-DD') as day,
              tickets.eat_iso(tickets.eat_day_start('1935-06-01')) as start`,
    );
    // Before (Africa/Nairobi's rules): 0001-12-31T23:27:16+03:00 (the year before) and
    // 1935-06-01T11:30:00+03:00, labelled +03:00 all the same.
    assert.deepEqual(r, {
      a: "0001-01-01T00:00:00+03:00",
      b: "1935-06-01T12:00:00+03:00",
      c: "2026-06-15T17:00:00+03:00",
      day: "1935-06-01",
      start: "1935-06-01T00:00:00+03:00",
    });
  });

  test("fn_inc_dashboard rejects an unknown window and a reversed or incomplete custom range", async () => {
    const db = await fresh();
    await assert.rejects(dashboard(db, [null, null, "week", null, null]), /Unknown window "week"/);
    await assert.rejects(
      dashboard(db, [null, null, "custom", "2026-06-15", "2026-06-14"]),
      /Window start "2026-06-15" is after its end "2026-06-14"/,
    );
    await assert.rejects(
      dashboard(db, [null, null, "custom", "2026-06-15", null]),
      /Window "custom" needs both p_from and p_to/,
    );
    // A row per day: centuries ran the embedded database out of memory; a year is the limit.
    await assert.rejects(
      dashboard(db, [null, null, "custom", "0001-01-01", "9999-12-31"]),
      /Window "0001-01-01" to "9999-12-31" spans 3652059 days: at most 366/,
    );
    await dashboard(db, [null, null, "custom", "2025-06-16", "2026-06-15"]); // 365 days
  });

  test("fn_inc_dashboard filters AND together and computes metrics and flow", async () => {
    const db = await fresh();
    const kilimani = { cluster: "Kilimani", latitude: "-1.2921", longitude: "36.7836" };
    await load(db, "2026-06-15T11-40-00.csv", [
      row("O1", { created_at_service: "2026-06-13 10:00:00" }), // 50 h: breached
      row("O2", { created_at_service: "2026-06-15 10:00:00", normalized_status: "pending" }),
      row("O3", { first_seen_at: "2026-06-13 20:00:00", ...kilimani }), // 40 h: at risk
      row("O4", { created_at_service: "2026-06-15 07:00:00", latitude: "", longitude: "" }),
      closed("K1", "2026-06-10 10:00:00", {
        created_at_service: "2026-06-10 08:00:00",
        mttr: "2",
      }),
      closed("K2", "2026-06-11 18:00:00", {
        created_at_service: "2026-06-11 08:00:00",
        mttr: "10",
        sla_status: "Breached",
      }),
      closed("K3", "2026-06-12 12:00:00", {
        created_at_service: "2026-06-12 08:00:00",
        mttr: "4",
        ...kilimani,
      }),
      closed("K4", "2026-06-14 14:00:00", {
        created_at_service: "2026-06-01 08:00:00",
        mttr: "6",
        normalized_status: "resolved",
      }),
    ]);

    const all = await dashboard(db, [null, null, "7d", null, null]);
    assert.deepEqual(all.filters, { cluster: null, status: null });
    assert.deepEqual(ids(all.open), ["O1", "O3", "O2"], "oldest first; O4 has no geometry");
    assert.deepEqual(ids(all.closed), ["K4", "K3", "K2", "K1"], "newest closure first");
    assert.equal(all.metrics.open_total, 4);
    assert.equal(all.metrics.open_mapped, 3);
    assert.deepEqual(all.metrics.open_sla, { breached: 1, at_risk: 1, ok: 2, unknown: 0 });
    assert.deepEqual(await dashboard(db, ["", " ", "7d", null, null]), all, "'' is no filter");

    const west = await dashboard(db, ["westlands", null, "7d", null, null]);
    assert.deepEqual(west.filters, { cluster: "westlands", status: null });
    assert.deepEqual(ids(west.open), ["O1", "O2"]);
    assert.deepEqual(ids(west.closed), ["K4", "K2", "K1"]);
    assert.deepEqual(west.metrics, {
      open_total: 3,
      open_mapped: 2,
      open_sla: { breached: 1, at_risk: 0, ok: 2, unknown: 0 },
      closed_in_window: 3,
      closed_mapped: 3,
      // 2, 6 and 10 h: the median is 6; p90 interpolates 6 + 0.8 * (10 - 6).
      mttr_hours: { median: 6, p90: 9.2, count: 3 },
      closed_compliant: 2,
      closed_breached: 1,
      compliance_rate: 0.6667,
      flow: {
        created: 5, // O1, O2, O4, K1, K2 (K4 was created before the window)
        closed: 3,
        net: 2,
        by_day: [
          { date: "2026-06-09", created: 0, closed: 0 },
          { date: "2026-06-10", created: 1, closed: 1 },
          { date: "2026-06-11", created: 1, closed: 1 },
          { date: "2026-06-12", created: 0, closed: 0 },
          { date: "2026-06-13", created: 1, closed: 0 },
          { date: "2026-06-14", created: 0, closed: 1 },
          { date: "2026-06-15", created: 2, closed: 0 },
        ],
      },
    });

    const westInProgress = await dashboard(db, ["Westlands", "IN_PROGRESS", "7d", null, null]);
    assert.deepEqual(ids(westInProgress.open), ["O1"]);
    assert.equal(westInProgress.metrics.open_total, 2, "O1 and the unmapped O4");
    assert.deepEqual(ids(westInProgress.closed), []);
    assert.deepEqual(westInProgress.metrics.mttr_hours, { median: null, p90: null, count: 0 });
    assert.equal(westInProgress.metrics.compliance_rate, null);

    const closedOnly = await dashboard(db, [null, "closed", "7d", null, null]);
    assert.deepEqual(ids(closedOnly.open), []);
    assert.deepEqual(ids(closedOnly.closed), ["K3", "K2", "K1"]);

    const westClosed = await dashboard(db, ["Westlands", "closed", "7d", null, null]);
    assert.deepEqual(ids(westClosed.closed), ["K2", "K1"]);
    assert.equal(westClosed.metrics.compliance_rate, 0.5);
    assert.deepEqual(westClosed.metrics.mttr_hours, { median: 6, p90: 9.2, count: 2 });

    const nowhere = await dashboard(db, ["Mombasa", null, "7d", null, null]);
    assert.deepEqual(nowhere.open, { type: "FeatureCollection", features: [] });
    assert.deepEqual(nowhere.closed, { type: "FeatureCollection", features: [] });
  });

  test("dashboard and map payloads are GeoJSON with [lon, lat] points and documented properties", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T11-40-00.csv", [
      row("OPEN_SARIT", { created_at_service: ago(40) }),
      closed("CLOSED_YAYA", ago(3), {
        latitude: "-1.2921",
        longitude: "36.7836",
        mttr: "26.75",
        created_at_service: ago(30),
      }),
    ]);
    const d = await dashboard(db, [null, null, "today", null, null]);
    const open = d.open as FeatureCollection;
    assertFeatureCollection(open);
    assert.deepEqual(open.features[0]!.geometry, {
      type: "Point",
      coordinates: [36.8025, -1.2605],
    });
    assert.deepEqual(open.features[0]!.properties, {
      ticket_id: "OPEN_SARIT",
      normalized_status: "in_progress",
      raw_status: "IN PROGRESS",
      cluster: "Westlands",
      region: "nairobi",
      location_name: "NW_WESTLANDS_SARIT_FDT12",
      assigned_team: "Team A",
      owner: "Jane Wanjiru",
      created_at_service: "2026-06-13T20:00:00+03:00",
      first_seen_at: null,
      sla_clock_source: "created_at_service",
      sla_due_at: "2026-06-15T20:00:00+03:00",
      hours_open: 40,
      sla_state: "at_risk",
      geo_source: "feed",
    });
    const closedFc = d.closed as FeatureCollection;
    assertFeatureCollection(closedFc);
    assert.deepEqual(closedFc.features[0]!.geometry.coordinates, [36.7836, -1.2921]);
    assert.deepEqual(closedFc.features[0]!.properties, {
      ticket_id: "CLOSED_YAYA",
      normalized_status: "closed",
      raw_status: "CLOSED",
      cluster: "Westlands",
      region: "nairobi",
      location_name: "NW_WESTLANDS_SARIT_FDT12",
      assigned_team: "Team A",
      owner: "Jane Wanjiru",
      created_at_service: "2026-06-14T06:00:00+03:00",
      closed_at: "2026-06-15T09:00:00+03:00",
      mttr_hours: 26.75,
      sla_status: "Compliant",
      geo_source: "feed",
    });

    const [m] = await db.query<{ m: FeatureCollection }>(
      `select reporting.fn_tickets_for_map(true, $1) as m`,
      [NOW.toISOString()],
    );
    assertFeatureCollection(m!.m);
    assert.deepEqual(m!.m.features.map((f) => f.geometry.coordinates), [[36.8025, -1.2605]]);
    assert.deepEqual(Object.keys(m!.m.features[0]!.properties).sort(), [
      "assigned_team",
      "closed_at",
      "cluster",
      "created_at_service",
      "dataset",
      "first_seen_at",
      "geo_source",
      "hours_open",
      "is_open",
      "location_name",
      "mttr_hours",
      "normalized_status",
      "owner",
      "raw_status",
      "region",
      "sla_clock_source",
      "sla_state",
      "sla_status",
      "source_updated_at",
      "ticket_id",
    ]);
  });

  test("fn_tickets_for_map unions INC and CRQ, open only by default, with summary and freshness", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T11-20-00.csv", [
      row("INC_BREACHED", { created_at_service: ago(60), updated_at: ago(50) }),
      row("INC_OK", { first_seen_at: ago(1), normalized_status: "pending", updated_at: ago(49.5) }),
      row("INC_UNMAPPED", { created_at_service: ago(1), latitude: "", longitude: "" }),
      closed("INC_CLOSED", ago(60), { created_at_service: ago(70) }),
    ]);
    // A second, newer file: the watermark and so the freshness follow it.
    await load(db, "2026-06-15T11-40-00.csv", [
      row("INC_OK", { first_seen_at: ago(1), normalized_status: "pending", updated_at: ago(49.5) }),
    ]);
    await load(db, "2026-06-15T10-00-00.csv", [
      row("CRQ000000001", { service_type: "crq", normalized_status: "scheduled" }),
      closed("CRQ000000002", ago(5), { service_type: "crq" }),
    ], CRQ_DATA);

    const map = async (openOnly: boolean) => {
      const [r] = await db.query<{ m: Json }>(
        `select reporting.fn_tickets_for_map($1, $2) as m`,
        [openOnly, NOW.toISOString()],
      );
      return r!.m;
    };
    const open = await map(true);
    const props = assertFeatureCollection(open);
    assert.deepEqual(
      props.map((p) => [p.dataset, p.ticket_id, p.is_open, p.sla_state, p.sla_clock_source]),
      [
        ["crq", "CRQ000000001", true, null, null],
        ["inc", "INC_BREACHED", true, "breached", "created_at_service"],
        ["inc", "INC_OK", true, "ok", "first_seen_at"],
      ],
    );
    // The source says "Compliant" on every open ticket: the payload drops it for open INC
    // tickets, whose SLA is sla_state (as /api/tickets does); a closed one keeps its verdict,
    // and CRQ (no SLA rule) keeps what the source sent, as /api/tickets gives it.
    assert.deepEqual(props.map((p) => p.sla_status), ["Compliant", null, null]);
    const summary = open.summary;
    assert.equal(summary.generated_at, "2026-06-15T12:00:00+03:00");
    assert.equal(summary.open_only, true);
    assert.equal(summary.total, 3);
    assert.deepEqual(summary.by_dataset, { inc: 2, crq: 1 });
    assert.deepEqual(summary.unmapped, { inc: 1, crq: 0 });
    assert.deepEqual(summary.by_status, { in_progress: 1, pending: 1, scheduled: 1 });
    assert.deepEqual(summary.by_sla_state, { breached: 1, at_risk: 0, ok: 1, unknown: 0 });
    const inc = summary.freshness.inc;
    assert.equal(inc.newest_file, "2026-06-15T11-40-00.csv");
    assert.equal(inc.newest_file_time, "2026-06-15T11:40:00+03:00");
    assert.equal(inc.file_age_hours, 0.3);
    assert.equal(inc.files_applied, 2);
    assert.equal(inc.newest_source_updated_at, ago(49).replace(" ", "T") + "+03:00");
    assert.equal(inc.content_lag_hours, 49);
    assert.match(inc.last_applied_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+03:00$/);
    assert.match(inc.last_run_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+03:00$/);
    assert.equal(summary.freshness.crq.newest_file, "2026-06-15T10-00-00.csv");
    assert.equal(summary.freshness.crq.files_applied, 1);

    const everything = await map(false);
    assert.deepEqual(ids(everything), [
      "CRQ000000001",
      "CRQ000000002",
      "INC_BREACHED",
      "INC_CLOSED",
      "INC_OK",
    ]);
    const incClosed = (everything.features as Feature[])
      .find((f) => f.properties.ticket_id === "INC_CLOSED")!.properties;
    assert.equal(incClosed.is_open, false);
    assert.equal(incClosed.sla_state, null, "derived SLA is for open tickets");
    assert.equal(incClosed.sla_status, "Compliant", "the source's verdict, once closed");
    assert.equal(incClosed.closed_at, ago(60).replace(" ", "T") + "+03:00");
    assert.deepEqual(everything.summary.by_status, {
      closed: 2,
      in_progress: 1,
      pending: 1,
      scheduled: 1,
    });

    await assert.rejects(
      db.query(`select tickets.freshness('wot')`),
      /Unknown dataset "wot": use inc or crq/,
    );
  });

  test("fn_tickets_for_map on an empty database is an empty collection with zero counts", async () => {
    const db = await fresh();
    const [r] = await db.query<{ m: Json }>(
      `select reporting.fn_tickets_for_map() as m`,
    );
    assert.deepEqual(r!.m.features, []);
    assert.equal(r!.m.summary.total, 0);
    assert.deepEqual(r!.m.summary.by_status, {});
    assert.equal(r!.m.summary.freshness.inc.newest_file, null);
    assert.equal(r!.m.summary.freshness.inc.content_lag_hours, null);
  });

  test("the backlog series counts a day's created and closed tickets as they arrive, ~2 days late", async () => {
    const db = await fresh();
    // 13 June: the day's capture sees none of its own tickets yet (content lags ~2 days).
    await load(db, "2026-06-13T18-00-00.csv", [
      row("L1", { created_at_service: "2026-06-11 08:00:00", cluster: "Westlands" }),
    ]);
    await capture(db, { now: at("2026-06-13 18:05:00") });
    // 15 June: the tickets of 13 June arrive, one of them already closed.
    await load(db, "2026-06-15T11-40-00.csv", [
      row("L2", { created_at_service: "2026-06-13 08:00:00", cluster: "Westlands" }),
      closed("L3", "2026-06-13 10:00:00", {
        created_at_service: "2026-06-13 07:00:00",
        cluster: "Kilimani",
      }),
    ]);
    await capture(db, { now: at("2026-06-15 11:45:00") });
    const [snapshot] = await db.query<{ created: number; closed: number }>(
      `select created_today as created, closed_today as closed from tickets.inc_daily_snapshot
       where snapshot_date = '2026-06-13'`,
    );
    assert.deepEqual(snapshot, { created: 0, closed: 0 }, "frozen at the day's last capture");

    const series = async (cluster?: string) => {
      const { days } = await readBacklog(db, { from: "2026-06-13", to: "2026-06-15", cluster });
      return (JSON.parse(days) as Record<string, unknown>[])
        .map((d) => [d.date, d.created, d.closed]);
    };
    assert.deepEqual(await series(), [["2026-06-13", 2, 1], ["2026-06-15", 0, 0]]);
    assert.deepEqual(await series("WESTLANDS"), [
      ["2026-06-13", 1, 0],
      ["2026-06-15", 0, 0],
    ]);
  });

  test("created is the SLA clock in every count: a created_at_service dated ahead or a placeholder counts on first_seen_at's day", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T11-40-00.csv", [
      // 5 h ahead of NOW: its SLA runs from first seen, 13 June (a tester's ticket).
      row("AHEAD", {
        created_at_service: eat(NOW.getTime() + 5 * HOUR),
        first_seen_at: "2026-06-13 13:01:00",
      }),
      // "none" written as a date: created when first seen, today.
      row("PLACEHOLDER", { created_at_service: "1970-01-01 00:00:00", first_seen_at: ago(2) }),
      row("PLACEHOLDER2", { created_at_service: "0001-01-01 00:00:00", first_seen_at: ago(3) }),
      row("PLAIN", { created_at_service: ago(1) }),
      // No plausible clock at all: created on no day.
      row("NONE", { created_at_service: "1970-01-01 00:00:00" }),
      row("NONE_SEEN", { first_seen_at: "1970-01-01 00:00:00" }),
    ]);
    const created = async (window: string, from?: string, to?: string) =>
      (await dashboard(db, [null, null, window, from ?? null, to ?? null])).metrics.flow.created;
    // Before: 2 today (AHEAD, PLAIN) and 0 on 13 June.
    assert.equal(await created("today"), 3);
    assert.equal(await created("custom", "2026-06-13", "2026-06-13"), 1);
    assert.equal(await created("custom", "1970-01-01", "1970-12-31"), 0);
    const [sla] = await db.query<{ n: number }>(
      `select count(*)::int as n from tickets.inc_open_sla_at($1::timestamptz)
       where sla_clock_at >= '2026-06-15 00:00+03'`,
      [NOW.toISOString()],
    );
    assert.equal(sla!.n, 3, "the open-SLA view's clocks that start today");

    const snapshot = await capture(db, { now: NOW });
    assert.equal(snapshot.createdToday, 3);
    const { days } = await readBacklog(db, { from: "2026-06-13", to: "2026-06-15" }, NOW);
    assert.deepEqual(
      (JSON.parse(days) as Record<string, unknown>[]).map((d) => [d.date, d.created]),
      [["2026-06-15", 3]],
    );
  });

  test("capture() records each closure once and keeps it when the ticket is reopened and closed again", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T11-40-00.csv", [
      closed("T1", "2026-06-14 10:00:00", { mttr: "3", sla_status: "Compliant" }),
      row("T2", { created_at_service: "2026-06-15 08:00:00" }),
      // Closed after the capture instant: not observed yet.
      closed("T3", "2026-06-15 13:00:00"),
      // Open again but still carrying its old closed_at: not a closure.
      row("T4", { raw_status: "REOPENED", closed_at: "2026-06-14 09:00:00" }),
    ]);
    const first = await capture(db, { now: NOW });
    assert.equal(first.closuresAdded, 1);
    assert.equal(first.closuresTotal, 1);
    const again = await capture(db, { now: new Date(NOW.getTime() + HOUR) });
    assert.equal(again.closuresAdded, 1, "T3 has now happened");
    assert.equal((await capture(db, { now: new Date(NOW.getTime() + HOUR) })).closuresAdded, 0);

    // T1 reopened (the row loses closed_at), T2 closed.
    await load(db, "2026-06-15T14-00-00.csv", [
      row("T1", { raw_status: "REOPENED", created_at_service: "2026-06-14 08:00:00" }),
      closed("T2", "2026-06-15 13:30:00", { mttr: "5", sla_status: "Breached" }),
    ]);
    const afterReopen = await capture(db, { now: at("2026-06-15 14:05:00") });
    assert.equal(afterReopen.closuresAdded, 1);
    assert.equal(afterReopen.closuresTotal, 3);

    // T1 closed a second time, the next day.
    await load(db, "2026-06-16T09-00-00.csv", [
      closed("T1", "2026-06-16 08:00:00", { mttr: "24", sla_status: "Breached" }),
    ]);
    const second = await capture(db, { now: at("2026-06-16 09:05:00") });
    assert.equal(second.closuresAdded, 1);
    assert.equal(second.closuresTotal, 4);

    const events = await db.query<Record<string, unknown>>(
      `select ticket_id,
              to_char(closed_at at time zone 'Africa/Nairobi', 'MM-DD HH24:MI') as closed_at,
              to_char(observed_at at time zone 'Africa/Nairobi', 'MM-DD HH24:MI') as observed_at,
              mttr, sla_status, left(source_file, 16) as file
       from tickets.closure_events order by ticket_id, closed_at`,
    );
    // [ticket, closed_at, observed_at (first sighting), mttr minutes, verdict, file] in EAT
    assert.deepEqual(events.map((e) => Object.values(e)), [
      ["T1", "06-14 10:00", "06-15 12:00", 180, "Compliant", "2026-06-15T11-40"],
      ["T1", "06-16 08:00", "06-16 09:05", 1440, "Breached", "2026-06-16T09-00"],
      ["T2", "06-15 13:30", "06-15 14:05", 300, "Breached", "2026-06-15T14-00"],
      ["T3", "06-15 13:00", "06-15 13:00", 120, "Compliant", "2026-06-15T11-40"],
    ]);

    await assert.rejects(
      db.query(`update tickets.closure_events set mttr = 0`),
      /Table "closure_events" is append-only: update is not allowed/,
    );
    await assert.rejects(
      db.query(`delete from tickets.closure_events`),
      /append-only: delete is not allowed/,
    );
  });

  test("a closure that a later file of the same run reopens is recorded: each file records the closures it leaves", async () => {
    const db = await fresh();
    // A run that drains three files at once (a catch-up after an outage, or the demo): R1 closed
    // at 10:10 and reopened by 10:40, R2 closed at 10:15 and still closed.
    const files = [
      { name: "2026-06-15T10-00-00.csv", text: csv([row("R1"), row("R2")]) },
      {
        name: "2026-06-15T10-20-00.csv",
        text: csv([closed("R1", "2026-06-15 10:10:00"), closed("R2", "2026-06-15 10:15:00")]),
      },
      {
        name: "2026-06-15T10-40-00.csv",
        text: csv([
          row("R1", { raw_status: "REOPENED", created_at_service: "2026-06-15 08:00:00" }),
        ]),
      },
    ];
    const captured: Dataset = { ...INC, afterApply: ["capture_history"] };
    const root = await makeDirBucket(files, captured.changesPrefix);
    const recorded = async () =>
      (await db.query<{ n: number }>(`select count(*)::int as n from tickets.closure_events`))[0]!
        .n;
    // The day's snapshot exists already (an earlier run's capture): its total is kept up.
    assert.equal((await capture(db)).closuresTotal, 0);
    try {
      const store = createDirObjectStore(root);
      const dry = await drain(store, db, { dataset: captured, apply: false });
      assert.equal(dry.status, "ok", dry.error);
      assert.equal(await recorded(), 0, "a dry run records nothing");
      const report = await drain(store, db, { dataset: captured, apply: true });
      assert.equal(report.status, "ok", report.error);
      assert.deepEqual(report.files.map((f) => f.closuresRecorded), [undefined, 2, undefined]);
      assert.match(formatDrainReport(report), /; 2 closure\(s\) into the history {2}\(/);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
    // The run's capture, after its last file: R1 is open again by then. Its total counts what
    // the files recorded (a tester: 533 against 593 rows, one file a run).
    const after = await capture(db);
    assert.equal(after.closuresAdded, 0);
    assert.equal(after.closuresTotal, await recorded());
    const events = await db.query<{ ticket_id: string; closed_at: string; file: string }>(
      `select ticket_id, to_char(closed_at at time zone 'Africa/Nairobi', 'HH24:MI') as closed_at,
              source_file as file
       from tickets.closure_events order by ticket_id, closed_at`,
    );
    // Before: only R2's; R1's closure existed in processed/ alone, and the teams' table counted
    // no reopened ticket.
    assert.deepEqual(events, [
      { ticket_id: "R1", closed_at: "10:10", file: "2026-06-15T10-20-00.csv" },
      { ticket_id: "R2", closed_at: "10:15", file: "2026-06-15T10-20-00.csv" },
    ]);
  });

  if (b.name === "postgres") {
    test("a file does not wait for a capture's turn another session holds: it applies, and the run's capture records its closures", async () => {
      const db = await fresh();
      const other = createPostgresDatabase(b.url!);
      let release: () => void = () => {};
      const released = new Promise<void>((r) => release = r);
      let taken: () => void = () => {};
      const holding = new Promise<void>((r) => taken = r);
      // A capture left open in a transaction (psql: begin; select tickets.take_capture_turn()).
      const held = other.transaction(async (tx) => {
        await tx.query(`select tickets.take_capture_turn()`);
        taken();
        await released;
      });
      const captured: Dataset = { ...INC, afterApply: ["capture_history"] };
      const root = await makeDirBucket(
        [{ name: "2026-06-15T10-20-00.csv", text: csv([closed("H1", "2026-06-15 10:10:00")]) }],
        captured.changesPrefix,
      );
      try {
        await holding;
        const began = performance.now();
        const report = await drain(createDirObjectStore(root), db, {
          dataset: captured,
          apply: true,
        });
        // Before: the file failed after 60 s ("another capture has held its lock for 60 s").
        assert.equal(report.status, "ok", report.error);
        assert.ok(performance.now() - began < 10_000, `took ${performance.now() - began} ms`);
        assert.equal(report.files[0]?.closuresRecorded, undefined);
        release();
        await held;
        assert.equal((await capture(db)).closuresAdded, 1);
      } finally {
        release();
        await held.catch(() => {});
        await other.close();
        await Deno.remove(root, { recursive: true });
      }
    });
  }

  test("capture() after the day's first checks what later files wrote and what fell due; a write around the ledger waits for the next day", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T11-40-00.csv", [
      row("T1"),
      closed("T2", "2026-06-15 13:00:00"), // not happened yet at noon
      row("T3"),
    ]);
    const first = await capture(db, { now: NOW });
    assert.deepEqual([first.snapshotCreated, first.closuresAdded, first.closuresTotal], [
      true,
      0,
      0,
    ]);

    // A later file closes T1 and reopens nothing: the next capture records T1 from that file.
    await load(db, "2026-06-15T12-00-00.csv", [closed("T1", "2026-06-15 11:50:00")]);
    const second = await capture(db, { now: at("2026-06-15 12:10:00") });
    assert.deepEqual([second.snapshotCreated, second.closuresAdded, second.closuresTotal], [
      false,
      1,
      1,
    ]);

    // T2's closure falls due with no new file; a reopened ticket that keeps its old closed_at,
    // written by a new file, is still not a closure.
    await load(db, "2026-06-15T12-20-00.csv", [
      row("T4", { raw_status: "REOPENED", closed_at: "2026-06-14 09:00:00" }),
    ]);
    const third = await capture(db, { now: at("2026-06-15 13:05:00") });
    assert.deepEqual([third.closuresAdded, third.closuresTotal], [1, 2]);

    // A closure written by hand (no change file, no ledger row) and dated before the last
    // capture is not seen by a capture that checks only what changed since; the next day's first
    // capture checks every closed ticket and records it.
    await db.exec(`update tickets.inc set raw = raw || '{"is_actionable": "false",
      "closed_at": "2026-06-15 12:30:00", "normalized_status": "closed"}' where ticket_id = 'T3'`);
    assert.equal((await capture(db, { now: at("2026-06-15 13:20:00") })).closuresAdded, 0);
    const nextDay = await capture(db, { now: at("2026-06-16 00:10:00") });
    assert.deepEqual([nextDay.snapshotCreated, nextDay.closuresAdded, nextDay.closuresTotal], [
      true,
      1,
      3,
    ]);
    const recorded = await db.query<{ ticket_id: string }>(
      `select ticket_id from tickets.closure_events order by ticket_id`,
    );
    assert.deepEqual(recorded.map((r) => r.ticket_id), ["T1", "T2", "T3"]);
    const unmarked = await db.query<{ n: number }>(
      `select count(*)::int as n from tickets.applied_files where captured_at is null`,
    );
    assert.equal(unmarked[0]!.n, 0);
  });

  test("capture() checks a file applied again (a replaced upload) even after it checked it once", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T11-40-00.csv", [row("T1")]);
    await capture(db, { now: NOW });
    await load(db, "2026-06-15T12-00-00.csv", [row("T2")]);
    assert.equal((await capture(db, { now: at("2026-06-15 12:10:00") })).closuresAdded, 0);
    // The export replaces 12-00 with a version that closes T2 (before the last capture).
    await load(db, "2026-06-15T12-00-00.csv", [closed("T2", "2026-06-15 11:55:00")]);
    const after = await capture(db, { now: at("2026-06-15 12:30:00") });
    assert.deepEqual([after.snapshotCreated, after.closuresAdded], [false, 1]);
  });

  test("capture() of an earlier instant (a backfill) leaves the files it saw for the next capture to check", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T08-40-00.csv", [row("T1")]);
    await capture(db, { now: at("2026-06-15 09:00:00") });
    // A file arrives closing T2 at 08:00, before the last capture; a backfill of the day
    // before runs first (as of then, T2's closure has not happened).
    await load(db, "2026-06-15T09-20-00.csv", [closed("T2", "2026-06-15 08:00:00")]);
    const backfill = await capture(db, { now: at("2026-06-14 23:00:00") });
    assert.equal(backfill.closuresAdded, 0);
    const next = await capture(db, { now: at("2026-06-15 10:00:00") });
    assert.deepEqual([next.closuresAdded, next.closuresTotal], [1, 1]);
    // A backfill of the same day replaces its row: it checks every closed ticket, but the
    // snapshot was not created by it.
    const sameDay = await capture(db, { now: at("2026-06-15 09:30:00") });
    assert.deepEqual([sameDay.snapshotCreated, sameDay.closuresAdded], [false, 0]);
  });

  test("capture() of a later instant does not stand in for that day's first capture, and totals stay exact", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T08-40-00.csv", [closed("T1", "2026-06-15 08:00:00"), row("T3")]);
    assert.equal((await capture(db, { now: at("2026-06-15 09:00:00") })).closuresTotal, 1);
    // Someone captures tomorrow noon ahead of time; then T3 is closed by hand (no file).
    await capture(db, { now: at("2026-06-16 12:00:00") });
    await db.exec(`update tickets.inc set raw = raw || '{"is_actionable": "false",
      "closed_at": "2026-06-15 09:30:00", "normalized_status": "closed"}' where ticket_id = 'T3'`);
    // Tomorrow's real first capture checks every closed ticket all the same.
    const tomorrow = await capture(db, { now: at("2026-06-16 00:20:00") });
    assert.deepEqual([tomorrow.closuresAdded, tomorrow.closuresTotal], [1, 2]);
    const later = await capture(db, { now: at("2026-06-16 12:30:00") });
    assert.deepEqual([later.closuresAdded, later.closuresTotal], [0, 2]);
  });

  test("the team row fn_team_performance calls (none) opens as /api/tickets?team=(none): the tickets with no team", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T10-00-00.csv", [
      row("NO_TEAM_1", { assigned_team: "" }),
      row("NO_TEAM_2", { assigned_team: "" }),
      // A team that calls itself so is counted in the same row (a tester's case).
      row("NAMED_NONE", { assigned_team: "(none)" }),
      row("TEAM_A"),
    ]);
    const [r] = await db.query<{ t: Json }>(
      `select reporting.fn_team_performance('team', null, '7d', null, null, $1::timestamptz) as t`,
      [NOW.toISOString()],
    );
    const none = r!.t.rows.find((x: Json) => x.key === NO_TEAM);
    assert.equal(none?.open, 3);
    const page = await db.transaction((tx) =>
      readTickets(tx, {
        dataset: "inc",
        openOnly: true,
        team: "(NONE)", // case-insensitive, as every team filter
        limit: 100,
        offset: 0,
      }, NOW)
    );
    // Before: no ticket matched "(none)", so the row could not be opened.
    assert.equal(page.matched, none.open);
    const ids = JSON.parse(page.features).map((f: Json) => f.properties.ticket_id);
    assert.deepEqual(ids, ["NAMED_NONE", "NO_TEAM_1", "NO_TEAM_2"]);
  });

  test("a team or a cluster is one row whatever its case and the spaces around it, and its name as a filter gives that row's figures", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T10-00-00.csv", [
      row("T1", { assigned_team: "NBI North FLM", cluster: "Westlands" }),
      row("T2", { assigned_team: "NBI North FLM", cluster: "Westlands" }),
      row("T3", { assigned_team: "nbi north flm", cluster: "westlands" }),
      row("T4", { assigned_team: "NBI North FLM ", cluster: " Westlands" }),
      // Any white space JavaScript's trim() takes, as serve trims a filter value (a tester's).
      row("T5", { assigned_team: "\u00a0NBI North FLM\t", cluster: "Westlands\u00a0" }),
      closed("C1", ago(2), { assigned_team: "NBI North FLM ", cluster: " Westlands" }),
      row("OTHER", { assigned_team: "Team B", cluster: "Kilimani" }),
    ]);
    await capture(db, { now: NOW });
    const teams = async (cluster: string | null) => {
      const [r] = await db.query<{ t: Json }>(
        `select reporting.fn_team_performance('team', $1, 'today', null, null, $2::timestamptz) as t`,
        [cluster, NOW.toISOString()],
      );
      return r!.t.rows.map((x: Json) => [x.key, x.closures, x.open]);
    };
    // Before: four rows for the one team (2, 1, 1 and 1 open, the closure on the third).
    assert.deepEqual(await teams(null), [["NBI North FLM", 1, 5], ["Team B", 0, 1]]);
    assert.deepEqual(await teams("WESTLANDS"), [["NBI North FLM", 1, 5]]);

    const matched = (filter: { team?: string; cluster?: string }) => openMatched(db, filter);
    // Before: 3 (T4's "NBI North FLM " and " Westlands" could not be chosen: filters come
    // trimmed; nor T5's).
    assert.equal(await matched({ team: "NBI North FLM" }), 5);
    assert.equal(await matched({ team: "nbi north flm" }), 5);
    assert.equal(await matched({ team: "\u3000NBI NORTH FLM" }), 5);
    assert.equal(await matched({ cluster: "Westlands" }), 5);
    const west = await dashboard(db, ["Westlands", null, "today", null, null]);
    assert.deepEqual([west.metrics.open_total, west.metrics.closed_in_window], [5, 1]);

    // Before: Westlands 2, westlands 1, " Westlands" 1, "Westlands\u00a0" 1.
    const report = await buildReport(db, { now: NOW });
    assert.deepEqual(report.byCluster.map((c) => [c.cluster, c.total]), [
      ["Westlands", 5],
      ["Kilimani", 1],
    ]);
  });

  test("a name in either Unicode form (é as one character or e + a combining accent) is one row and one filter", async () => {
    const db = await fresh();
    const composed = "Nyali B\u00e9ach"; // NFC: what a keyboard sends
    const decomposed = "Nyali Be\u0301ach"; // NFD: what some systems export
    await load(db, "2026-06-15T10-00-00.csv", [
      row("N1", { assigned_team: `Team ${composed}`, cluster: composed }),
      row("N2", { assigned_team: `Team ${decomposed}`, cluster: decomposed }),
      row("OTHER", { assigned_team: "Team B", cluster: "Kilimani" }),
    ]);
    const matched = (filter: { team?: string; cluster?: string }) => openMatched(db, filter);
    // Before (migration 015's key): 1 each way.
    for (const name of [composed, decomposed, composed.toUpperCase()]) {
      assert.equal(await matched({ cluster: name }), 2, name);
      assert.equal(await matched({ team: `team ${name}` }), 2, name);
    }
    const report = await buildReport(db, { now: NOW });
    assert.deepEqual(report.byCluster.map((c) => c.total), [2, 1]);
    const [r] = await db.query<{ t: Json }>(
      `select reporting.fn_team_performance('team', $1, 'today', null, null, $2::timestamptz) as t`,
      [decomposed, NOW.toISOString()],
    );
    assert.deepEqual(r!.t.rows.map((x: Json) => x.open), [2]);
  });

  test("fn_team_performance takes a closure's MTTR and verdict as the feed fills them in later", async () => {
    const db = await fresh();
    const teams = async () => {
      const [r] = await db.query<{ t: Json }>(
        `select reporting.fn_team_performance('team', null, '7d', null, null, $1::timestamptz) as t`,
        [NOW.toISOString()],
      );
      return r!.t.rows.map((x: Json) =>
        [x.key, x.closures, x.mttr_hours.count, x.mttr_hours.median, x.compliance_rate].join(" ")
      );
    };
    // Closed before the export had its MTTR and verdict: observed so.
    await load(db, "2026-06-15T10-00-00.csv", [
      closed("CY", "2026-06-15 08:00:00", { mttr: "", sla_status: "" }),
      closed("CZ", "2026-06-15 08:30:00", { mttr: "1", sla_status: "Compliant" }),
    ]);
    await capture(db, { now: at("2026-06-15 10:05:00") });
    assert.deepEqual(await teams(), ["Team A 2 1 1 1"]);
    // The next export fills them in for the same closure.
    await load(db, "2026-06-15T11-00-00.csv", [
      closed("CY", "2026-06-15 08:00:00", { mttr: "5", sla_status: "Breached" }),
    ]);
    await capture(db, { now: at("2026-06-15 11:05:00") });
    assert.deepEqual(await teams(), ["Team A 2 2 3 0.5"]);
    // The history keeps what it observed; the dashboard agrees with the team figures.
    const [event] = await db.query<{ mttr: number | null }>(
      `select mttr from tickets.closure_events where ticket_id = 'CY'`,
    );
    assert.equal(event!.mttr, null);
    const d = await dashboard(db, [null, null, "7d", null, null]);
    assert.equal(d.metrics.compliance_rate, 0.5);
    // And `report`'s closures per day (before: 1 compliant, 0 breached, median 1 h).
    const day = (await buildReport(db, { now: at("2026-06-15 11:10:00") })).closures.days.at(-1);
    assert.deepEqual(day, {
      date: "2026-06-15",
      closed: 2,
      compliant: 1,
      breached: 1,
      medianMttrHours: 3,
    });
  });

  test("capture() totals stay exact after a backfill of an earlier day records a closure", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T08-40-00.csv", [closed("T1", "2026-06-15 08:00:00")]);
    assert.equal((await capture(db, { now: at("2026-06-15 09:00:00") })).closuresTotal, 1);
    // A late file closes T2 on the 14th; the operator backfills the 14th before the next run.
    await load(db, "2026-06-14T23-40-00.csv", [closed("T2", "2026-06-14 22:00:00")]);
    assert.equal((await capture(db, { now: at("2026-06-14 23:59:00") })).closuresAdded, 1);
    const next = await capture(db, { now: at("2026-06-15 09:20:00") });
    assert.deepEqual([next.closuresAdded, next.closuresTotal], [0, 2]);
  });

  test("capture() refuses an instant to come, naming it", async () => {
    const db = await fresh();
    await assert.rejects(
      capture(db, { now: new Date(Date.now() + 24 * HOUR) }),
      /Cannot capture history as of \d{4}-\d\d-\d\dT[\d:]+\+03:00: that is in the future/,
    );
  });

  test("capture() keeps one snapshot per EAT day, idempotent within the day", async () => {
    const db = await fresh();
    const kilimani = { cluster: "Kilimani" };
    await load(db, "2026-06-15T11-40-00.csv", [
      row("B1", { created_at_service: "2026-06-13 10:00:00" }), // breached
      row("R1", { first_seen_at: "2026-06-13 22:00:00", ...kilimani }), // at risk
      row("K1", { created_at_service: "2026-06-15 01:00:00", normalized_status: "pending" }),
      row("U1", { cluster: "" }), // no clock, no cluster
      closed("C1", "2026-06-15 09:00:00", { created_at_service: "2026-06-15 07:00:00" }),
      closed("C0", "2026-06-14 09:00:00", { created_at_service: "2026-06-14 07:00:00" }),
    ]);
    const snapshots = () =>
      db.query<Record<string, unknown>>(
        `select to_char(snapshot_date::timestamp, 'YYYY-MM-DD') as day, open_total, open_breached, open_at_risk, open_ok,
                open_unknown, by_cluster, by_status, created_today, closed_today,
                closures_observed_today, tickets.eat_iso(captured_at) as captured_at
         from tickets.inc_daily_snapshot order by snapshot_date`,
      );

    const first = await capture(db, { now: NOW });
    assert.equal(first.snapshotDate, "2026-06-15");
    assert.equal(first.snapshotCreated, true);
    const day1 = {
      day: "2026-06-15",
      open_total: 4,
      open_breached: 1,
      open_at_risk: 1,
      open_ok: 1,
      open_unknown: 1,
      by_cluster: {
        "(none)": { total: 1, breached: 0, at_risk: 0, ok: 0, unknown: 1 },
        Kilimani: { total: 1, breached: 0, at_risk: 1, ok: 0, unknown: 0 },
        Westlands: { total: 2, breached: 1, at_risk: 0, ok: 1, unknown: 0 },
      },
      by_status: { in_progress: 3, pending: 1 },
      created_today: 2, // K1 and C1 (EAT 06-15); R1's clock is 06-13
      closed_today: 1, // C1; C0 closed the day before
      closures_observed_today: 2, // the first capture backfills C0 and C1
      captured_at: "2026-06-15T12:00:00+03:00",
    };
    assert.deepEqual(await snapshots(), [day1]);

    const same = await capture(db, { now: NOW });
    assert.equal(same.snapshotCreated, false);
    assert.deepEqual(await snapshots(), [day1], "the same capture again changes nothing");

    // Later that day B1 closes: the day's row is replaced, not added to.
    await load(db, "2026-06-15T23-40-00.csv", [
      closed("B1", "2026-06-15 23:30:00", { created_at_service: "2026-06-13 10:00:00" }),
    ]);
    const late = await capture(db, { now: at("2026-06-15 23:59:59") });
    assert.equal(late.snapshotCreated, false);
    assert.equal(late.closuresAdded, 1);
    const day1Late = {
      ...day1,
      open_total: 3,
      // R1 (clock 06-13 22:00) is 49:59:59 old by now; B1 is closed.
      open_breached: 1,
      open_at_risk: 0,
      by_cluster: {
        "(none)": { total: 1, breached: 0, at_risk: 0, ok: 0, unknown: 1 },
        Kilimani: { total: 1, breached: 1, at_risk: 0, ok: 0, unknown: 0 },
        Westlands: { total: 1, breached: 0, at_risk: 0, ok: 1, unknown: 0 },
      },
      by_status: { in_progress: 2, pending: 1 },
      closed_today: 2,
      closures_observed_today: 3,
      captured_at: "2026-06-15T23:59:59+03:00",
    };
    assert.deepEqual(await snapshots(), [day1Late]);

    // 00:30 EAT on the 16th is still the 15th in New York (and in UTC): a new EAT day's row.
    const next = await capture(db, { now: at("2026-06-16 00:30:00") });
    assert.equal(next.snapshotDate, "2026-06-16");
    assert.equal(next.snapshotCreated, true);
    const rows = await snapshots();
    assert.deepEqual(rows[0], day1Late, "yesterday's row is kept as it was");
    assert.deepEqual(rows.map((r) => r.day), ["2026-06-15", "2026-06-16"]);
    assert.deepEqual(
      [rows[1]!.open_total, rows[1]!.created_today, rows[1]!.closed_today],
      [3, 0, 0],
    );
    assert.match(
      formatCaptureReport(next),
      /^history: 0 new closure\(s\) \(3 recorded\); snapshot 2026-06-16 created: 3 open \(1 breached, 0 at risk, 1 ok, 1 no clock\), 0 created and 0 closed today \(\d+ ms\)$/,
    );
  });

  test("buildReport() and formatReport() show backlog, oldest tickets, closures, snapshots, freshness", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T11-40-00.csv", [
      row("OLD", { created_at_service: "2026-06-12 12:00:00", owner: "Otieno" }), // 72 h
      row("MIDDLE", { first_seen_at: "2026-06-14 00:00:00", cluster: "Kilimani" }), // 36 h
      row("NEW", { created_at_service: "2026-06-15 10:00:00", assigned_team: "" }), // 2 h
      row("NOCLOCK", { cluster: "Kilimani" }),
      closed("C1", "2026-06-09 00:00:00", { mttr: "4" }), // 7 EAT days back: in
      closed("C2", "2026-06-08 23:59:59", { mttr: "4" }), // 8 days back: out
      closed("C3", "2026-06-14 10:00:00", { mttr: "6", sla_status: "Breached" }),
      closed("C4", "2026-06-14 11:00:00", { mttr: "2" }),
    ]);
    await capture(db, { now: at("2026-06-14 18:00:00") });
    await capture(db, { now: NOW });
    const report = await buildReport(db, { now: NOW });
    assert.equal(report.generatedAt, "2026-06-15T12:00:00+03:00");
    assert.equal(report.today, "2026-06-15");
    assert.deepEqual(report.open, {
      total: 4,
      breached: 1,
      atRisk: 1,
      ok: 1,
      unknown: 1,
      clockFromFirstSeen: 1,
    });
    assert.deepEqual(report.byCluster, [
      { cluster: "Kilimani", total: 2, breached: 0, atRisk: 1, ok: 0, unknown: 1, oldestHours: 36 },
      {
        cluster: "Westlands",
        total: 2,
        breached: 1,
        atRisk: 0,
        ok: 1,
        unknown: 0,
        oldestHours: 72,
      },
    ]);
    assert.deepEqual(report.oldest.map((t) => [t.ticketId, t.hoursOpen, t.slaState]), [
      ["OLD", 72, "breached"],
      ["MIDDLE", 36, "at_risk"],
      ["NEW", 2, "ok"],
      ["NOCLOCK", null, "unknown"],
    ]);
    assert.equal(report.oldest[0]!.slaClockAt, "2026-06-12T12:00:00+03:00");
    assert.deepEqual(report.closures.from, "2026-06-09");
    assert.equal(report.closures.total, 3);
    assert.deepEqual(report.closures.days.map((d) => [d.date, d.closed]), [
      ["2026-06-09", 1],
      ["2026-06-10", 0],
      ["2026-06-11", 0],
      ["2026-06-12", 0],
      ["2026-06-13", 0],
      ["2026-06-14", 2],
      ["2026-06-15", 0],
    ]);
    assert.deepEqual(report.closures.days[5], {
      date: "2026-06-14",
      closed: 2,
      compliant: 1,
      breached: 1,
      medianMttrHours: 4,
    });
    assert.deepEqual(report.backlog.map((d) => [d.date, d.openTotal, d.breached, d.atRisk]), [
      ["2026-06-14", 4, 1, 0], // at 06-14 18:00 MIDDLE was 18 h old and OLD 54 h
      ["2026-06-15", 4, 1, 1],
    ]);
    assert.equal(report.freshness.newestFile, "2026-06-15T11-40-00.csv");
    assert.equal(report.freshness.contentLagHours, 49);
    assert.deepEqual(JSON.parse(JSON.stringify(report)), report, "plain JSON data");

    const text = formatReport(report);
    const lines = text.split("\n");
    assert.equal(lines[0], "INC report as of 2026-06-15 12:00 EAT");
    assert.match(lines[1]!, /^Freshness: newest file 2026-06-15T11-40-00\.csv \(0\.3 h old\), /);
    assert.match(text, /content lag 49\.0 h \(newest update 2026-06-13 11:00\)/);
    assert.ok(
      lines.includes(
        "Open backlog: 4 (1 breached, 1 at risk, 1 ok, 1 without a clock); " +
          "1 clocked from first_seen_at (no usable created_at_service)",
      ),
      text,
    );
    // A row adds up: Kilimani's 2 are 1 at risk and 1 without a clock (before: no such column).
    assert.ok(lines.includes("  cluster    open  breached  at risk  ok  no clock  oldest h"), text);
    assert.ok(lines.includes("  Kilimani      2         0        1   0         1      36.0"), text);
    assert.ok(lines.includes("  Westlands     2         1        0   1         0      72.0"), text);
    assert.ok(
      lines.some((l) =>
        /^ {2}OLD +72\.0 +breached +Westlands +in_progress +created_at_service +Team A \/ Otieno$/
          .test(l)
      ),
      text,
    );
    assert.ok(lines.includes("Closures 2026-06-09 to 2026-06-15 (EAT closed date): 3"), text);
    assert.ok(lines.includes("  2026-06-14       2          1         1            4.0"), text);
    assert.ok(lines.includes("Backlog over time (last capture of each EAT day):"), text);
    assert.ok(lines.some((l) => l.startsWith("  2026-06-15     4         1        1   1")), text);
  });

  test("formatReport() rounds an open ticket's age down, as its SLA state: 47.9 h is at risk", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T11-40-00.csv", [
      row("EDGE48", { created_at_service: "2026-06-13 12:00:36" }), // 47 h 59 min 24 s
      row("EDGE36", { created_at_service: "2026-06-14 00:00:36" }), // 35 h 59 min 24 s
    ]);
    const text = formatReport(await buildReport(db, { now: NOW }));
    assert.match(text, /^ {2}EDGE48 +47\.9 +at_risk /m);
    assert.match(text, /^ {2}EDGE36 +35\.9 +ok /m);
    assert.match(text, /^ {2}Westlands +2 +0 +1 +1 +0 +47\.9$/m);
  });

  test("formatReport() escapes the feed's control characters: a cluster cannot clear the terminal", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T11-40-00.csv", [
      row("ESC1", { created_at_service: "2026-06-15 10:00:00", cluster: "Kilimani\x1b[2J" }),
      row("BIDI1", { created_at_service: "2026-06-15 09:00:00", owner: "Otieno \u202eevil" }),
    ]);
    const text = formatReport(await buildReport(db, { now: NOW }));
    // Before: the escape sequence and U+202E went to the terminal as they were.
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(text, /[\x1b\u202e]/);
    assert.match(text, /^ {2}Kilimani\\x1b\[2J +1 /m);
    assert.match(text, /Otieno \\u202eevil/);
  });

  test("an SLA clock dated as a placeholder (0001, 1970) or ahead of now is skipped, not counted", async () => {
    const db = await fresh();
    await load(db, "2026-06-15T11-40-00.csv", [
      // A placeholder created_at_service: the clock falls back to first_seen_at.
      row("P0001", {
        created_at_service: "0001-01-01 00:00:00",
        first_seen_at: "2026-06-14 00:00:00",
      }),
      row("P1970", { created_at_service: "1970-01-01 03:00:00" }),
      row("F2099", { created_at_service: "2099-01-01 00:00:00" }),
      row("SOON", { created_at_service: "2026-06-15 12:30:00" }), // 30 min ahead: a clock skew
      row("FINE", { created_at_service: "2026-06-13 12:00:00", updated_at: "2099-01-01 00:00:00" }),
    ]);
    const rows = await db.query<Record<string, unknown>>(
      `select ticket_id, sla_clock_source, hours_open::float8 as hours_open, sla_state
       from tickets.inc_open_sla_at($1) order by ticket_id`,
      [NOW],
    );
    // Before: P0001 17,758,8xx h and P1970 495,9xx h breached, F2099 -634,6xx h ok for good.
    assert.deepEqual(
      rows.map((r) => [r.ticket_id, r.sla_clock_source, r.hours_open, r.sla_state]),
      [
        ["F2099", null, null, "unknown"],
        ["FINE", "created_at_service", 48, "breached"],
        ["P0001", "first_seen_at", 36, "at_risk"],
        ["P1970", null, null, "unknown"],
        ["SOON", "created_at_service", 0, "ok"], // 30 min ahead: 0 h open (before: -0.5)
      ],
    );
    // The rule is inlined into the view's plan, not called per row (declared immutable over a
    // stable body, it was not: 8.2 ms instead of 1.2 for 2,553 open tickets).
    const plan = await db.query<Record<string, string>>(
      `explain (verbose, costs off) select * from tickets.inc_open_sla_at($1)`,
      [NOW],
    );
    assert.doesNotMatch(
      plan.map((r) => Object.values(r)[0]).join("\n"),
      /sla_clock_plausible|dated_ahead/,
    );
    const report = await buildReport(db, { now: NOW });
    assert.equal(report.freshness.futureUpdates, 1);
    const text = formatReport(report);
    assert.match(text, /; 1 ticket\(s\) dated more than an hour ahead, not counted\n/);
    assert.match(text, /1 clocked from first_seen_at \(no usable created_at_service\)/);
  });

  test("formatReport() says so when there is nothing yet", async () => {
    const db = await fresh();
    const text = formatReport(await buildReport(db, { now: NOW }));
    assert.equal(
      text,
      [
        "INC report as of 2026-06-15 12:00 EAT",
        "Freshness: no change file applied yet",
        "",
        "Open backlog: none",
        "",
        "Closures 2026-06-09 to 2026-06-15 (EAT closed date): 0",
        "",
        "Backlog over time: no snapshot in the 30 days to 2026-06-15 (they accrue from the first capture on)",
      ].join("\n"),
    );
  });
}

removeTestDataAtEnd();
