// The read API end to end: a real server on a free loopback port over a database loaded from a
// change file (PGlite always, PostgreSQL when TEST_DATABASE_URL is set), real fetch requests.
// Tickets sit at known distances from a vehicle with known SLA ages, as of NOW; answers are
// checked against values worked out by hand and against the same SQL called directly.

import assert from "node:assert/strict";
import { connect } from "node:net";
import { COLUMNS, renderCsv } from "../demo/generate_stream.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { connectPostgresDatabase, createPostgresDatabase } from "../adapters/postgres_database.ts";
import { capture } from "../core/capture.ts";
import { CRQ, type Dataset, INC } from "../core/datasets.ts";
import { drain } from "../core/drain.ts";
import type { DataVersion } from "../core/data_version.ts";
import { nearest, nearestSql } from "../core/nearest.ts";
import type { Database, Row, SqlSession } from "../core/ports/mod.ts";
import { readInOrder, readOnly } from "../core/read_only.ts";
import { formatTeamPerformance, type TeamPerformance } from "../core/team_performance.ts";
import { main } from "../cli/main.ts";
import { type RunningServer, startServer, type StartServerOptions } from "../serve/server.ts";
import { VersionCache } from "../serve/version_cache.ts";
import { backends, makeDirBucket, openTicket, removeTestDataAtEnd, shared } from "./_harness.ts";

/** 2026-06-15 12:00 EAT: the server's clock and every age below. */
const NOW = new Date("2026-06-15T12:00:00+03:00");
const HOUR = 3_600_000;
const VEHICLE = { lon: 36.8219, lat: -1.2921 };
/** Degrees of latitude per km (near enough for placing tickets; distances are checked in SQL). */
const KM = 1 / 110.574;
const TOKEN = "tok-9f8e7d6c5b4a";

const INC_DATA: Dataset = { ...INC, afterApply: [] };
const CRQ_DATA: Dataset = { ...CRQ, afterApply: [] };

function eat(ms: number): string {
  return new Date(ms + 3 * HOUR).toISOString().slice(0, 19).replace("T", " ");
}
const ago = (hours: number) => eat(NOW.getTime() - hours * HOUR);

/**
 * Dispatch by urgency the plain way (the reference for the bounded query): every open ticket with
 * a place within $5 metres scored, lowest score first, then least time left, distance, dataset
 * and ticket_id.
 */
const URGENCY_EVERY_TICKET = `
with point as (select st_setsrid(st_makepoint($2::float8, $3::float8), 4326)::geography as p),
candidates as (
  select 'inc'::text as dataset, s.ticket_id, st_distance(s.geog, point.p) as d,
         tickets.minutes_to_breach(s.sla_due_at, $1::timestamptz) as mtb, s.sla_state
  from tickets.inc_open_sla_at($1::timestamptz) s, point where s.geog is not null
  union all
  select 'crq', c.ticket_id, st_distance(c.geog, point.p), null::integer, null::text
  from tickets.crq c, point where c.is_actionable and c.geog is not null
)
select dataset || ':' || ticket_id as key from candidates
where dataset = any ($6::text[]) and ($7::text is null or sla_state = $7::text) and d <= $5::float8
order by tickets.dispatch_score(d, mtb), mtb nulls last, d, dataset, ticket_id
limit $4::integer`;

function ticket(id: string, northKm: number | null, o: Record<string, string> = {}) {
  return openTicket(id, {
    assigned_team: "Team A",
    owner: "Jane Wanjiru",
    sla_status: "Compliant",
    updated_at: ago(1),
    ...(northKm === null
      ? {}
      : { latitude: String(VEHICLE.lat + northKm * KM), longitude: String(VEHICLE.lon) }),
    ...o,
  });
}

function closed(id: string, northKm: number, o: Record<string, string>) {
  return ticket(id, northKm, {
    raw_status: "CLOSED",
    normalized_status: "closed",
    bucket: "closed",
    is_actionable: "false",
    ...o,
  });
}

const INC_ROWS = [
  ticket("BREACHED_3KM", 3, { created_at_service: ago(50) }),
  ticket("OK_1KM", 1, { created_at_service: ago(2) }),
  ticket("AT_RISK_2KM", 2, { first_seen_at: ago(40), assigned_team: "Team B", owner: "Ali" }),
  ticket("OK_FAR", 30, {
    created_at_service: ago(1),
    cluster: "Kasarani",
    assigned_team: "Team B",
    owner: "Ali",
  }),
  ticket("UNMAPPED", null, { assigned_team: "Team B", owner: "Ali" }),
  closed("CLOSED_NEAR", 0.5, { closed_at: ago(3), mttr: "2", created_at_service: ago(5) }),
  closed("CLOSED_B", 4, {
    closed_at: ago(5),
    mttr: "10",
    sla_status: "Breached",
    assigned_team: "Team B",
    owner: "Ali",
  }),
];
const CRQ_ROWS = [ticket("CRQ_1_5KM", 1.5, { service_type: "crq" })];

async function load(db: Database, name: string, rows: Record<string, string>[], ds: Dataset) {
  const root = await makeDirBucket([{ name, text: renderCsv(COLUMNS, rows) }], ds.changesPrefix);
  try {
    const report = await drain(createDirObjectStore(root), db, { dataset: ds, apply: true });
    assert.equal(report.status, "ok", report.error);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
  await db.exec(`
    update ${ds.table} set geom = st_setsrid(st_makepoint(longitude, latitude), 4326),
      geo_source = 'feed'
    where geom is null and latitude is not null and longitude is not null`);
}

/** Wraps a database so every statement run in a transaction is recorded. */
function recording(db: Database): Database & { statements: string[] } {
  const statements: string[] = [];
  const wrap = (tx: SqlSession): SqlSession => ({
    query<T extends Row = Row>(text: string, params?: readonly unknown[]) {
      statements.push(text);
      return tx.query<T>(text, params);
    },
    exec: (script) => tx.exec(script),
    copyRows: (table, columns, batches) => tx.copyRows(table, columns, batches),
    copyCsv: (table, columns, body) => tx.copyCsv(table, columns, body),
  });
  return Object.assign(Object.create(db) as Database, {
    statements,
    transaction: <T>(fn: (tx: SqlSession) => Promise<T>) => db.transaction((tx) => fn(wrap(tx))),
    listen: (channel: string, onEvent: () => void) => db.listen(channel, onEvent),
  });
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** A server on a free loopback port with the tests' clock and no web root; `options` override. */
function testServer(
  db: Database,
  options: Partial<StartServerOptions> = {},
): Promise<RunningServer> {
  return startServer({
    db,
    settings: { corsOrigins: [], statementTimeoutMs: 5000, staleAfterHours: 2 },
    webRoot: "./.data/serve-test-no-web/",
    now: () => NOW,
    log: () => {},
    redact: (text) => text,
    host: "127.0.0.1",
    port: 0,
    ...options,
  });
}

/**
 * Inserts `n` open tickets (`PREFIX_000`…) within ~35 km of the vehicle, every SLA state (a
 * quarter without a clock: unknown), placed from a seeded sequence; the caller rolls back. Returns
 * the sequence, to go on drawing the questions from it.
 */
async function insertScattered(
  tx: SqlSession,
  prefix: string,
  n: number,
  seed: number,
): Promise<() => number> {
  let state = seed;
  const random = () => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const tickets = Array.from({ length: n }, (_, i) => ({
    id: `${prefix}_${String(i).padStart(3, "0")}`,
    lon: VEHICLE.lon + (random() - 0.5) * 0.6,
    lat: VEHICLE.lat + (random() - 0.5) * 0.6,
    seen: random() < 0.25 ? null : ago(random() * 80),
  }));
  await tx.query(
    `insert into tickets.inc (ticket_id, raw, source_file, geom)
     select t.id, jsonb_strip_nulls(jsonb_build_object('is_actionable', 'true',
              'normalized_status', 'pending', 'first_seen_at', t.seen)),
            $2, st_setsrid(st_makepoint(t.lon, t.lat), 4326)
     from jsonb_to_recordset($1::text::jsonb) as t(id text, lon float8, lat float8, seen text)`,
    [JSON.stringify(tickets), `${prefix.toLowerCase()}.csv`],
  );
  return random;
}

for (const b of backends()) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${b.name}] serve: ${name}`, ...shared, fn });

  let setup: Promise<{ db: Database; rec: Database & { statements: string[] } }> | undefined;
  let server: RunningServer | undefined;
  const lines: Record<string, unknown>[] = [];
  const ready = () =>
    setup ??= (async () => {
      await b.reset();
      const db = await b.db();
      await load(db, "2026-06-15T11-40-00.csv", INC_ROWS, INC_DATA);
      await load(db, "2026-06-15T11-20-00.csv", CRQ_ROWS, CRQ_DATA);
      await capture(db, { now: NOW });
      const rec = recording(db);
      server = await testServer(rec, { log: (entry) => lines.push(entry) });
      return { db, rec };
    })();
  const url = (path: string) => `http://127.0.0.1:${server!.port}${path}`;
  /** A PostgreSQL pool opened as serve opens its own: prepared, read only, with a timeout. */
  const servePool = (max: number, readOnlyTimeoutMs: number) =>
    createPostgresDatabase(b.url!, { max, prepare: true, readOnlyTimeoutMs });
  const get = async (path: string, init?: RequestInit) => {
    await ready();
    return await fetch(url(path), init);
  };
  const json = async (path: string): Promise<Json> => {
    const response = await get(path);
    assert.equal(response.status, 200, `${path}: ${response.status}`);
    return await response.json();
  };
  const ids = (fc: Json) => fc.features.map((f: Json) => f.properties.ticket_id);

  test("nearest: the k nearest open tickets in exact metres, with time to breach", async () => {
    const { db } = await ready();
    const fc = await json(`/api/nearest?lon=${VEHICLE.lon}&lat=${VEHICLE.lat}&k=10`);
    assert.deepEqual(ids(fc), ["OK_1KM", "AT_RISK_2KM", "BREACHED_3KM"]);
    const props = fc.features.map((f: Json) => f.properties);
    assert.deepEqual(props.map((p: Json) => p.minutes_to_breach), [46 * 60, 8 * 60, -2 * 60]);
    assert.deepEqual(props.map((p: Json) => p.sla_state), ["ok", "at_risk", "breached"]);
    const [exact] = await db.query<{ m: number }>(
      `select round(st_distance(geog, st_setsrid(st_makepoint($1, $2), 4326)::geography)::numeric, 1)::float8 as m
       from tickets.inc where ticket_id = 'BREACHED_3KM'`,
      [VEHICLE.lon, VEHICLE.lat],
    );
    assert.equal(props[2].distance_m, exact!.m);
    assert.ok(Math.abs(props[2].distance_m - 3000) < 5, String(props[2].distance_m));
    // How each point was found, as /api/tickets gives it (the page's card shows it for a ticket
    // the filters hide; before, nearest's Features lacked it and the card's line was blank).
    const placed = await db.query<{ geo_source: string }>(
      `select geo_source from tickets.inc where ticket_id = any ($1) order by ticket_id`,
      [ids(fc)],
    );
    assert.deepEqual(
      props.map((p: Json) => p.geo_source).sort(),
      placed.map((r) => r.geo_source).sort(),
    );
    assert.ok(props.every((p: Json) => typeof p.geo_source === "string"), JSON.stringify(props));
    const two = await json(`/api/nearest?lon=${VEHICLE.lon}&lat=${VEHICLE.lat}&k=2`);
    assert.deepEqual(ids(two), ["OK_1KM", "AT_RISK_2KM"]);
    const wide = await json(`/api/nearest?lon=${VEHICLE.lon}&lat=${VEHICLE.lat}&max_km=40`);
    assert.equal(ids(wide).at(-1), "OK_FAR");
  });

  test("nearest: rank=urgency sends the vehicle where the SLA is at stake", async () => {
    const fc = await json(`/api/nearest?lon=${VEHICLE.lon}&lat=${VEHICLE.lat}&rank=urgency`);
    // Scores: breached 3 km = 3; at risk 2 km + 8 h × 0.25 = 4; ok 1 km + 46 h × 0.25 = 12.5.
    assert.deepEqual(ids(fc), ["BREACHED_3KM", "AT_RISK_2KM", "OK_1KM"]);
    assert.deepEqual(fc.features.map((f: Json) => f.properties.score), [3, 4, 12.5]);
  });

  test("nearest: datasets and SLA filter", async () => {
    const at = `lon=${VEHICLE.lon}&lat=${VEHICLE.lat}`;
    assert.deepEqual(ids(await json(`/api/nearest?${at}&dataset=all&k=3`)), [
      "OK_1KM",
      "CRQ_1_5KM",
      "AT_RISK_2KM",
    ]);
    assert.deepEqual(ids(await json(`/api/nearest?${at}&dataset=crq`)), ["CRQ_1_5KM"]);
    assert.deepEqual(ids(await json(`/api/nearest?${at}&sla_state=breached`)), ["BREACHED_3KM"]);
  });

  test("nearest: KNN walks the GiST index from a constant point", async () => {
    const { db } = await ready();
    const { text, params } = nearestSql({
      ...VEHICLE,
      k: 10,
      maxKm: 25,
      dataset: "inc",
      rank: "distance",
    }, NOW);
    const plan = await db.transaction(async (tx) => {
      await tx.query(`set local enable_seqscan = off`);
      const rows = await tx.query<{ "QUERY PLAN": string }>(`explain ${text}`, params);
      return rows.map((r) => r["QUERY PLAN"]).join("\n");
    });
    assert.match(plan, /Index Scan using inc_open_geog_idx/);
    assert.match(plan, /Order By: .*geog.* <-> '[0-9A-F]+'::geography/);
  });

  test("nearest: tickets sharing one point come in ticket_id order, so k=3 starts k=10", async () => {
    const { db } = await ready();
    // 40 breached tickets at the vehicle's point (score 0), inserted out of ticket_id order; in a
    // transaction rolled back, so the other tests keep their tickets.
    const tied = Array.from({ length: 40 }, (_, i) => `TIE_${String(10 + (i * 17) % 40)}`);
    const found: Record<string, string[]> = {};
    await db.transaction(async (tx) => {
      await tx.query(
        `insert into tickets.inc (ticket_id, raw, source_file, geom)
         select id, jsonb_build_object('is_actionable', 'true', 'normalized_status', 'pending',
                  'first_seen_at', '2026-06-13 02:00:00'),
                'tie.csv', st_setsrid(st_makepoint($2, $3), 4326)
         from unnest($1::text[]) id`,
        [tied, VEHICLE.lon, VEHICLE.lat],
      );
      for (const rank of ["distance", "urgency"] as const) {
        for (const dataset of ["inc", "all"] as const) {
          for (const k of [2, 3, 10]) {
            const query = { ...VEHICLE, k, maxKm: 25, dataset, rank };
            const { features } = await nearest(tx, query, NOW);
            found[`${rank} ${dataset} k=${k}`] = JSON.parse(features).map((f: Json) =>
              f.properties.ticket_id
            );
          }
        }
      }
      throw new Error("rollback");
    }).catch((error) => assert.equal(error.message, "rollback"));
    const first10 = [...tied].sort().slice(0, 10);
    for (const rank of ["distance", "urgency"]) {
      for (const dataset of ["inc", "all"]) {
        for (const k of [2, 3, 10]) {
          assert.deepEqual(
            found[`${rank} ${dataset} k=${k}`],
            first10.slice(0, k),
            `${rank} ${dataset} k=${k}`,
          );
        }
      }
    }
  });

  test("nearest: rank=urgency puts the longest overdue first among breached tickets at one place", async () => {
    const { db } = await ready();
    // Three breached tickets at one cluster centroid 0.5 km north (equal scores: a breached
    // ticket's is its distance), overdue 2, 32 and 12 h; their ids in another order. Before,
    // they came in ticket_id order (a map tester's). Rolled back.
    const overdue = { CENTROID_A: 2, CENTROID_B: 32, CENTROID_C: 12 };
    const found: Record<string, string[]> = {};
    await db.transaction(async (tx) => {
      await tx.query(
        `insert into tickets.inc (ticket_id, raw, source_file, geom)
         select o.id, jsonb_build_object('is_actionable', 'true', 'normalized_status', 'pending',
                  'first_seen_at', o.seen),
                'centroid.csv', st_setsrid(st_makepoint($3, $4), 4326)
         from unnest($1::text[], $2::text[]) o (id, seen)`,
        [
          Object.keys(overdue),
          Object.values(overdue).map((h) => ago(48 + h)),
          VEHICLE.lon,
          VEHICLE.lat + 0.5 * KM,
        ],
      );
      for (const rank of ["urgency", "distance"] as const) {
        const query = { ...VEHICLE, k: 3, maxKm: 1, dataset: "all" as const, rank };
        found[rank] = JSON.parse((await nearest(tx, query, NOW)).features).map((f: Json) =>
          `${f.properties.ticket_id} ${f.properties.minutes_to_breach}`
        );
      }
      throw new Error("rollback");
    }).catch((error) => assert.equal(error.message, "rollback"));
    assert.deepEqual(found.urgency, ["CENTROID_B -1920", "CENTROID_C -720", "CENTROID_A -120"]);
    // Nearest first: one distance, so ticket_id order, as before.
    assert.deepEqual(found.distance, ["CENTROID_A -120", "CENTROID_B -1920", "CENTROID_C -720"]);
  });

  test("nearest: rank=urgency, bounded by the nearest tickets' scores, gives what scoring every ticket within max_km gives", async () => {
    const { db } = await ready();
    // 600 open tickets within ~35 km of the vehicle, every SLA state; rolled back.
    let random = () => 0;
    const mismatches: string[] = [];
    let compared = 0;
    await db.transaction(async (tx) => {
      random = await insertScattered(tx, "RND", 600, 7);
      for (let i = 0; i < 60; i++) {
        const query = {
          lon: VEHICLE.lon + (random() - 0.5) * 0.5,
          lat: VEHICLE.lat + (random() - 0.5) * 0.5,
          k: [1, 3, 10, 50][i % 4]!,
          maxKm: [0.5, 3, 25, 100][(i >> 2) % 4]!,
          dataset: (["inc", "all"] as const)[(i >> 4) % 2]!,
          slaState: ([undefined, "ok", "at_risk", "breached"] as const)[i % 3 === 0 ? i % 4 : 0],
          rank: "urgency" as const,
        };
        const { features } = await nearest(tx, query, NOW);
        const got = JSON.parse(features).map((f: Json) =>
          `${f.properties.dataset}:${f.properties.ticket_id}`
        );
        const want = (await tx.query<{ key: string }>(URGENCY_EVERY_TICKET, [
          NOW,
          query.lon,
          query.lat,
          query.k,
          query.maxKm * 1000,
          query.dataset === "all" ? ["inc", "crq"] : ["inc"],
          query.slaState ?? null,
        ])).map((r) => r.key);
        compared += want.length;
        if (JSON.stringify(got) !== JSON.stringify(want)) {
          mismatches.push(`${JSON.stringify(query)}: ${got.join(",")} != ${want.join(",")}`);
        }
      }
      throw new Error("rollback");
    }).catch((error) => assert.equal(error.message, "rollback"));
    assert.deepEqual(mismatches, []);
    assert.ok(compared > 400, `compared ${compared} tickets`);
  });

  test("the antimeridian: a vehicle on it gets its tickets, not a 500 (PostGIS's index walk fails there); a box may cross it", async () => {
    const { db } = await ready();
    // One ticket at (180, 0), one at (-180, 0): the same place. KNN from either side ended with
    // "index returned tuples in wrong order", a 500 (a tester's).
    await db.query(
      `insert into tickets.inc (ticket_id, raw, source_file, geom)
       select id, jsonb_build_object('is_actionable', 'true', 'normalized_status', 'pending',
                'first_seen_at', '2026-06-13 02:00:00'),
              'am.csv', st_setsrid(st_makepoint(lon, 0), 4326)
       from (values ('AM_EAST', 180::float8), ('AM_WEST', -180::float8)) v(id, lon)`,
    );
    try {
      for (const lon of [180, -180]) {
        for (const rank of ["distance", "urgency"]) {
          const fc = await json(`/api/nearest?lon=${lon}&lat=0&k=3&rank=${rank}`);
          assert.deepEqual(ids(fc), ["AM_EAST", "AM_WEST"], `lon=${lon} ${rank}`);
          assert.deepEqual(fc.features.map((f: Json) => f.properties.distance_m), [0, 0]);
        }
      }
      // A box across the antimeridian (west > east, as GeoJSON reads it; before: refused).
      const across = await json("/api/tickets?dataset=inc&bbox=170,-10,-170,10");
      assert.deepEqual(ids(across), ["AM_EAST", "AM_WEST"]);
      const csv = await (await get("/api/tickets.csv?dataset=inc&bbox=179.5,-1,-179.5,1")).text();
      assert.deepEqual(csv.trim().split("\n").slice(1).map((l) => l.split(",")[1]), [
        "AM_EAST",
        "AM_WEST",
      ]);
      // West of east is the box between them, the antimeridian outside it.
      const within = ids(await json("/api/tickets?dataset=inc&bbox=-179.5,-2,179.5,1"));
      assert.ok(within.includes("OK_1KM") && !within.some((id: string) => id.startsWith("AM_")));
    } finally {
      await db.query(`delete from tickets.inc where ticket_id in ('AM_EAST', 'AM_WEST')`);
    }
  });

  test("nearest: asked without the index's order, every dispatch question gets the same answer", async () => {
    const { db } = await ready();
    // 400 open tickets within ~35 km of the vehicle, every SLA state; rolled back.
    let random = () => 0;
    const differ: string[] = [];
    let found = 0;
    await db.transaction(async (tx) => {
      random = await insertScattered(tx, "WALK", 400, 11);
      for (let i = 0; i < 48; i++) {
        const query = {
          lon: VEHICLE.lon + (random() - 0.5) * 0.5,
          lat: VEHICLE.lat + (random() - 0.5) * 0.5,
          k: [1, 3, 10, 60][i % 4]!,
          maxKm: [0.5, 3, 25][(i >> 2) % 3]!,
          dataset: (["inc", "all"] as const)[i % 2]!,
          slaState: ([undefined, "ok", "breached"] as const)[i % 3],
          rank: (["distance", "urgency"] as const)[(i >> 3) % 2]!,
        };
        const index = await nearest(tx, query, NOW, "index");
        const sort = await nearest(tx, query, NOW, "sort");
        found += index.returned;
        if (index.features !== sort.features) differ.push(JSON.stringify(query));
      }
      throw new Error("rollback");
    }).catch((error) => assert.equal(error.message, "rollback"));
    assert.deepEqual(differ, []);
    assert.ok(found > 200, `found ${found} tickets`);
  });

  test("tickets: a GeoJSON page with counts, data time, next link and time to breach", async () => {
    const fc = await json("/api/tickets?dataset=inc");
    assert.equal(fc.type, "FeatureCollection");
    assert.equal(fc.numberMatched, 5);
    assert.equal(fc.numberReturned, 5);
    assert.equal(fc.dataAsOf, "2026-06-15T11:40:00+03:00");
    assert.equal(fc.next, null);
    assert.deepEqual(ids(fc), ["AT_RISK_2KM", "BREACHED_3KM", "OK_1KM", "OK_FAR", "UNMAPPED"]);
    const byId = new Map(fc.features.map((f: Json) => [f.properties.ticket_id, f]));
    assert.equal((byId.get("BREACHED_3KM") as Json).properties.minutes_to_breach, -120);
    assert.equal((byId.get("UNMAPPED") as Json).geometry, null);
    assert.equal((byId.get("UNMAPPED") as Json).properties.sla_state, "unknown");

    const first = await json("/api/tickets?dataset=inc&limit=2");
    assert.deepEqual(ids(first), ["AT_RISK_2KM", "BREACHED_3KM"]);
    assert.equal(first.numberMatched, 5);
    assert.equal(first.next, "/api/tickets?dataset=inc&limit=2&after=inc%3ABREACHED_3KM");
    const second = await json(first.next);
    assert.deepEqual(ids(second), ["OK_1KM", "OK_FAR"]);
    const last = await json(second.next);
    assert.deepEqual(ids(last), ["UNMAPPED"]);
    assert.equal(last.next, null);
    const past = await json("/api/tickets?dataset=inc&offset=100");
    assert.deepEqual([past.numberMatched, past.numberReturned], [5, 0]);
    const offset = await json("/api/tickets?dataset=inc&limit=2&offset=2"); // still read
    assert.deepEqual(ids(offset), ["OK_1KM", "OK_FAR"]);
    for (const after of ["WOT1", "incX", "crq", "inc:"]) { // incX: read as inc, id incX before
      const bad = await get(`/api/tickets?after=${after}`);
      assert.equal(bad.status, 400, after);
      assert.equal((await bad.json()).parameter, "after");
    }
    // An id with a C1 control (U+0085), which ingest takes: a page may end on it (it was a 400).
    const c1 = await get(`/api/tickets?dataset=inc&after=${encodeURIComponent("INC:A\u0085B")}`);
    assert.equal(c1.status, 200);
    assert.equal((await c1.json()).numberMatched, 5);
    // As long as any id ingest takes (200 characters), with its "inc:" (before: over 200, a 400).
    const long = await json(`/api/tickets?dataset=inc&after=inc:${"Z".repeat(200)}`);
    assert.deepEqual([long.numberMatched, long.numberReturned], [5, 0]);
  });

  test("tickets: filters and bbox", async () => {
    const d = 0.05;
    const box = [VEHICLE.lon - d, VEHICLE.lat - d, VEHICLE.lon + d, VEHICLE.lat + d].join(",");
    assert.deepEqual(ids(await json(`/api/tickets?dataset=inc&bbox=${box}`)), [
      "AT_RISK_2KM",
      "BREACHED_3KM",
      "OK_1KM",
    ]);
    // INC first, then CRQ; by ticket id within each.
    assert.deepEqual(ids(await json(`/api/tickets?bbox=${box}`)), [
      "AT_RISK_2KM",
      "BREACHED_3KM",
      "OK_1KM",
      "CRQ_1_5KM",
    ]);
    assert.deepEqual(ids(await json("/api/tickets?sla_state=at_risk")), ["AT_RISK_2KM"]);
    assert.deepEqual(ids(await json("/api/tickets?cluster=KASARANI")), ["OK_FAR"]);
    assert.deepEqual(ids(await json("/api/tickets?dataset=inc&team=team%20b")), [
      "AT_RISK_2KM",
      "OK_FAR",
      "UNMAPPED",
    ]);
    assert.deepEqual(ids(await json("/api/tickets?dataset=inc&open_only=false&status=closed")), [
      "CLOSED_B",
      "CLOSED_NEAR",
    ]);
    assert.equal((await json("/api/tickets?open_only=false")).numberMatched, 8);
  });

  test("tickets: SQL-looking strings in every filter are plain values", async () => {
    const { db } = await ready();
    for (const evil of ["x' or '1'='1", "'; drop table tickets.inc; --", "%", "\\'", "$1"]) {
      for (const name of ["cluster", "status", "team"]) {
        const fc = await json(`/api/tickets?${name}=${encodeURIComponent(evil)}`);
        assert.equal(fc.numberMatched, 0, `${name}=${evil}`);
      }
      const d = await json(`/api/dashboard?cluster=${encodeURIComponent(evil)}`);
      assert.equal(d.metrics.open_total, 0);
      const t = await json(`/api/teams?cluster=${encodeURIComponent(evil)}`);
      assert.deepEqual(t.rows, []);
    }
    const [n] = await db.query<{ n: number }>(`select count(*)::int as n from tickets.inc`);
    assert.equal(n!.n, 7);
  });

  test("tickets.csv: the same selection as CSV, streamed and gzipped", async () => {
    const response = await get("/api/tickets.csv?dataset=inc", {
      headers: { "Accept-Encoding": "gzip" },
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("Content-Type")!, /^text\/csv/);
    assert.equal(response.headers.get("Content-Encoding"), "gzip");
    const lines = (await response.text()).trimEnd().split("\r\n");
    assert.match(lines[0]!, /^dataset,ticket_id,is_open,/);
    assert.deepEqual(lines.slice(1).map((l) => l.split(",")[1]), [
      "AT_RISK_2KM",
      "BREACHED_3KM",
      "OK_1KM",
      "OK_FAR",
      "UNMAPPED",
    ]);
    assert.match(lines[2]!, /,breached,2026-06-15T10:00:00\+03:00,-120,/);
  });

  test("the page asks for the API's default page of tickets, never a large read (two at a time)", async () => {
    const page = await Deno.readTextFile(new URL("../web/app.js", import.meta.url));
    assert.match(page, /const PAGE_LIMIT = 5000;/);
    assert.match(page, /limit: PAGE_LIMIT/);
  });

  test("tickets.csv goes on from a page's next link (after=), with the clock's source and the source time last", async () => {
    const first = await (await get("/api/tickets?dataset=inc&limit=2")).json();
    // The page's next link, made an export: the rest of the selection (before: a 400, "Unknown
    // parameter \"after\"").
    const rest = new URL(first.next, "http://x");
    rest.pathname = "/api/tickets.csv";
    rest.searchParams.delete("limit");
    const response = await get(rest.pathname + rest.search);
    assert.equal(response.status, 200);
    const lines = (await response.text()).trimEnd().split("\r\n");
    assert.match(lines[0]!, /,longitude,latitude,sla_clock_source,source_updated_at$/);
    assert.deepEqual(lines.slice(1).map((l) => l.split(",")[1]), ["OK_1KM", "OK_FAR", "UNMAPPED"]);
    const bad = await get("/api/tickets.csv?after=nowhere");
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).detail, /^Cannot read "after" "nowhere": expected a dataset/);
  });

  test("tickets.csv?bom=true starts with a UTF-8 byte-order mark (Excel); without it, none", async () => {
    const marked = new Uint8Array(await (await get("/api/tickets.csv?bom=true")).arrayBuffer());
    assert.deepEqual([...marked.slice(0, 10)], [
      0xef,
      0xbb,
      0xbf,
      ...new TextEncoder().encode("dataset"),
    ]);
    const plain = new Uint8Array(await (await get("/api/tickets.csv")).arrayBuffer());
    assert.equal(new TextDecoder().decode(plain.slice(0, 7)), "dataset");
    const bad = await get("/api/tickets.csv?bom=maybe");
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).detail, /bom/);
  });

  test("ticket: raw record, geometry source and closures; 404 when unknown", async () => {
    const t = await json("/api/tickets/CLOSED_NEAR");
    assert.equal(t.properties.geo_source, "feed");
    assert.equal(t.raw.ticket_id, "CLOSED_NEAR");
    assert.equal(t.raw.cluster, "Westlands");
    assert.equal(t.closures.length, 1);
    assert.equal(t.closures[0].mttr_hours, 2);
    assert.equal(t.closures[0].closed_at, "2026-06-15T09:00:00+03:00");
    const open = await json("/api/tickets/BREACHED_3KM");
    assert.equal(open.properties.minutes_to_breach, -120);
    // Every property the list gives the ticket, with the same value (and a few more).
    const page = await json("/api/tickets?dataset=all&open_only=false");
    for (const id of ["CLOSED_NEAR", "BREACHED_3KM"]) {
      const listed = page.features.find((f: { properties: { ticket_id: string } }) =>
        f.properties.ticket_id === id
      );
      const one = await json(`/api/tickets/${id}`);
      for (const [name, value] of Object.entries(listed.properties)) {
        assert.deepEqual(one.properties[name], value, `${id}: ${name}`);
      }
    }
    const missing = await get("/api/tickets/NOPE123");
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("Content-Type"), "application/problem+json");
    assert.equal(
      missing.headers.get("ETag"),
      null,
      "no representation, no tag (it was a 304 again)",
    );
    await missing.body?.cancel();
    // `If-None-Match: *` is a 304 only for a ticket that exists (before: a 304 for NOPE123 too,
    // from the version in memory). Twice: the second finds the version remembered.
    for (let i = 0; i < 2; i++) {
      const star = await get("/api/tickets/NOPE123", { headers: { "If-None-Match": "*" } });
      assert.equal(star.status, 404);
      await star.body?.cancel();
      const known = await get("/api/tickets/CLOSED_NEAR", { headers: { "If-None-Match": "*" } });
      assert.equal(known.status, 304);
      assert.ok(known.headers.get("ETag"));
      await known.body?.cancel();
    }
    const csv = await get("/api/tickets.csv?limit=10", { headers: { "If-None-Match": "*" } });
    assert.equal(csv.status, 304);
    await csv.body?.cancel();
  });

  test("minutes_to_breach is negative from the breach instant on, in the list and in dispatch", async () => {
    const { db } = await ready();
    // BREACHED_3KM's clock started 50 h before NOW: it breaches 2 h before NOW.
    const due = new Date(NOW.getTime() - 2 * HOUR);
    const at = async (instant: Date) => {
      const [row] = await db.query<{ sla_state: string; minutes_to_breach: number }>(
        `select sla_state, minutes_to_breach from tickets.tickets_read_at($1::timestamptz)
         where ticket_id = 'BREACHED_3KM'`,
        [instant.toISOString()],
      );
      const near = nearestSql(
        { ...VEHICLE, k: 3, maxKm: 25, dataset: "inc", rank: "distance" },
        instant,
      );
      const found = await db.query<{ ticket_id: string; minutes_to_breach: string }>(
        near.text,
        near.params,
      );
      const dispatched = found.find((r) => r.ticket_id === "BREACHED_3KM")!.minutes_to_breach;
      return `${row!.sla_state} ${row!.minutes_to_breach} ${dispatched}`;
    };
    assert.equal(await at(new Date(due.getTime() - 61_000)), "at_risk 1 1");
    assert.equal(await at(new Date(due.getTime() - 1_000)), "at_risk 0 0");
    assert.equal(await at(due), "breached -1 -1");
    assert.equal(await at(new Date(due.getTime() + 30_000)), "breached -1 -1");
    assert.equal(await at(new Date(due.getTime() + 60_000)), "breached -1 -1");
    assert.equal(await at(new Date(due.getTime() + 61_000)), "breached -2 -2");
  });

  test("webhook/tickets: byte for byte reporting.fn_tickets_for_map", async () => {
    const { db } = await ready();
    for (const openOnly of [true, false]) {
      const response = await get(`/webhook/tickets?open_only=${openOnly}`);
      const [direct] = await db.query<{ body: string }>(
        `select reporting.fn_tickets_for_map($1, $2::timestamptz)::text as body`,
        [openOnly, NOW.toISOString()],
      );
      assert.equal(await response.text(), direct!.body);
    }
  });

  test("dashboard: features=false gives the same figures without the tickets (the page's cards); the webhook keeps them", async () => {
    const { db } = await ready();
    const query = "cluster=Westlands&window=custom&from=2026-06-14&to=2026-06-15";
    const whole = await (await get(`/api/dashboard?${query}`)).json();
    const slim = await get(`/api/dashboard?${query}&features=false`);
    assert.equal(slim.status, 200);
    const figures = await slim.json();
    assert.equal(figures.open, undefined);
    assert.equal(figures.closed, undefined);
    const { open: _open, closed: _closed, ...rest } = whole;
    assert.deepEqual(figures, rest);
    assert.ok(whole.open.features.length > 0, "the whole payload has tickets to leave out");
    const [direct] = await db.query<{ body: Record<string, unknown> }>(
      `select reporting.fn_inc_dashboard_summary('Westlands', null, 'custom', '2026-06-14',
         '2026-06-15', $1::timestamptz) as body`,
      [NOW.toISOString()],
    );
    assert.deepEqual(JSON.parse(JSON.stringify(direct!.body)), JSON.parse(JSON.stringify(figures)));
    // The predecessor's path answers as before, whatever features says.
    const webhook = await (await get(`/webhook/inc-dashboard?${query}&features=false`)).json();
    assert.deepEqual(webhook, whole);
    const bad = await get(`/api/dashboard?features=maybe`);
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).parameter, "features");
  });

  test("dashboard: query string, POSTed form and POSTed JSON give the function's payload", async () => {
    const { db } = await ready();
    const [direct] = await db.query<{ body: string }>(
      `select reporting.fn_inc_dashboard('Westlands', null, 'custom', '2026-06-14', '2026-06-15',
         $1::timestamptz)::text as body`,
      [NOW.toISOString()],
    );
    const query = "cluster=Westlands&window=custom&from=2026-06-14&to=2026-06-15";
    const answers = [
      await get(`/api/dashboard?${query}`),
      await get(`/webhook/inc-dashboard?${query}`),
      await get("/webhook/inc-dashboard", {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: query,
      }),
      await get("/webhook/inc-dashboard", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ cluster: "Westlands", from: "2026-06-14", to: "2026-06-15" }),
      }),
    ];
    for (const a of answers) {
      assert.equal(a.status, 200);
      assert.equal(await a.text(), direct!.body);
    }
    const payload = JSON.parse(direct!.body);
    assert.equal(payload.filters.cluster, "Westlands");
    assert.equal(payload.metrics.open_total, 4);
    const bad = await get("/webhook/inc-dashboard", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "window=custom&from=2026-06-15&to=2026-06-01",
    });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).parameter, "from");
    // A POST whose If-None-Match names the current data is a 412, not a 304 (RFC 9110 13.1.2).
    const tag = (await get(`/webhook/inc-dashboard?${query}`)).headers.get("ETag")!;
    const conditional = await get("/webhook/inc-dashboard", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "If-None-Match": tag },
      body: query,
    });
    assert.equal(conditional.status, 412);
    assert.match((await conditional.json()).detail, /^Cannot answer this POST: its If-None-Match/);
  });

  test("backlog: the daily series, overall and for one cluster", async () => {
    const all = await json("/api/backlog?from=2026-06-01&to=2026-06-15");
    assert.equal(all.days.length, 1);
    const day = all.days[0];
    assert.equal(day.date, "2026-06-15");
    assert.deepEqual(
      [day.open_total, day.open_breached, day.open_at_risk, day.open_ok, day.open_unknown],
      [5, 1, 1, 2, 1],
    );
    assert.equal(day.closed, 2);
    const westlands = await json("/api/backlog?from=2026-06-01&to=2026-06-15&cluster=westlands");
    assert.equal(westlands.days[0].open_total, 4);
    assert.equal(westlands.days[0].closed, 2, "created and closed are counted per cluster too");
    assert.equal(westlands.days[0].closures_observed, null, "kept overall only");
    const before = await json("/api/backlog?from=2026-05-01&to=2026-05-31");
    assert.deepEqual(before.days, []);
  });

  test("teams: closures, MTTR, compliance, backlog and reopened per team and per owner", async () => {
    const t = await json("/api/teams?window=today");
    assert.equal(t.by, "team");
    assert.deepEqual(t.rows, [
      {
        key: "Team B",
        closures: 1,
        mttr_hours: { median: 10, p90: 10, count: 1 },
        closed_compliant: 0,
        closed_breached: 1,
        compliance_rate: 0,
        open: 3,
        open_breached: 0,
        open_at_risk: 1,
        reopened: 0,
      },
      {
        key: "Team A",
        closures: 1,
        mttr_hours: { median: 2, p90: 2, count: 1 },
        closed_compliant: 1,
        closed_breached: 0,
        compliance_rate: 1,
        open: 2,
        open_breached: 1,
        open_at_risk: 0,
        reopened: 0,
      },
    ]);
    const owners = await json("/api/teams?window=today&by=owner");
    assert.deepEqual(owners.rows.map((r: Json) => [r.key, r.closures, r.open]), [
      ["Ali", 1, 3],
      ["Jane Wanjiru", 1, 2],
    ]);
    const yesterday = await json("/api/teams?window=yesterday");
    assert.deepEqual(yesterday.rows.map((r: Json) => [r.key, r.closures]), [
      ["Team B", 0],
      ["Team A", 0],
    ]);
    const table = formatTeamPerformance(t as TeamPerformance);
    assert.match(table, /Team B\s+1\s+10\.0\s+10\.0\s+0\.0%\s+3\s+0\s+1\s+0/);
  });

  test("health: the database and each dataset's watermark", async () => {
    const h = await json("/api/health");
    assert.equal(h.ok, true);
    assert.equal(h.database, b.name);
    assert.deepEqual(h.datasets.map((d: Json) => [d.dataset, d.watermark, d.healthy]), [
      ["crq", "2026-06-15T11-20-00.csv", true],
      ["inc", "2026-06-15T11-40-00.csv", true],
    ]);
  });

  test("every request is read-only: a write fails, nothing was written", async () => {
    const { db } = await ready();
    await assert.rejects(
      readOnly(db, { timeoutMs: 5000 }, (tx) => tx.query(`delete from tickets.inc`)),
      (error: Error & { code?: string }) => error.code === "25006",
    );
    const [n] = await db.query<{ n: number }>(`select count(*)::int as n from tickets.inc`);
    assert.equal(n!.n, 7);
  });

  test("responses over 1 KB are gzipped for clients that accept it", async () => {
    const big = await get("/api/tickets?open_only=false", {
      headers: { "Accept-Encoding": "gzip" },
    });
    assert.equal(big.headers.get("Content-Encoding"), "gzip");
    assert.equal((await big.json()).numberReturned, 8);
    const small = await get("/api/tickets?cluster=none", {
      headers: { "Accept-Encoding": "gzip" },
    });
    assert.equal(small.headers.get("Content-Encoding"), null);
    await small.body?.cancel();
    // Bodies of no known length (JSON written by the framework, the streamed CSV) too.
    for (const path of ["/api/health", "/api/config", "/api/tickets.csv?limit=1", "/nothing"]) {
      const response = await get(path, { headers: { "Accept-Encoding": "gzip" } });
      const body = await response.bytes();
      assert.ok(body.byteLength < 1024, `${path}: ${body.byteLength} bytes`);
      assert.equal(response.headers.get("Content-Encoding"), null, path);
      assert.equal(response.headers.get("Content-Length"), String(body.byteLength), path);
    }
    const csv = await get("/api/tickets.csv?open_only=false", {
      headers: { "Accept-Encoding": "gzip" },
    });
    assert.equal(csv.headers.get("Content-Encoding"), "gzip");
    assert.equal((await csv.text()).trimEnd().split("\r\n").length, 9);
  });

  test("concurrent requests all succeed", async () => {
    const paths = Array.from(
      { length: 24 },
      (_, i) =>
        [
          `/api/nearest?lon=${VEHICLE.lon}&lat=${VEHICLE.lat}&k=${1 + (i % 3)}`,
          "/api/tickets?dataset=inc",
          "/api/dashboard",
          "/api/teams",
        ][i % 4]!,
    );
    const answers = await Promise.all(paths.map((p) => get(p)));
    for (const a of answers) {
      assert.equal(a.status, 200);
      await a.body?.cancel();
    }
  });

  test("over real HTTP: HEAD/OPTIONS/PUT/DELETE are 405 with Allow, a 10 MB POST is 413", async () => {
    for (const method of ["HEAD", "OPTIONS", "PUT", "DELETE"]) {
      for (const path of ["/api/tickets", "/webhook/inc-dashboard", "/api/nearest", "/"]) {
        const response = await get(path, { method });
        assert.equal(response.status, 405, `${method} ${path}`);
        assert.ok(response.headers.get("Allow"), `${method} ${path}`);
        await response.body?.cancel();
      }
    }
    const huge = await get("/webhook/inc-dashboard", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "cluster=" + "x".repeat(10 * 1024 * 1024),
    });
    assert.equal(huge.status, 413);
    await huge.body?.cancel();
  });

  test("over real HTTP: a raw path with .. never serves a file outside web/", async () => {
    await ready();
    for (const target of ["/../deno.json", "/web/../../deno.json", "/%2e%2e/deno.json"]) {
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = connect(server!.port, "127.0.0.1", () => {
          socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
        });
        let text = "";
        socket.on("data", (d) => text += d.toString());
        socket.on("end", () => resolve(text));
        socket.on("error", reject);
      });
      assert.match(raw, /^HTTP\/1\.1 4\d\d/, target);
      assert.doesNotMatch(raw, /"imports"/, target);
    }
  });

  test("ETag: an unchanged dataset answers 304 from the watermark alone; a new file changes it", async () => {
    const { db, rec } = await ready();
    const path = "/api/tickets?dataset=inc&limit=3";
    const first = await get(path);
    const etag = first.headers.get("ETag")!;
    assert.match(etag, /^W\/"[0-9a-f]+"$/);
    assert.equal(first.headers.get("Cache-Control"), "no-cache");
    await first.body?.cancel();
    rec.statements.length = 0;
    const again = await get(path, { headers: { "If-None-Match": etag } });
    assert.equal(again.status, 304);
    assert.equal(await again.text(), "");
    // The stored 200 has the security headers; a 304 only updates it (they cost a fifth of the
    // 304s a second).
    assert.equal(first.headers.get("X-Content-Type-Options"), "nosniff");
    assert.equal(again.headers.get("X-Content-Type-Options"), null);
    assert.equal(again.headers.get("Content-Security-Policy"), null);
    assert.ok(rec.statements.every((s) => !/tickets\.(inc|crq)\b|tickets_read_at/.test(s)));
    assert.ok(rec.statements.some((s) => s.includes("tickets.import_meta")));
    // Other parameters, other tag.
    const other = await get("/api/tickets?dataset=inc&limit=4", {
      headers: { "If-None-Match": etag },
    });
    assert.equal(other.status, 200);
    await other.body?.cancel();
    const firstPage = await (await get("/api/tickets?dataset=inc&limit=4")).json();
    // A new change file moves the watermark: the same tag no longer matches.
    await load(db, "2026-06-15T11-50-00.csv", [ticket("NEW_ONE", 0.2, {
      created_at_service: ago(1),
    })], INC_DATA);
    const changed = await get(path, { headers: { "If-None-Match": etag } });
    assert.equal(changed.status, 200);
    assert.notEqual(changed.headers.get("ETag"), etag);
    assert.equal((await changed.json()).numberMatched, 6);
    // The next page of the selection read before the change starts after that page's last
    // ticket (OK_FAR): NEW_ONE sorts before it and is not sent, and no ticket is sent twice
    // (with an offset, the new ticket shifted the pages: OK_FAR came again; an API tester's
    // finding, where a closed ticket shifted them the other way and one was never sent).
    const next = await (await get(firstPage.next)).json();
    assert.deepEqual(
      [...ids(firstPage), ...ids(next)],
      ["AT_RISK_2KM", "BREACHED_3KM", "OK_1KM", "OK_FAR", "UNMAPPED"],
    );
    assert.equal(next.numberMatched, 6);
    assert.equal(next.next, null);
  });

  test("access log: one JSON-ready line per request with path, status, ms and rows", async () => {
    await ready();
    const line = lines.find((l) => l.path === "/api/nearest" && l.status === 200)!;
    assert.deepEqual(Object.keys(line).sort(), ["event", "method", "ms", "path", "rows", "status"]);
    assert.ok((line.rows as number) > 0);
    assert.ok(lines.every((l) => !String(l.path).includes("?")));
  });

  test("access log: a CSV export's line comes once its last row is read, with its rows", async () => {
    const response = await get("/api/tickets.csv?dataset=inc&open_only=false");
    assert.equal(response.status, 200);
    const sent = (await response.text()).trimEnd().split("\r\n").length - 1;
    assert.ok(sent > 5, `${sent} rows`);
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 50 && line === undefined; i++) {
      line = lines.find((l) => l.path === "/api/tickets.csv" && l.rows === sent);
      if (line === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(line, `a line with rows ${sent}: ${JSON.stringify(lines.slice(-3))}`);
    assert.equal(line.status, 200);
    assert.equal(line.error, undefined);
  });

  test("a token-protected server refuses requests without it and never echoes it", async () => {
    const { db } = await ready();
    const logged: Record<string, unknown>[] = [];
    const guarded = await testServer(db, {
      settings: {
        corsOrigins: ["https://ops.example"],
        token: TOKEN,
        statementTimeoutMs: 5000,
        staleAfterHours: 2,
      },
      log: (entry) => logged.push(entry),
      redact: (text) => text.replaceAll(TOKEN, "***"),
    });
    try {
      const at = (p: string) => `http://127.0.0.1:${guarded.port}${p}`;
      const none = await fetch(at("/api/tickets"));
      assert.equal(none.status, 401);
      assert.ok(!(await none.text()).includes(TOKEN));
      const wrong = await fetch(at("/webhook/tickets"), { headers: { Authorization: "Bearer x" } });
      assert.equal(wrong.status, 401);
      await wrong.body?.cancel();
      const right = await fetch(at("/api/tickets?dataset=inc"), {
        headers: { Authorization: `Bearer ${TOKEN}`, Origin: "https://ops.example" },
      });
      assert.equal(right.status, 200);
      assert.equal(right.headers.get("Access-Control-Allow-Origin"), "https://ops.example");
      assert.ok(!(await right.text()).includes(TOKEN));
      const foreign = await fetch(at("/api/config"), {
        headers: { Authorization: `Bearer ${TOKEN}`, Origin: "https://evil.example" },
      });
      assert.equal(foreign.headers.get("Access-Control-Allow-Origin"), null);
      await foreign.body?.cancel();
      assert.ok(!JSON.stringify(logged).includes(TOKEN));
    } finally {
      await guarded.shutdown();
    }
  });

  test("health is 503 when the database cannot be reached", async () => {
    const gone = createPostgresDatabase("postgres://nobody:pw-never-shown@127.0.0.1:1/none", {
      connectTimeout: 2,
    });
    const logged: Record<string, unknown>[] = [];
    const down = await testServer(gone, {
      log: (entry) => logged.push(entry),
      redact: (text) => text.replaceAll("pw-never-shown", "***"),
    });
    try {
      // Every request fails fast, not only the first (a pooled connection that failed to
      // connect used to stay "connecting" for ever: vendor/README.md).
      for (let i = 0; i < 3; i++) {
        const health = await fetch(`http://127.0.0.1:${down.port}/api/health`);
        assert.equal(health.status, 503);
        assert.equal((await health.json()).ok, false);
        const data = await fetch(`http://127.0.0.1:${down.port}/api/tickets`);
        assert.equal(data.status, 503);
        assert.ok(!(await data.text()).includes("pw-never-shown"));
      }
      assert.ok(!JSON.stringify(logged).includes("pw-never-shown"));
    } finally {
      await down.shutdown();
      await gone.close();
    }
  });

  if (b.name === "postgres") {
    test("a statement over the timeout is cancelled", async () => {
      const { db } = await ready();
      await assert.rejects(
        readOnly(db, { timeoutMs: 100 }, (tx) => tx.query(`select pg_sleep(2)`)),
        (error: Error & { code?: string }) => error.code === "57014",
      );
    });

    test("a request reads one snapshot: a file applied meanwhile is not half seen", async () => {
      const { db } = await ready();
      const other = createPostgresDatabase(b.url!);
      const count = `select files_applied from tickets.import_meta where dataset = 'inc'`;
      try {
        const [first, second] = await readOnly(db, { timeoutMs: 5000 }, async (tx) => {
          const first = await tx.query(count);
          await other.query(
            `update tickets.import_meta set files_applied = files_applied + 1 where dataset = $1`,
            ["inc"],
          );
          return [first, await tx.query(count)];
        });
        assert.deepEqual(second, first);
        assert.notDeepEqual(await db.query(count), first);
      } finally {
        await other.query(
          `update tickets.import_meta set files_applied = files_applied - 1 where dataset = $1`,
          ["inc"],
        );
        await other.close();
      }
    });

    test("serve's pool of prepared statements stays read-only and timed, and answers the same", async () => {
      const { db } = await ready();
      const prepared = createPostgresDatabase(b.url!, { max: 2, prepare: true });
      try {
        await assert.rejects(
          readOnly(prepared, { timeoutMs: 5000 }, (tx) => tx.query(`delete from tickets.inc`)),
          (error: Error & { code?: string }) => error.code === "25006",
        );
        await assert.rejects(
          readOnly(prepared, { timeoutMs: 100 }, (tx) => tx.query(`select pg_sleep($1)`, [2])),
          (error: Error & { code?: string }) => error.code === "57014",
        );
        const { text, params } = nearestSql({
          ...VEHICLE,
          k: 10,
          maxKm: 25,
          dataset: "all",
          rank: "urgency",
        }, NOW);
        for (let i = 0; i < 7; i++) { // past the 5 custom plans, onto the cached one
          assert.deepEqual(await prepared.query(text, params), await db.query(text, params));
        }
      } finally {
        await prepared.close();
      }
    });

    test("serve's read-only pool: no statement can write or outrun the timeout, even outside a transaction; the answers are the same", async () => {
      await ready();
      const pool = servePool(2, 300);
      const other = await testServer(pool, {
        settings: { corsOrigins: [], statementTimeoutMs: 300, staleAfterHours: 2 },
      });
      try {
        assert.equal(pool.readOnlyTimeoutMs, 300);
        // No BEGIN: readInOrder takes the pool's own session, whose defaults do the guarding.
        let inTransaction: unknown;
        await readInOrder(pool, { timeoutMs: 300 }, async (tx) => {
          [inTransaction] = await tx.query(`select now() = statement_timestamp() as no_begin`);
        });
        assert.deepEqual(inTransaction, { no_begin: true });
        await assert.rejects(
          readInOrder(pool, { timeoutMs: 300 }, (tx) => tx.query(`delete from tickets.inc`)),
          (error: Error & { code?: string }) => error.code === "25006",
        );
        await assert.rejects(
          pool.query(`select pg_sleep($1)`, [2]),
          (error: Error & { code?: string }) => error.code === "57014",
        );
        // Statements issued one after another run in that order (the version goes before data).
        const stamps = await readInOrder(
          pool,
          { timeoutMs: 300 },
          (tx) =>
            Promise.all(Array.from({ length: 20 }, (_, i) =>
              tx.query<{ i: number; at: string }>(
                `select $1::int as i, clock_timestamp()::text as at`,
                [i],
              ))),
        );
        const order = stamps.map(([r]) => r!).sort((x, y) => x.at < y.at ? -1 : 1).map((r) => r.i);
        assert.deepEqual(order, Array.from({ length: 20 }, (_, i) => i));
        for (
          const path of [
            "/api/nearest?lon=36.8219&lat=-1.2921&k=5&rank=urgency",
            "/api/dashboard?window=7d",
            "/api/tickets?dataset=all",
            "/webhook/tickets?open_only=false",
            "/api/tickets/OK_1KM",
          ]
        ) {
          const mine = await fetch(`http://127.0.0.1:${other.port}${path}`);
          const theirs = await get(path);
          assert.equal(mine.status, 200, path);
          assert.equal(await mine.text(), await theirs.text(), path);
          // Tags are each server's own (they count the change notifications it heard).
          const repeat = await fetch(`http://127.0.0.1:${other.port}${path}`, {
            headers: { "If-None-Match": mine.headers.get("ETag")! },
          });
          await repeat.body?.cancel();
          assert.equal(repeat.status, 304, path);
        }
      } finally {
        await other.shutdown();
        await pool.close();
      }
    });

    test("serve's read-only pool plans a statement once per connection, without parallel workers", async () => {
      const { db } = await ready();
      const pool = servePool(1, 300);
      try {
        const { text, params } = nearestSql(
          { ...VEHICLE, k: 3, maxKm: 25, dataset: "all", rank: "distance" },
          NOW,
        );
        const [plans] = await pool.session!(async (tx) => {
          for (let i = 0; i < 8; i++) {
            assert.deepEqual(await tx.query(text, params), await db.query(text, params));
          }
          return await tx.query<{ generic: number; custom: number; workers: string }>(
            `select generic_plans::int as generic, custom_plans::int as custom,
                    current_setting('max_parallel_workers_per_gather') as workers
             from pg_prepared_statements where statement = $1`,
            [text],
          );
        });
        // PostgreSQL's default planned all 8 anew (the reusable plan of a "limit $4" looks dear).
        assert.deepEqual(plans, { generic: 8, custom: 0, workers: "0" });
        // The report functions plan their own queries for the filters given, as before.
        const modes = await pool.query<{ name: string; mode: string }>(
          `select p.proname as name, current_setting('plan_cache_mode') || ' / ' ||
                  array_to_string(p.proconfig, ',') as mode
           from pg_proc p join pg_namespace n on n.oid = p.pronamespace
           where (n.nspname = 'reporting' and p.proname like 'fn\\_%')
              or (n.nspname = 'tickets' and p.proname = 'inc_dashboard') order by 1`,
        );
        // The two dashboard functions are SQL wrappers of tickets.inc_dashboard, which plans.
        assert.deepEqual(modes, [
          { name: "fn_inc_dashboard", mode: null },
          { name: "fn_inc_dashboard_summary", mode: null },
          { name: "fn_team_performance", mode: "force_generic_plan / plan_cache_mode=auto" },
          { name: "fn_tickets_for_map", mode: "force_generic_plan / plan_cache_mode=auto" },
          { name: "inc_dashboard", mode: "force_generic_plan / plan_cache_mode=auto" },
        ]);
      } finally {
        await pool.close();
      }
    });

    test("a read on serve's pool waits for the first free connection, not behind a slow statement", async () => {
      await ready();
      const pool = servePool(2, 5000);
      const read = (text: string) =>
        readInOrder(pool, { timeoutMs: 5000 }, (tx) => tx.query(text)).then(() =>
          performance.now() - started
        );
      let started = 0;
      try {
        await Promise.all([pool.query(`select 1`), pool.query(`select 1`)]); // both connected
        started = performance.now();
        const [, long, , quick] = await Promise.all([
          read(`select pg_sleep(0.2)`),
          read(`select pg_sleep(1)`),
          read(`select pg_sleep(0.2)`),
          read(`select 1`),
        ]);
        // Sent to a busy connection, the quick read would have waited for the 1 s sleep.
        assert.ok(quick < long - 300, `quick ${quick} ms, long ${long} ms`);
      } finally {
        await pool.close();
      }
    });

    test("a client that leaves while its read runs has its statement stopped at once, logged 499", async () => {
      const { db } = await ready();
      const pool = servePool(1, 5000); // one connection: the next request takes the same session
      // The dashboard's read, made slow: a 4 s statement first, on the same session.
      const slow = (session: SqlSession): SqlSession =>
        Object.assign(Object.create(session) as SqlSession, {
          query: async (text: string, params?: readonly unknown[]) => {
            if (text.includes("fn_inc_dashboard")) {
              await session.query(`select pg_sleep(4), 'slow dashboard'`);
            }
            return await session.query(text, params);
          },
          cancel: () => session.cancel!(),
        });
      const slowed = Object.assign(slow(pool) as Database, {
        session: <T>(fn: (s: SqlSession) => Promise<T>) => pool.session!((s) => fn(slow(s))),
        transaction: <T>(fn: (s: SqlSession) => Promise<T>) => pool.transaction((s) => fn(slow(s))),
        listen: (channel: string, onEvent: () => void) => pool.listen(channel, onEvent),
      });
      const log: Record<string, unknown>[] = [];
      const other = await testServer(slowed, { log: (entry) => log.push(entry) });
      const running = async () => {
        const [row] = await db.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity
           where state = 'active' and pid <> pg_backend_pid() and query like '%''slow dashboard''%'`,
        );
        return row!.n;
      };
      const until = async (what: () => Promise<boolean>, ms: number) => {
        const deadline = performance.now() + ms;
        while (!(await what())) {
          if (performance.now() > deadline) return false;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return true;
      };
      try {
        const client = new AbortController();
        const asked = fetch(`http://127.0.0.1:${other.port}/api/dashboard?window=7d`, {
          signal: client.signal,
        }).catch(() => "left");
        assert.ok(await until(async () => (await running()) === 1, 3000), "the read never ran");
        client.abort();
        const left = performance.now();
        // Sent on the same connection right after: the cancel is not for it.
        const next = await fetch(`http://127.0.0.1:${other.port}/api/tickets?limit=1`);
        await next.body?.cancel();
        assert.equal(next.status, 200);
        assert.equal(await asked, "left");
        // Before: it ran on for the rest of its 4 s, its connection held for nobody.
        assert.ok(await until(async () => (await running()) === 0, 1500), "still running");
        const stoppedMs = performance.now() - left;
        assert.ok(
          await until(
            () =>
              Promise.resolve(
                log.some((l) => l.event === "request" && l.path === "/api/dashboard"),
              ),
            2000,
          ),
        );
        const line = log.find((l) => l.event === "request" && l.path === "/api/dashboard")!;
        assert.equal(line.status, 499, JSON.stringify(line));
        assert.equal(log.filter((l) => l.event === "request_failed").length, 0);
        assert.ok(stoppedMs < 1500, `stopped after ${stoppedMs} ms`);
      } finally {
        await other.shutdown();
        await pool.close();
      }
    });

    test("an unconditional read on the read-only pool is one statement when the version is remembered", async () => {
      await ready();
      const pool = servePool(2, 300);
      const statements: string[] = [];
      const record = (session: SqlSession): SqlSession =>
        Object.assign(Object.create(session) as SqlSession, {
          query: (text: string, params?: readonly unknown[]) => {
            statements.push(text);
            return session.query(text, params);
          },
        });
      const recorded = Object.assign(record(pool) as Database, {
        session: <T>(fn: (s: SqlSession) => Promise<T>) => pool.session!((s) => fn(record(s))),
        listen: (channel: string, onEvent: () => void) => pool.listen(channel, onEvent),
      });
      const versions = new VersionCache<DataVersion>(60_000);
      const other = await testServer(recorded, {
        versions,
        settings: { corsOrigins: [], statementTimeoutMs: 300, staleAfterHours: 2 },
      });
      // Listening starts with a forgetting (notifications before it are lost): wait for it.
      assert.equal(await other.listening, true);
      const path = "/api/nearest?lon=36.8219&lat=-1.2921&k=5";
      const fetchText = async (from: string) => {
        const response = await fetch(from);
        return { etag: response.headers.get("ETag"), body: await response.text() };
      };
      const reads = () => statements.filter((s) => s.includes("tickets.import_meta")).length;
      try {
        const first = await fetchText(`http://127.0.0.1:${other.port}${path}`);
        assert.equal(reads(), 1);
        statements.length = 0;
        const second = await fetchText(`http://127.0.0.1:${other.port}${path}`);
        assert.equal(statements.length, 1, statements.join("\n---\n"));
        assert.equal(reads(), 0);
        // The same tag as a read of the version, and the same body as another server's (whose
        // tags are its own: each counts the change notifications it heard).
        assert.deepEqual(second, first);
        assert.equal(second.body, (await fetchText(url(path))).body);
        versions.invalidate(); // what a change notification does
        statements.length = 0;
        await fetchText(`http://127.0.0.1:${other.port}${path}`);
        assert.equal(reads(), 1);
      } finally {
        await other.shutdown();
        await pool.close();
      }
    });

    test("a read-only pool whose server did not keep its settings goes back to transactions", async () => {
      const kept = await connectPostgresDatabase(b.url!, { max: 1, readOnlyTimeoutMs: 300 });
      const lost = createPostgresDatabase(b.url!, { max: 1, readOnlyTimeoutMs: 300 });
      try {
        assert.equal(kept.readOnlyTimeoutMs, 300);
        // What a pooler dropping startup parameters leaves: the server's own timeout.
        await lost.query(`set statement_timeout = 0`);
        await lost.checkReadOnly();
        assert.equal(lost.readOnlyTimeoutMs, undefined);
        await assert.rejects(
          readInOrder(lost, { timeoutMs: 300 }, (tx) => tx.query(`select pg_sleep($1)`, [2])),
          (error: Error & { code?: string }) => error.code === "57014",
        );
      } finally {
        await kept.close();
        await lost.close();
      }
    });

    test("report --by team prints the same table", async () => {
      await ready();
      let stdout = "";
      const code = await main([
        "report",
        "--by",
        "team",
        "--window",
        "custom",
        "--from",
        "2026-06-15",
        "--to",
        "2026-06-15",
      ], {
        env: (name) => name === "DATABASE_URL" ? b.url : undefined,
        stdout: (text) => stdout += text,
        stderr: () => {},
        terminal: { stdout: false, stderr: false },
        onSignal: () => () => {},
      });
      assert.equal(code, 0);
      assert.match(
        stdout,
        /Closure attribution by team, custom \(2026-06-15 \.\. 2026-06-15 EAT\)/,
      );
      // Closures are those of the window; the open backlog is as of the real clock (all breached).
      assert.match(stdout, /Team A\s+1\s+2\.0\s+2\.0\s+100\.0%\s+\d+\s+\d+\s+0\s+0\n/);
      assert.match(stdout, /Team B\s+1\s+10\.0\s+10\.0\s+0\.0%\s+3\s+2\s+0\s+0\n/);

      // A mistyped cluster gives an empty table: stderr says no ticket has it, and the closest.
      let stderr = "";
      const typo = await main(["report", "--by", "team", "--cluster", "Westlnds"], {
        env: (name) => name === "DATABASE_URL" ? b.url : undefined,
        stdout: () => {},
        stderr: (text) => stderr += text,
        terminal: { stdout: false, stderr: false },
        onSignal: () => () => {},
      });
      assert.equal(typo, 0);
      assert.match(
        stderr,
        /^No INC ticket has cluster "Westlnds": did you mean "Westlands"\? \(clusters: /,
      );
      // A flag (or a cluster) with control characters is written out (before: a raw ESC).
      stderr = "";
      await main(["report", "--by", "team", "--cluster", "X\x1b[2J\u202e"], {
        env: (name) => name === "DATABASE_URL" ? b.url : undefined,
        stdout: () => {},
        stderr: (text) => stderr += text,
        terminal: { stdout: false, stderr: false },
        onSignal: () => () => {},
      });
      assert.match(stderr, /^No INC ticket has cluster "X\\x1b\[2J\\u202e"/);
    });
  }

  test("ETag: a repeat is a 304 from memory, without a statement; a new file is heard at once", async () => {
    const { db, rec } = await ready();
    const versions = new VersionCache<DataVersion>(60_000); // only a notification can make it forget
    const remembering = await testServer(rec, { versions, log: (entry) => lines.push(entry) });
    try {
      assert.equal(await remembering.listening, true);
      const at = (path: string, etag?: string) =>
        fetch(`http://127.0.0.1:${remembering.port}${path}`, {
          headers: etag === undefined ? {} : { "If-None-Match": etag },
        });
      const path = "/api/tickets?dataset=inc&limit=2";
      const first = await at(path);
      const etag = first.headers.get("ETag")!;
      const before = (await first.json()).numberMatched;
      rec.statements.length = 0;
      const again = await at(path, etag);
      assert.equal(again.status, 304);
      assert.equal(again.headers.get("ETag"), etag);
      await again.body?.cancel();
      assert.deepEqual(rec.statements, []);
      // The drain's commit notifies; the remembered version is forgotten before any request.
      const heard = versions.invalidated();
      await load(db, "2026-06-15T11-55-00.csv", [ticket("NEWER_ONE", 0.1, {
        created_at_service: ago(1),
      })], INC_DATA);
      await heard;
      const changed = await at(path, etag);
      assert.equal(changed.status, 200);
      assert.notEqual(changed.headers.get("ETag"), etag);
      assert.equal((await changed.json()).numberMatched, before + 1);
    } finally {
      await remembering.shutdown();
    }
  });

  for (const ttlMs of [60_000, 0]) {
    test(`ETag: a history capture or a geometry change gets a new tag at once, though no file was applied (SERVE_VERSION_TTL ${ttlMs} ms)`, async () => {
      const { db, rec } = await ready();
      // 60 s: only a notification can make it forget. 0: nothing remembered, and the tags still
      // change (serve listens whatever the TTL; it did not listen with 0).
      const versions = new VersionCache<DataVersion>(ttlMs);
      const remembering = await testServer(rec, { versions, log: () => {} });
      const heard = async (change: () => Promise<unknown>) => {
        const invalidated = versions.invalidated();
        await change();
        const late = new Promise((_, reject) =>
          setTimeout(() => reject(new Error("serve heard no change within 5 s")), 5000)
        );
        await Promise.race([invalidated, late]);
      };
      try {
        assert.equal(await remembering.listening, true);
        const at = (path: string, etag?: string) =>
          fetch(`http://127.0.0.1:${remembering.port}${path}`, {
            headers: etag === undefined ? {} : { "If-None-Match": etag },
          });
        const tagOf = async (path: string) => {
          const response = await at(path);
          await response.body?.cancel();
          const etag = response.headers.get("ETag")!;
          const again = await at(path, etag);
          await again.body?.cancel();
          assert.equal(again.status, 304, path);
          return etag;
        };
        // A capture writes the day's snapshot: it was a 304 with the old backlog until the minute
        // in the tag rolled over.
        const backlog = await tagOf("/api/backlog");
        await heard(() => capture(db, { now: new Date(NOW.getTime() + 60_000) }));
        const captured = await at("/api/backlog", backlog);
        assert.equal(captured.status, 200);
        await captured.body?.cancel();
        // A ticket moved by geometry resolution (a gazetteer import, a geocoding run).
        const one = await tagOf("/api/tickets/UNMAPPED");
        await heard(() =>
          db.exec(`update tickets.inc set geom = st_setsrid(st_makepoint(36.8, -1.27), 4326),
                   geo_source = 'cluster' where ticket_id = 'UNMAPPED'`)
        );
        const moved = await at("/api/tickets/UNMAPPED", one);
        assert.equal(moved.status, 200);
        assert.deepEqual((await moved.json()).geometry.coordinates, [36.8, -1.27]);
      } finally {
        await db.exec(`update tickets.inc set geom = null, geo_source = 'none'
                     where ticket_id = 'UNMAPPED'`);
        await remembering.shutdown();
      }
    });
  }

  if (b.name === "postgres") { // the embedded database takes one process: these tests hold it
    test("on a terminal, serve's lines name its URL and escape control characters", async () => {
      await ready();
      let stdout = "";
      let signal: (name: string) => void = () => {};
      let stopped: Promise<number> = Promise.resolve(-1);
      const listening = new Promise<void>((resolve) => {
        const running = main(["serve", "--port", "0"], {
          env: (name) => name === "DATABASE_URL" ? b.url : undefined,
          stdout: (text) => {
            stdout += text;
            if (stdout.includes("listening")) resolve();
          },
          stderr: () => {},
          terminal: { stdout: true, stderr: false },
          onSignal: (handler) => {
            signal = handler;
            return () => {};
          },
        });
        stopped = running;
      });
      await listening;
      const [first] = stdout.split("\n");
      const at = first!.match(/^listening on (http:\/\/127\.0\.0\.1:(\d+)\/) /);
      assert.ok(at, first);
      assert.notEqual(at[2], "0");
      assert.match(
        first!,
        /\(database: PostgreSQL at [^ ]+ \(database "ft_test_\w+"\); token: none\)$/,
      );
      const evil = await fetch(`${at[1]}x%1B%5B31mRED%1B%5B0m`);
      await evil.body?.cancel();
      signal("SIGTERM");
      assert.equal(await stopped, 0);
      assert.ok(!stdout.includes("\x1b"), JSON.stringify(stdout));
      assert.match(stdout, /^GET \/x\\x1b\[31mRED\\x1b\[0m 404 [\d.]+ ms$/m);
      assert.match(stdout, /^stopping signal=SIGTERM inFlight=0$/m);
      assert.match(stdout, /^stopped$/m);
    });
  }

  test("stop: requests already sent when the stop comes are answered, not reset", async () => {
    const { db } = await ready();
    const own = await testServer(db);
    const marker = `.data/test-serve-sent-${crypto.randomUUID()}`;
    // Another process sends 6 requests and says when they are sent; each reads its answer.
    const client = `
      const conns = [];
      for (let i = 0; i < 6; i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: ${own.port} });
        await conn.write(new TextEncoder().encode("GET /api/tickets?open_only=false&offset=" + i +
          " HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n"));
        conns.push(conn);
      }
      await Deno.writeTextFile(${JSON.stringify(marker)}, "sent");
      const answers = await Promise.all(conns.map(async (conn) => {
        let text = "";
        const buffer = new Uint8Array(65536);
        try {
          for (let n; (n = await conn.read(buffer)) !== null;) {
            text += new TextDecoder().decode(buffer.subarray(0, n));
          }
        } catch (error) {
          return error.name;
        }
        return text.slice(0, 12) || "closed";
      }));
      console.log(JSON.stringify(answers));`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", client],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      // Hold the thread, as the embedded database does while it runs a query: the requests wait
      // in the kernel's accept queue, and the stop comes before any was accepted.
      const until = Date.now() + 30_000;
      while (Date.now() < until) {
        try {
          Deno.statSync(marker);
          break;
        } catch {
          // not sent yet
        }
      }
      const stopped = own.shutdown();
      const output = await child.output();
      await stopped;
      const answers = new TextDecoder().decode(output.stdout).trim();
      assert.deepEqual(
        JSON.parse(answers || "[]"),
        Array(6).fill("HTTP/1.1 200"),
        new TextDecoder().decode(output.stderr),
      );
    } finally {
      await Deno.remove(marker).catch(() => {});
    }
  });

  test("stop: the server drains and closes", async () => {
    await ready();
    await server!.shutdown();
    await b.close();
  });
}

Deno.test({
  name: "serve: health is 503 at once, every time, when the database's port answers but is not " +
    "PostgreSQL (another service took it), naming that",
  ...shared,
  fn: async () => {
    const other = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response("not a database"),
    );
    const db = createPostgresDatabase(
      `postgres://nobody:pw-never-shown@127.0.0.1:${other.addr.port}/none`,
      { connectTimeout: 30 },
    );
    const logged: Record<string, unknown>[] = [];
    const server = await testServer(db, {
      log: (entry) => logged.push(entry),
      redact: (text) => text.replaceAll("pw-never-shown", "***"),
    });
    try {
      for (let i = 0; i < 3; i++) {
        // Not after the 30 s connect timeout: postgres.js connected again and again for ever.
        const health = await fetch(`http://127.0.0.1:${server.port}/api/health`, {
          signal: AbortSignal.timeout(5000),
        });
        assert.equal(health.status, 503);
        assert.equal((await health.json()).ok, false);
      }
      const failed = logged.filter((entry) => entry.event === "health_failed");
      assert.equal(failed.length, 3);
      assert.match(String(failed[0]!.error), /the answer is not PostgreSQL's/);
      assert.ok(!JSON.stringify(logged).includes("pw-never-shown"));
    } finally {
      // Bounded: a request left waiting on the database would hold the shutdown for ever.
      const timer = new Promise((resolve) => setTimeout(resolve, 2000));
      await Promise.race([Promise.all([server.shutdown(), db.close(0)]), timer]);
      await other.shutdown();
    }
  },
});

removeTestDataAtEnd();
