// Geocoding end to end: a generated stream drained into the database, geocoded through real
// provider adapters against a fake provider on loopback, then resolved on the tickets.

import assert from "node:assert/strict";
import { COLUMNS, generateStream, renderCsv } from "../demo/generate_stream.ts";
import { CRQ, INC } from "../core/datasets.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { drain } from "../core/drain.ts";
import { exportGazetteer, importGazetteer } from "../core/gazetteer.ts";
import { FAILING_AFTER, geocode, resolveGeometry, UNREACHABLE_AFTER } from "../core/geocode.ts";
import { GeocoderError } from "../core/ports/mod.ts";
import { createLocationIqGeocoder } from "../adapters/locationiq_geocoder.ts";
import { createNominatimGeocoder } from "../adapters/nominatim_geocoder.ts";
import { createOpenCageGeocoder } from "../adapters/opencage_geocoder.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import type { Database } from "../core/ports/mod.ts";
import { runAfterApply } from "../core/run_after_apply.ts";
import { ingest } from "../core/ingest.ts";
import { readStatus } from "../core/read_status.ts";
import { backends, makeDirBucket, removeTestDataAtEnd, shared, writeFiles } from "./_harness.ts";
import { startFakeGeocoder } from "./_fake_geocoder.ts";
import { createRedactor } from "../app/redact.ts";
import { cli } from "./_cli.ts";

/** Where each generated cluster really is (and two aliases the feed uses). */
const CLUSTERS: Record<string, [number, number]> = {
  Westlands: [-1.2676, 36.8108],
  Kasarani: [-1.2219, 36.8972],
  Embakasi: [-1.319, 36.8943],
  Kilimani: [-1.2892, 36.785],
  Ruaka: [-1.209, 36.778],
  "Quarry Road": [-1.278, 36.835],
  Pipeline: [-1.316, 36.89],
  Karen: [-1.319, 36.707],
  Githurai: [-1.2, 36.913],
  Nyali: [-4.023, 39.709],
  Bamburi: [-3.99, 39.72],
  Likoni: [-4.08, 39.66],
  "Mombasa CBD": [-4.063, 39.673],
  Mtwapa: [-3.94, 39.745],
  "Kampala Central": [0.3136, 32.5811],
  Ntinda: [0.354, 32.616],
  Kololo: [0.33, 32.595],
  Nakawa: [0.33, 32.615],
};

/** A place answers near its cluster; "Bogani Road" lands in Mombasa (the wrong city). */
function answer(text: string): { lat: number; lon: number } | null {
  const parts = text.split(", ");
  const place = parts[0]!;
  if (place.includes("Bogani Road")) return { lat: -4.05, lon: 39.67 };
  if (place.includes("Taj Mall") || place.startsWith("Nowhere")) return null; // unknown
  const cluster = Object.keys(CLUSTERS).find((c) => parts.includes(c));
  if (!cluster) return null;
  const [lat, lon] = CLUSTERS[cluster]!;
  if (parts.length <= 3) return { lat, lon }; // a cluster query: "Cluster, City, Country"
  let h = 0;
  for (const ch of parts[0]!) h = (h * 31 + ch.charCodeAt(0)) % 1000;
  return { lat: lat + (h - 500) / 50_000, lon: lon + (h % 97 - 48) / 5000 };
}

const inc = generateStream({ dataset: "inc", tickets: 900, deltas: 2, seed: 41 });
const crq = generateStream({ dataset: "crq", tickets: 300, deltas: 1, seed: 42 });

async function load(db: Database) {
  const root = await makeDirBucket(inc.files);
  await writeFiles(root, crq.files, CRQ.changesPrefix);
  for (const dataset of [INC, CRQ]) {
    const r = await drain(createDirObjectStore(root), db, { dataset, apply: true });
    assert.equal(r.status, "ok", r.error);
  }
}

const noSleep = () => Promise.resolve();

/** LocationIQ's adapter pointed at a fake geocoder, without the waits between requests. */
const fakeLocationIq = (fake: { baseUrl: string }, apiKey = "good-key") =>
  createLocationIqGeocoder({ baseUrl: fake.baseUrl, apiKey, sleep: noSleep });

/**
 * Drains one INC file of open Nairobi tickets (`given` over empty columns) named in 2030: the
 * run's clock says it is then (a file named far ahead is set aside). Returns the folder, that
 * clock and the rows as written.
 */
async function drainOpen(db: Database, given: Record<string, string>[]) {
  const rows = given.map((r) => ({
    ...Object.fromEntries(COLUMNS.map((c) => [c, ""])),
    is_actionable: "true",
    is_alarm: "false",
    region: "Nairobi",
    ...r,
  }));
  const root = await makeDirBucket([{
    name: "2030-01-01T06-00-00.csv",
    text: renderCsv(COLUMNS, rows),
  }]);
  const clock = { now: () => new Date("2030-01-01T04:00:00Z") };
  await drain(createDirObjectStore(root), db, { dataset: INC, apply: true, clock });
  return { root, clock, rows };
}

/** A port on loopback that refuses connections (it was listening a moment ago). */
function refusedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  return listener.addr.port;
}

/** Rows in the cluster gazetteer. */
async function cachedClusters(db: Database): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `select count(*)::int as n from tickets.geo_clusters`,
  );
  return row!.n;
}

for (const b of backends()) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${b.name}] ${name}`, ...shared, fn });

  test("geocode() looks each distinct place up once, caches every outcome, and pays nothing on a second run", async () => {
    await b.reset();
    const db = await b.db();
    await load(db);
    const fake = startFakeGeocoder(answer);
    try {
      const geocoder = fakeLocationIq(fake);
      const plan = await geocode(db, undefined, { mode: "clusters" });
      assert.equal(plan.calls, 0);
      assert.ok(plan.toLookUp > 10);

      const clusters = await geocode(db, geocoder, { mode: "clusters", apply: true });
      assert.equal(clusters.calls, plan.toLookUp);
      assert.equal(fake.queries.length, plan.toLookUp);
      assert.ok(fake.queries.includes("Quarry Road, Nairobi, Kenya"), "QOA is Quarry Road");
      assert.ok(fake.queries.includes("Pipeline, Nairobi, Kenya"), "PTMP is Pipeline");
      assert.ok(fake.urls.every((u) => /^(ke|ug)$/.test(u.searchParams.get("countrycodes")!)));

      const locations = await geocode(db, geocoder, { mode: "locations", apply: true });
      console.log(
        `[${b.name}] figures: ${locations.tickets} open tickets share ${locations.places} places; ` +
          `${locations.calls} calls (${locations.hits} hits, ${locations.misses} misses, ` +
          `${locations.rejected} rejected); ${clusters.calls} cluster calls`,
      );
      assert.equal(locations.calls, locations.toLookUp);
      assert.ok(locations.tickets > locations.places, "tickets share places");
      assert.ok(locations.misses > 0, "Taj Mall is unknown to the provider");
      assert.ok(locations.rejected > 0, "Bogani Road answered in Mombasa");
      const [cached] = await db.query<{ n: number }>(
        `select count(*)::int as n from tickets.geo_locations where not verified`,
      );
      assert.equal(cached?.n, locations.calls, "every outcome cached, unverified");

      const calls = fake.queries.length;
      const again = await geocode(db, geocoder, { mode: "locations", apply: true });
      const againClusters = await geocode(db, geocoder, { mode: "clusters", apply: true });
      assert.equal(again.calls + againClusters.calls, 0);
      assert.equal(fake.queries.length, calls, "nothing paid twice");

      const retry = await geocode(db, geocoder, { mode: "locations", retryMisses: true });
      assert.equal(retry.toLookUp, locations.misses, "--retry-misses offers only the misses");

      const shares = await db.query<{ geo_source: string; n: number }>(
        `select geo_source, count(*)::int as n from tickets.inc where is_actionable group by 1 order by 1`,
      );
      console.log(`[${b.name}] open INC by geo_source: ${JSON.stringify(shares)}`);
      const by = Object.fromEntries(shares.map((s) => [s.geo_source, s.n]));
      assert.ok((by.location ?? 0) > 0 && (by.cluster ?? 0) > 0);
    } finally {
      await fake.close();
    }
  });

  test("geocode() rejects a result more than 25 km from the cluster centroid, saying how far", async () => {
    const db = await b.db();
    const [row] = await db.query<{ status: string; reason: string; distance_m: number }>(
      `select status, reason, distance_m from tickets.geo_locations where place like '%Bogani Road%'`,
    );
    assert.equal(row?.status, "rejected");
    assert.ok(row!.distance_m > 25_000);
    assert.match(row!.reason, /^\d+\.\d km from the cluster centroid \(limit 25 km\)/);
    const [ticket] = await db.query<{ geo_source: string }>(
      `select geo_source from tickets.inc where place like '%Bogani Road%' and is_actionable limit 1`,
    );
    assert.equal(ticket?.geo_source, "cluster", "a rejected place falls back to the centroid");
  });

  test("geometry resolves feed -> location -> cluster -> none, and follows gazetteer imports", async () => {
    const db = await b.db();
    const { root, clock, rows } = await drainOpen(db, [
      {
        ticket_id: "WOTGEO1",
        cluster: "Westlands",
        location_name: "ADR_MNT_Sarit Centre SDUS",
        latitude: "-1.25",
        longitude: "36.80",
      },
      { ticket_id: "WOTGEO2", cluster: "Westlands", location_name: "NW_SARIT_CENTRE_FDT03" },
      { ticket_id: "WOTGEO3", cluster: "Westlands", location_name: "Nowhere Known 7" },
      { ticket_id: "WOTGEO4", cluster: "", location_name: "Somewhere" },
      // 0,0 is no point (before: placed in the Gulf of Guinea, "feed"): the cluster's instead.
      { ticket_id: "WOTGEO5", cluster: "Westlands", latitude: "0", longitude: "0.0" },
      // Latitude and longitude swapped: 4,000 km from Westlands' centroid, passed over as a
      // geocoder's answer that far is (before: placed there, "feed", out of every dispatch).
      { ticket_id: "WOTGEO8", cluster: "Westlands", latitude: "36.80", longitude: "-1.25" },
      // 15 km from it: within the 25 km, kept.
      { ticket_id: "WOTGEO9", cluster: "Westlands", latitude: "-1.40", longitude: "36.81" },
    ]);
    const fake = startFakeGeocoder(answer);
    try {
      const geocoder = fakeLocationIq(fake);
      // Self-contained: clusters first (already cached when the file runs in order).
      await geocode(db, geocoder, { mode: "clusters", apply: true, datasets: [INC] });
      await geocode(db, geocoder, { mode: "locations", apply: true, datasets: [INC] });
    } finally {
      await fake.close();
    }
    const got = await db.query<
      { ticket_id: string; geo_source: string; latitude: number | null; metres: number | null }
    >(
      `select ticket_id, geo_source, latitude,
              round(st_distance(geog, st_setsrid(st_makepoint(36.8108, -1.2676), 4326)::geography))::int as metres
       from tickets.inc where ticket_id like 'WOTGEO%' order by 1`,
    );
    assert.deepEqual(got.map((g) => g.geo_source), [
      "feed",
      "location",
      "cluster",
      "none",
      "cluster",
      "cluster",
      "feed",
    ]);
    assert.equal(got[5]!.latitude, 36.8, "the latitude column still shows what the feed sent");
    assert.equal(got[0]!.latitude, -1.25);
    assert.ok(got[2]!.metres === 0, "the centroid of Westlands");
    assert.equal(got[3]!.latitude, null);

    // A reviewer pins "Nowhere Known 7" by hand: the ticket moves to it.
    const sheet = await exportGazetteer(db);
    assert.match(
      sheet.split("\n")[0]!,
      /^kind,cluster,place,lat,lon,source,status,verified,reason/,
    );
    const imported = await importGazetteer(
      db,
      `kind,cluster,place,lat,lon,verified\nlocation,Westlands,Nowhere Known 7,-1.2601,36.8031,true\n`,
    );
    assert.deepEqual(imported.errors, []);
    assert.deepEqual([imported.changed, imported.added], [1, 0], "a miss, pinned");
    assert.ok(imported.resolved >= 1);
    const [moved] = await db.query<{ geo_source: string; latitude: number }>(
      `select geo_source, latitude from tickets.inc where ticket_id = 'WOTGEO3'`,
    );
    assert.deepEqual(moved, { geo_source: "location", latitude: -1.2601 });
    const bad = await importGazetteer(
      db,
      `kind,cluster,place,lat,lon\nlocation,Westlands,X,95,36\n`,
    );
    assert.match(bad.errors[0]!.reason, /out of range/);
    assert.equal(bad.errors[0]!.line, 2);
    // Not a sheet at all (a text file, another CSV): refused naming why and what is expected.
    await assert.rejects(
      importGazetteer(db, "# Notes\n\nWestlands, Parklands, and Kilimani\n", { name: "notes.md" }),
      /^Error: Cannot read notes\.md: Invalid Record Length: .* \(expected a CSV with the header kind,cluster,place,lat,lon,/,
    );
    for (const other of ["a,b\n1,2\n", "a,b\n", "just one line of text\n"]) {
      await assert.rejects(
        importGazetteer(db, other),
        /^Error: Cannot read the gazetteer sheet: its header has no "kind", "cluster", "lat", "lon"/,
        JSON.stringify(other),
      );
    }

    // The next file brings a new ticket at a cached place: the post-apply step places it at
    // once, touching only the rows that file wrote.
    const later = "2030-01-01T06-20-00.csv";
    await writeFiles(root, [{
      name: later,
      text: renderCsv(COLUMNS, [{
        ...rows[1]!,
        ticket_id: "WOTGEO5",
      }]),
    }]);
    const next = await drain(createDirObjectStore(root), db, {
      dataset: INC,
      apply: true,
      clock,
    });
    assert.deepEqual(next.files.map((f) => f.status), ["applied"]);
    const after = await runAfterApply(db, INC);
    assert.deepEqual(after.errors, []);
    assert.equal(after.geometryResolved, 1, "only the row the new file wrote");
    const [placed] = await db.query<{ geo_source: string }>(
      `select geo_source from tickets.inc where ticket_id = 'WOTGEO5'`,
    );
    assert.equal(placed?.geo_source, "location");
    const none = await runAfterApply(db, INC);
    assert.equal(none.geometryResolved, 0, "a run that applied nothing resolves nothing");
    const unplaced = await db.query(
      `select from tickets.applied_files where dataset = 'inc' and placed_at is null`,
    );
    assert.equal(unplaced.length, 0, "every applied file is marked placed");

    // The feed stops sending WOTGEO1's coordinates and WOTGEO4 gets some: each moves, and a
    // ticket with nothing to place it by is not written at all.
    const third = "2030-01-01T06-40-00.csv";
    await writeFiles(root, [{
      name: third,
      text: renderCsv(COLUMNS, [
        { ...rows[0]!, latitude: "", longitude: "" },
        { ...rows[3]!, latitude: "-1.30", longitude: "36.75" },
        { ...rows[3]!, ticket_id: "WOTGEO6" },
      ]),
    }]);
    await drain(createDirObjectStore(root), db, { dataset: INC, apply: true, clock });
    const [before6] = await db.query<{ xmin: string }>(
      `select xmin::text from tickets.inc where ticket_id = 'WOTGEO6'`,
    );
    const moved2 = await runAfterApply(db, INC);
    assert.equal(moved2.geometryResolved, 2, "WOTGEO1 and WOTGEO4, not WOTGEO6");
    const sources = await db.query<
      { ticket_id: string; geo_source: string; latitude: number | null; xmin: string }
    >(
      `select ticket_id, geo_source, latitude, xmin::text as xmin from tickets.inc
       where ticket_id in ('WOTGEO1', 'WOTGEO4', 'WOTGEO6') order by 1`,
    );
    assert.equal(sources[0]!.geo_source, "location", "no coordinates: its place, cached");
    assert.deepEqual(sources.slice(1).map((s) => [s.geo_source, s.latitude]), [
      ["feed", -1.3],
      ["none", null],
    ]);
    assert.equal(sources[2]!.xmin, before6!.xmin, "not rewritten");
    // Its coordinates gone again, with no cached place or cluster: WOTGEO4 has no geometry.
    const fourth = "2030-01-01T07-00-00.csv";
    await writeFiles(root, [{ name: fourth, text: renderCsv(COLUMNS, [rows[3]!]) }]);
    await drain(createDirObjectStore(root), db, { dataset: INC, apply: true, clock });
    const cleared = await runAfterApply(db, INC);
    assert.equal(cleared.geometryResolved, 1);
    const [gone] = await db.query<{ geo_source: string; geom: string | null }>(
      `select geo_source, geom::text from tickets.inc where ticket_id = 'WOTGEO4'`,
    );
    assert.deepEqual(gone, { geo_source: "none", geom: null });
    assert.equal(await resolveGeometry(db, [INC]), 0, "a full pass finds nothing left to change");
  });

  test("a cluster's spellings (case, white space around it) share one lookup and one point", async () => {
    await b.reset();
    const db = await b.db();
    await drainOpen(db, [
      { ticket_id: "WOTKEY1", cluster: "Westlands" },
      { ticket_id: "WOTKEY2", cluster: "Westlands" },
      { ticket_id: "WOTKEY3", cluster: " westlands" },
      { ticket_id: "WOTKEY4", cluster: "WESTLANDS\t" },
      { ticket_id: "WOTKEY5", cluster: "\u00a0Westlands" },
    ]);
    const fake = startFakeGeocoder(answer);
    try {
      const geocoder = fakeLocationIq(fake);
      const run = await geocode(db, geocoder, { mode: "clusters", apply: true, datasets: [INC] });
      // Before: 4 lookups, one paid per spelling.
      assert.equal(run.calls, 1);
      assert.deepEqual(fake.queries, ["Westlands, Nairobi, Kenya"]);
    } finally {
      await fake.close();
    }
    // Before: only the two tickets that spell it "Westlands" were placed.
    const placed = await db.query<{ ticket_id: string; geo_source: string }>(
      `select ticket_id, geo_source from tickets.inc where ticket_id like 'WOTKEY%' order by 1`,
    );
    assert.deepEqual(placed.map((p) => p.geo_source), Array(5).fill("cluster"));
  });

  test("tickets of a file whose run stopped before placing them are placed by the next run, even one with nothing new", async () => {
    await b.reset();
    const db = await b.db();
    await db.query(
      `insert into tickets.geo_clusters (cluster, status, geom)
       values ('Westlands', 'hit', st_setsrid(st_makepoint(36.8108, -1.2676), 4326))`,
    );
    const ticket = (id: string) => ({
      ...Object.fromEntries(COLUMNS.map((c) => [c, ""])),
      ticket_id: id,
      is_actionable: "true",
      is_alarm: "false",
      cluster: "Westlands",
      location_name: "ADR_MNT_Sarit Centre SDUS",
    });
    const first = "2026-06-15T06-00-00.csv";
    const root = await makeDirBucket([{
      name: first,
      text: renderCsv(COLUMNS, [ticket("WOTSTOP1")]),
    }]);
    const source = () => createDirObjectStore(root);
    const geoSource = async (id: string) =>
      (await db.query<{ geo_source: string }>(
        `select geo_source from tickets.inc where ticket_id = $1`,
        [id],
      ))[0]?.geo_source;
    // What a run killed after the file's commit leaves: applied, archived, never placed.
    assert.equal((await drain(source(), db, { dataset: INC, apply: true })).status, "ok");
    assert.equal(await geoSource("WOTSTOP1"), "none");

    // The next run has nothing new, and still places it (it placed only its own files).
    const [next] = await ingest(source(), db, { datasets: [INC], apply: true });
    assert.deepEqual(next!.files, []);
    assert.deepEqual(next!.afterApply?.errors, []);
    assert.equal(next!.afterApply?.geometryResolved, 1);
    assert.equal(await geoSource("WOTSTOP1"), "cluster");

    // A geometry step that fails: the run's files stay applied, the run exits 1 (cli), its
    // record carries the error, status says failing, and the next good run places the tickets.
    const definition = await Deno.readTextFile(
      new URL("../definitions/91_resolve_applied_geometry.sql", import.meta.url),
    );
    await db.exec(
      `create or replace function tickets.resolve_applied_geometry(p_dataset text, p_table regclass)
      returns integer language plpgsql as $$ begin raise exception 'simulated failure'; end $$`,
    );
    await writeFiles(root, [{
      name: "2026-06-15T06-20-00.csv",
      text: renderCsv(COLUMNS, [ticket("WOTSTOP2")]),
    }]);
    try {
      const [failing] = await ingest(source(), db, { datasets: [INC], apply: true });
      assert.equal(failing!.status, "ok");
      assert.match(failing!.afterApply!.errors.join(), /resolve_geometry: .*simulated failure/);
      assert.equal(await geoSource("WOTSTOP2"), "none");
      const status = await readStatus(db, { datasets: [INC] });
      assert.equal(status.datasets[0]!.health, "failing");
      assert.match(
        status.datasets[0]!.reasons.join("\n"),
        /The last run applied its files: Post-apply steps failed \(the next run does them again\): resolve_geometry: .*simulated failure/,
      );
    } finally {
      await db.exec(definition);
    }
    const [healed] = await ingest(source(), db, { datasets: [INC], apply: true });
    assert.deepEqual(healed!.afterApply?.errors, []);
    assert.equal(await geoSource("WOTSTOP2"), "cluster");
    const after = await readStatus(db, { datasets: [INC] });
    assert.ok(
      !after.datasets[0]!.reasons.some((r) => r.includes("Post-apply")),
      after.datasets[0]!.reasons.join(),
    );
  });

  test("geocode() shares one budget across INC and CRQ and stops on a refused key, keeping the cache", async () => {
    await b.reset();
    const db = await b.db();
    await load(db);
    const fake = startFakeGeocoder(answer);
    try {
      const good = fakeLocationIq(fake);
      const first = await geocode(db, good, { mode: "clusters", apply: true, budget: 5 });
      assert.equal(first.calls, 5);
      assert.equal(first.stoppedBy, "budget of 5 calls");

      const secret = "sk-live-NEVER-SHOW-ME";
      const bad = fakeLocationIq(fake, secret);
      const refused = await geocode(db, bad, { mode: "clusters", apply: true });
      assert.equal(refused.stoppedBy, "provider");
      assert.equal(refused.calls, 1, "a refused key stops the run at once");
      assert.match(refused.error!, /LocationIQ refused the API key \(HTTP 401: Invalid key\)/);
      assert.ok(!refused.error!.includes(secret));
      const [kept] = await db.query<{ n: number }>(
        `select count(*)::int as n from tickets.geo_clusters`,
      );
      assert.equal(kept?.n, 5, "everything already cached is kept");
      const [leak] = await db.query<{ n: number }>(
        `select count(*)::int as n from tickets.geo_clusters g
         where row_to_json(g)::text like '%' || $1 || '%'`,
        [secret],
      );
      assert.equal(leak?.n, 0, "the key never reaches the database");

      if (b.url) {
        // As cron runs it: the refusal is on stderr too, not only in the report (exit 1).
        const r = await cli(["geocode", "--clusters", "--apply"], {
          DATABASE_URL: b.url,
          GEOCODER_BASE_URL: fake.baseUrl,
          GEOCODER_API_KEY: secret,
        });
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(
          r.stderr,
          /^Cannot geocode: stopped by provider: LocationIQ refused the API key \(HTTP 401: Invalid key\)/,
        );
        assert.ok(!(r.stdout + r.stderr).includes(secret));
      }
    } finally {
      await fake.close();
    }
  });

  test("a run in which every call fails (HTTP 400) says so and exits 1; one in which some fail exits 0", async () => {
    await b.reset();
    const db = await b.db();
    await load(db);
    const secret = "sk-live-NEVER-SHOW-ME";
    const fake = startFakeGeocoder(answer, { key: secret });
    const host = new URL(fake.baseUrl).host;
    try {
      const g = fakeLocationIq(fake, secret);
      fake.failWith = 400;
      const all = await geocode(db, g, { mode: "clusters", apply: true });
      assert.ok(all.toLookUp > FAILING_AFTER);
      assert.equal(all.calls, FAILING_AFTER, "a 400 is about one request: not 3 in a row, but 10");
      assert.equal(fake.queries.length, all.calls, "and not retried");
      assert.equal(all.failures, all.calls);
      assert.equal(all.stoppedBy, "provider failing");
      assert.equal(
        all.failed,
        `all ${all.calls} calls to LocationIQ at ${host} failed; ` +
          `the last: LocationIQ answered HTTP 400: Access restricted`,
      );
      assert.equal(await cachedClusters(db), 0, "a failed place is not cached");

      fake.failOnly = /Nairobi/;
      const some = await geocode(db, g, { mode: "clusters", apply: true });
      assert.ok(some.hits > 0 && some.failures > 0, JSON.stringify(some));
      assert.equal(some.failed, undefined);
      assert.match(some.error!, /HTTP 400/);

      if (b.url) {
        // As cron runs it (a subprocess needs a database it can reach: PostgreSQL only).
        await db.exec(`truncate tickets.geo_clusters`);
        const env = {
          DATABASE_URL: b.url,
          GEOCODER_BASE_URL: fake.baseUrl,
          GEOCODER_API_KEY: secret,
          GEOCODER_RATE: "100",
        };
        const partly = await cli(["geocode", "--clusters", "--apply"], env);
        assert.equal(partly.code, 0, partly.stdout + partly.stderr);
        assert.match(partly.stdout, /\n {2}LocationIQ answered HTTP 400: Access restricted\n$/);
        fake.failOnly = null; // the places left (Nairobi's) fail again: every call of the run
        const failed = await cli(["geocode", "--clusters", "--apply"], env);
        assert.equal(failed.code, 1, failed.stdout + failed.stderr);
        assert.match(
          failed.stderr,
          new RegExp(
            `^Cannot geocode: all \\d+ calls to LocationIQ at ${host} failed; the last: ` +
              `LocationIQ answered HTTP 400: Access restricted; ` +
              `check GEOCODER_BASE_URL and GEOCODER_API_KEY\n$`,
          ),
        );
        assert.ok(!(failed.stdout + failed.stderr).includes(secret));
        // The day's quota is waited out, not a setting to check (before: the same words).
        const failWith = fake.failWith;
        fake.failWith = 402;
        const limited = await cli(["geocode", "--clusters", "--apply"], env);
        fake.failWith = failWith;
        assert.equal(limited.code, 1, limited.stdout + limited.stderr);

        // A second run while one looks places up (cron overlapping a long run) looks nothing up:
        // before, both paid for every place.
        const holder = createPostgresDatabase(b.url);
        try {
          assert.equal(await holder.tryLock("fleettickets:geocode"), true);
          const asked = fake.queries.length;
          const second = await cli(["geocode", "--clusters", "--apply"], env);
          assert.equal(second.code, 0, second.stdout + second.stderr);
          assert.match(
            second.stdout,
            /^Another geocode run holds the lock \(two at once would pay for the same places twice\): nothing was looked up; rerun once it has finished\n$/,
          );
          assert.equal(fake.queries.length, asked, "no call made");
          const json = await cli(["geocode", "--clusters", "--apply", "--json"], env);
          assert.equal(JSON.parse(json.stdout).status, "locked"); // before: the text line
          // Nothing on stderr for a run the lock skipped.
          assert.equal(json.stderr, "");
        } finally {
          await holder.close();
        }
        // SIGTERM while a request is in flight: its answer, paid for, is waited for and stored
        // (before: the 5 s grace ended the process first, the answer lost).
        await db.exec(`truncate tickets.geo_clusters`);
        fake.failWith = 0;
        fake.delayMs = 7000;
        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "-P=worker", "--quiet", "main.ts", "geocode", "--clusters", "--apply"],
          env: { PATH: Deno.env.get("PATH") ?? "", ...env },
          clearEnv: true,
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const before = fake.queries.length;
        while (fake.queries.length === before) await new Promise((r) => setTimeout(r, 20));
        child.kill("SIGTERM");
        const stopped = await child.output();
        fake.delayMs = 0;
        const said = new TextDecoder().decode(stopped.stdout) +
          new TextDecoder().decode(stopped.stderr);
        assert.equal(stopped.code, 1, said);
        assert.match(said, /stopped by signal/);
        assert.equal(await cachedClusters(db), 1, said);
        // A budget is a whole number of calls (before: 1.5 made 2), and .env.example's
        // placeholder key is not sent.
        const half = await cli(["geocode", "--clusters", "--apply", "--budget", "1.5"], env);
        assert.equal(half.code, 2, half.stderr);
        assert.match(half.stderr, /^Cannot read --budget "1\.5": expected a whole number of calls/);
        const placeholder = await cli(["geocode", "--clusters", "--apply"], {
          ...env,
          GEOCODER_API_KEY: "CHANGE_ME",
        });
        assert.equal(placeholder.code, 2, placeholder.stderr);
        assert.match(
          placeholder.stderr,
          /^Cannot geocode with --apply: GEOCODER_API_KEY is still \.env\.example's placeholder; set your locationiq key/,
        );
        assert.match(
          limited.stderr,
          /^Cannot geocode: stopped by provider: LocationIQ says the quota is exhausted .*; the provider's rate limit or quota: the next run goes on once it resets; lower GEOCODER_RATE or GEOCODER_BUDGET, or raise the plan's limits\n$/,
        );
      }
    } finally {
      await fake.close();
    }
  });

  test("the scheduled geocode (scripts/run_geocode.sh) looks up clusters, then places, within one budget, and places the tickets", async () => {
    await b.reset();
    const db = await b.db();
    if (!b.url) return; // a subprocess needs a database it can reach: PostgreSQL only
    await load(db);
    const fake = startFakeGeocoder(answer, { key: "good-key" });
    const env = {
      PATH: `${Deno.execPath().replace(/\/[^/]*$/, "")}:${Deno.env.get("PATH") ?? ""}`,
      HOME: Deno.env.get("HOME") ?? "",
      DATABASE_URL: b.url,
      GEOCODER_BASE_URL: fake.baseUrl,
      GEOCODER_API_KEY: "good-key",
      GEOCODER_RATE: "100",
    };
    const run = async (args: string[] = [], extra: Record<string, string> = {}) => {
      const output = await new Deno.Command("bash", {
        args: ["scripts/run_geocode.sh", ...args],
        env: { ...env, ...extra },
        clearEnv: true,
      }).output();
      const text = (b: Uint8Array) => new TextDecoder().decode(b);
      return { code: output.code, stdout: text(output.stdout), stderr: text(output.stderr) };
    };
    try {
      const clusters = await geocode(db, undefined, { mode: "clusters" });
      // The dry run of both modes says why no location is to look up yet (before: "0 to look
      // up", as if there were nothing to do).
      const plan = await cli(["geocode", "--clusters", "--locations"], env);
      assert.equal(plan.code, 0, plan.stderr);
      assert.match(
        plan.stdout,
        /\nlocations: .*; 0 cached, 0 to look up, \d+ waiting for a cluster centroid \(looked up once the clusters are: --apply does both\) \(dry run/,
      );
      // A budget smaller than the clusters alone: the run stops there, places wait.
      const small = await run([], { GEOCODER_BUDGET: "5" });
      assert.equal(small.code, 0, small.stdout + small.stderr);
      const [first, second] = small.stdout.trim().split("\n");
      assert.match(
        first!,
        /^clusters: .*; 5 calls to locationiq: .*; stopped by budget of 5 calls$/,
      );
      assert.match(
        second!,
        // The run's budget, spent by the clusters (it said "budget of 0 calls", what was left);
        // the places of the clusters it did not reach wait, saying why.
        /^locations: .* waiting for a cluster centroid \(their cluster has no accepted point yet: the clusters stopped by budget of 5 calls; a miss or a rejected answer: place it with gazetteer import, kind cluster, status manual\); 0 calls to locationiq: .*; stopped by budget of 5 calls$/,
      );
      assert.equal(fake.queries.length, 5);
      // The default budget (300) covers the rest: every cluster, then the places.
      const full = await run();
      assert.equal(full.code, 0, full.stdout + full.stderr);
      assert.match(full.stdout, /^clusters: .*; \d+ calls to locationiq: /);
      assert.match(
        full.stdout,
        /\nlocations: .*; \d+ calls to locationiq: .* \d+ tickets re-resolved/,
      );
      assert.equal(await cachedClusters(db), clusters.toLookUp);
      const [placed] = await db.query<{ n: number }>(
        `select count(*)::int as n from tickets.inc where is_actionable and geo_source = 'location'`,
      );
      assert.ok(placed!.n > 0, "open tickets placed at their address");
      const again = await run();
      assert.match(again.stdout, /^clusters: .*; 0 calls to locationiq/, "nothing paid twice");
    } finally {
      await fake.close();
    }
  });

  test(`a refused port stops the run after ${UNREACHABLE_AFTER} places (1 request each: it never answered), caching nothing, and exits 1`, async () => {
    await b.reset();
    const db = await b.db();
    await load(db);
    const port = refusedPort();
    const secret = "sk-live-NEVER-SHOW-ME";
    let attempts = 0;
    const g = createLocationIqGeocoder({
      baseUrl: `http://127.0.0.1:${port}`,
      apiKey: secret,
      redact: createRedactor([secret]),
      fetch: (input, init) => (attempts++, fetch(input, init)),
      sleep: noSleep,
    });
    const report = await geocode(db, g, { mode: "clusters", apply: true });
    assert.ok(report.toLookUp > UNREACHABLE_AFTER);
    assert.equal(report.stoppedBy, "provider unreachable");
    assert.equal(report.calls, UNREACHABLE_AFTER);
    // Before: 3 attempts a place with backoff, ~40 s at 1 request/s against a mistyped port.
    assert.equal(attempts, UNREACHABLE_AFTER, "1 request a place");
    assert.match(
      report.error!,
      /^LocationIQ did not answer: .*refused.* \(not retried: no answer from it yet in this run\)$/i,
    );
    assert.equal(
      report.failed,
      `all ${UNREACHABLE_AFTER} calls to LocationIQ at 127.0.0.1:${port} failed; the last: ${report.error}`,
    );
    assert.ok(!report.error!.includes(secret));
    assert.equal(await cachedClusters(db), 0, "nothing is written for a place that failed");

    if (b.url) {
      const r = await cli(["geocode", "--clusters", "--apply"], {
        DATABASE_URL: b.url,
        GEOCODER_BASE_URL: `http://127.0.0.1:${port}`,
        GEOCODER_API_KEY: secret,
        GEOCODER_RATE: "100", // backoff scales with the pace: 40 and 80 ms
      });
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, /; stopped by provider unreachable\n/);
      assert.match(
        r.stderr,
        new RegExp(`^Cannot geocode: all 3 calls to LocationIQ at 127\\.0\\.0\\.1:${port} failed`),
      );
      assert.ok(!(r.stdout + r.stderr).includes(secret));
    }
  });

  test("a provider that answered in this run and then stops answering is retried 3 times a place", async () => {
    await b.reset();
    const db = await b.db();
    await load(db);
    const port = refusedPort();
    let attempts = 0;
    const g = createLocationIqGeocoder({
      baseUrl: `http://127.0.0.1:${port}`,
      apiKey: "key",
      // The first request is answered (no match), every later one finds the port closed.
      fetch: (input, init) =>
        attempts++ === 0
          ? Promise.resolve(Response.json({ error: "Unable to geocode" }, { status: 404 }))
          : fetch(input, init),
      sleep: noSleep,
    });
    const report = await geocode(db, g, { mode: "clusters", apply: true });
    assert.equal(report.stoppedBy, "provider unreachable");
    assert.equal(report.calls, 1 + UNREACHABLE_AFTER);
    assert.equal(attempts, 1 + UNREACHABLE_AFTER * 3, "3 attempts a place once it has answered");
    assert.match(report.error!, /refused.* \(gave up after 3 attempts\)$/i);
  });

  test("nearest open tickets to a vehicle: KNN on geog uses the GiST index and returns metres", async () => {
    await b.reset();
    const db = await b.db();
    const big = generateStream({ dataset: "inc", tickets: 5000, deltas: 0, seed: 43 });
    const root = await makeDirBucket(big.files);
    await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    const fake = startFakeGeocoder(answer);
    try {
      const g = fakeLocationIq(fake);
      await geocode(db, g, { mode: "clusters", apply: true });
      await geocode(db, g, { mode: "locations", apply: true });
    } finally {
      await fake.close();
    }
    await db.exec(`analyze tickets.inc`);
    const vehicle = `st_setsrid(st_makepoint(36.8219, -1.2921), 4326)::geography`; // Nairobi CBD
    const knn = `select ticket_id, round(st_distance(geog, ${vehicle}))::int as metres
                 from tickets.inc where geog is not null order by geog <-> ${vehicle} limit 10`;
    const plan = (await db.query<Record<string, string>>(`explain ${knn}`))
      .map((r) => Object.values(r)[0]).join("\n");
    assert.match(plan, /Index Scan using inc_geog_idx/, plan);
    const nearest = await db.query<{ ticket_id: string; metres: number }>(knn);
    assert.equal(nearest.length, 10);
    const metres = nearest.map((n) => n.metres);
    assert.deepEqual(metres, [...metres].sort((x, y) => x - y), "nearest first");
    assert.ok(metres[0]! < 10_000, `within 10 km of the CBD: ${metres[0]} m`);
  });

  test("a provider's point off the globe or outside the countries asked for is rejected, and one off the globe is kept nowhere", async () => {
    // Before: a cluster of a region with no city centre (Thika, "central") took lat 123.456,
    // lon 536.8 as a hit: stored, served as GeoJSON, and found by dispatch from the Bering Sea.
    await b.reset();
    const db = await b.db();
    const { root } = await drainOpen(db, [
      { ticket_id: "WOTOFF1", cluster: "Thika", region: "central", location_name: "Thika Mall" },
      { ticket_id: "WOTOFF2", cluster: "Kisumu", region: "" },
    ]);
    const fake = startFakeGeocoder((text) =>
      text.startsWith("Thika") ? { lat: 123.456, lon: 536.8 } : { lat: 51.5074, lon: -0.1278 }
    );
    try {
      const geocoder = fakeLocationIq(fake);
      const clusters = await geocode(db, geocoder, {
        mode: "clusters",
        apply: true,
        datasets: [INC],
      });
      assert.deepEqual([clusters.hits, clusters.rejected], [0, 2]);
      await geocode(db, geocoder, { mode: "locations", apply: true, datasets: [INC] });
    } finally {
      await fake.close();
    }
    const stored = await db.query<
      { cluster: string; status: string; reason: string; lat: number | null }
    >(
      `select cluster, status, reason, st_y(geom) as lat from tickets.geo_clusters order by 1`,
    );
    assert.deepEqual(stored.map((r) => [r.cluster, r.status, r.lat]), [
      ["Kisumu", "rejected", 51.5074],
      ["Thika", "rejected", null],
    ]);
    assert.match(
      stored[0]!.reason,
      /^the provider's point 51\.5074, -0\.1278 is outside Kenya or Uganda: /,
    );
    assert.match(stored[1]!.reason, /^the provider's point 123\.456, 536\.8 is off the globe: /);
    const placed = await db.query<{ ticket_id: string; geo_source: string }>(
      `select ticket_id, geo_source from tickets.inc where ticket_id like 'WOTOFF%' order by 1`,
    );
    assert.deepEqual(placed.map((p) => [p.ticket_id, p.geo_source]), [
      ["WOTOFF1", "none"],
      ["WOTOFF2", "none"],
    ]);
    await Deno.remove(root, { recursive: true });
  });

  test("close the shared database", () => b.close());
}

Deno.test("LocationIQ adapter: 404 'Unable to geocode' is a miss; per-second 429 backs off and retries; per-minute waits for the next minute; 'Rate Limited Day' stops", async () => {
  const fake = startFakeGeocoder(answer);
  const sleeps: number[] = [];
  try {
    const waits: string[] = [];
    const g = createLocationIqGeocoder({
      baseUrl: fake.baseUrl,
      apiKey: "good-key",
      sleep: (ms) => (sleeps.push(ms), Promise.resolve()),
      onWait: (text) => waits.push(text),
    });
    assert.deepEqual(
      await g.search({ text: "Taj Mall, Pipeline, Nairobi, Kenya", countryCodes: ["ke"] }),
      {
        kind: "miss",
      },
    );
    fake.throttleNext = 2;
    const hit = await g.search({ text: "Westlands, Nairobi, Kenya", countryCodes: ["ke"] });
    assert.equal(hit.kind, "hit");
    assert.equal(fake.queries.length, 4, "two throttled attempts, then the answer");
    assert.ok(sleeps.filter((ms) => ms >= 1000).length >= 2, "each retry waited at least 1 s");
    // The minute's allowance gone (the free plan: 60 a minute): wait for the next minute, twice
    // at most, without using up the lookup's 3 attempts; a third time it is given up.
    sleeps.length = 0;
    fake.throttleMinuteNext = 4;
    const later = await g.search({ text: "Kilimani, Nairobi, Kenya", countryCodes: ["ke"] });
    assert.equal(later.kind, "hit");
    assert.deepEqual(sleeps.filter((ms) => ms >= 60_000), [60_000, 60_000]);
    // Each minute's wait is said first (before: up to 2 minutes without a word).
    assert.deepEqual(
      waits,
      [1, 2].map((n) =>
        `LocationIQ limits requests per minute: waiting 60 s for the next minute (${n} of 2 for this place)`
      ),
    );
    assert.equal(
      fake.throttleMinuteNext,
      0,
      "2 waits, then 2 attempts throttled, the third answered",
    );
    // Still limited after that: the run stops (terminal), where each later place would wait as
    // long (before: not terminal, 10 places in a row, ~21 minutes without a word).
    fake.throttleMinuteNext = 5;
    await assert.rejects(
      () => g.search({ text: "Kilimani, Nairobi, Kenya", countryCodes: ["ke"] }),
      (e) =>
        e instanceof GeocoderError && e.terminal &&
        /Rate Limited Minute \(gave up after 2 minutes of waiting and 3 attempts\): the per-minute limit held$/
          .test(e.message),
    );
    fake.throttleMinuteNext = 0;
    fake.failWith = 429;
    await assert.rejects(
      () => g.search({ text: "Westlands, Nairobi, Kenya", countryCodes: ["ke"] }),
      (e) => e instanceof GeocoderError && e.terminal && /quota is exhausted/.test(e.message),
    );
  } finally {
    await fake.close();
  }
});

Deno.test("a request that times out is not retried (it may have been counted): one attempt, then a transient error", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn); // accepts, never answers
  })();
  let attempts = 0;
  try {
    const g = createLocationIqGeocoder({
      baseUrl: `http://127.0.0.1:${listener.addr.port}`,
      apiKey: "good-key",
      timeoutMs: 100,
      fetch: (input, init) => (attempts++, fetch(input, init)),
      sleep: noSleep,
    });
    await assert.rejects(
      () => g.search({ text: "Westlands, Nairobi, Kenya", countryCodes: ["ke"] }),
      (e) =>
        e instanceof GeocoderError && !e.terminal && e.status === undefined &&
        e.message === "LocationIQ did not answer within 0.1 s",
    );
    assert.equal(attempts, 1);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  }
});

Deno.test("OpenCage adapter: empty results are a miss; 402 quota and 403 are terminal", async () => {
  const fake = startFakeGeocoder(answer);
  try {
    const g = createOpenCageGeocoder({ baseUrl: fake.baseUrl, apiKey: "good-key", sleep: noSleep });
    assert.deepEqual(await g.search({ text: "Taj Mall, Pipeline", countryCodes: ["ke"] }), {
      kind: "miss",
    });
    const hit = await g.search({
      text: "Ntinda, Kampala, Uganda",
      countryCodes: ["ug"],
      near: { lat: 0.35, lon: 32.6 },
    });
    assert.deepEqual(hit.kind === "hit" && [hit.lat, hit.lon], [0.354, 32.616]);
    assert.equal(fake.urls.at(-1)!.searchParams.get("proximity"), "0.35,32.6");
    for (const status of [402, 403]) {
      fake.failWith = status;
      await assert.rejects(
        () => g.search({ text: "Ntinda, Kampala, Uganda", countryCodes: ["ug"] }),
        (e) => e instanceof GeocoderError && e.terminal && e.status === status,
      );
    }
  } finally {
    await fake.close();
  }
});

Deno.test("Nominatim adapter: identifying User-Agent, never faster than 1 request/s (counted, not timed)", async () => {
  const fake = startFakeGeocoder(answer);
  const sleeps: number[] = [];
  let clock = 0;
  try {
    const g = createNominatimGeocoder({
      baseUrl: fake.baseUrl,
      rate: 10, // asked for more than the policy allows
      now: () => clock,
      sleep: (ms) => {
        sleeps.push(ms);
        clock += ms;
        return Promise.resolve();
      },
    });
    for (const place of ["Kololo", "Ntinda", "Nakawa", "Kololo"]) {
      await g.search({ text: `${place}, Kampala, Uganda`, countryCodes: ["ug"] });
    }
    assert.equal(fake.queries.length, 4);
    assert.ok(fake.userAgents.every((ua) => ua.startsWith("fleettickets/")));
    assert.deepEqual(sleeps, [1000, 1000, 1000], "one second between request starts");
  } finally {
    await fake.close();
  }
});

Deno.test("Nominatim gets a key only at a GEOCODER_BASE_URL service, never at the public OpenStreetMap server", async () => {
  for (
    const [baseUrl, sent] of [[undefined, false], ["https://geo.example.co.ke", true]] as const
  ) {
    const asked: URL[] = [];
    const geocoder = createNominatimGeocoder({
      apiKey: "locationiq-key-left-over",
      baseUrl,
      fetch: (url) => {
        asked.push(new URL(String(url)));
        return Promise.resolve(Response.json([{ lat: "-1.26", lon: "36.80", display_name: "x" }]));
      },
    });
    await geocoder.search({ text: "Sarit Centre, Nairobi", countryCodes: ["ke"] });
    assert.equal(asked[0]?.searchParams.has("key"), sent, String(asked[0]));
  }
});

/** Each provider's adapter, by name. */
const PROVIDERS = {
  locationiq: createLocationIqGeocoder,
  opencage: createOpenCageGeocoder,
  nominatim: createNominatimGeocoder,
} as const;

Deno.test("the configured geocoder never leaks its key when a provider echoes the request URL, in any encoding", async () => {
  const key = "geo~key!s3cret(1)";
  for (const provider of ["locationiq", "opencage", "nominatim"] as const) {
    const echo: typeof fetch = (input) => {
      const url = String(input);
      const body = JSON.stringify({ error: `Invalid request: ${url} (${decodeURI(url)})` });
      return Promise.resolve(new Response(body, { status: 400 }));
    };
    const options = { apiKey: key, redact: createRedactor([key]), fetch: echo, sleep: noSleep };
    const g = PROVIDERS[provider](options);
    const error = await g.search({ text: "Sarit Centre, Nairobi", countryCodes: ["ke"] })
      .then(() => undefined, (e: Error) => e);
    assert.ok(error instanceof GeocoderError, provider);
    assert.match(error.message, /Invalid request/);
    for (const form of [key, encodeURIComponent(key), "geo%7Ekey%21s3cret%281%29", "s3cret"]) {
      assert.ok(!error.message.includes(form), `${provider} leaked "${form}": ${error.message}`);
    }
  }
});

Deno.test("a hit whose label echoes the request URL is kept without the key: the label is cached and shown", async () => {
  const key = "geo~key!s3cret(1)";
  for (const provider of ["locationiq", "opencage", "nominatim"] as const) {
    const echo: typeof fetch = (input) => {
      const label = `Sarit Centre (asked ${String(input)}; ${decodeURI(String(input))})`;
      const body = provider === "opencage"
        ? { results: [{ geometry: { lat: -1.2611, lng: 36.8027 }, formatted: label }] }
        : [{ lat: "-1.2611", lon: "36.8027", display_name: label }];
      return Promise.resolve(Response.json(body));
    };
    const options = { apiKey: key, redact: createRedactor([key]), fetch: echo, sleep: noSleep };
    const g = PROVIDERS[provider](options);
    const answer = await g.search({ text: "Sarit Centre, Nairobi", countryCodes: ["ke"] });
    assert.equal(answer.kind, "hit", provider);
    const label = answer.kind === "hit" ? answer.label : "";
    assert.match(label, /^Sarit Centre \(asked /, provider);
    // Before: the label went as given into geo_clusters.reason / geo_locations.reason.
    for (const form of [key, encodeURIComponent(key), "geo%7Ekey%21s3cret%281%29", "s3cret"]) {
      assert.ok(!label.includes(form), `${provider} kept "${form}": ${label}`);
    }
  }
});

removeTestDataAtEnd();
