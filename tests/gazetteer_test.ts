// The gazetteer review sheet: what `gazetteer export` writes, and the round trip: `gazetteer
// import` of the sheet changes only the rows a reviewer edited or added; the provider's answers
// stay the provider's.

import assert from "node:assert/strict";
import { exportGazetteer, importGazetteer } from "../core/gazetteer.ts";
import type { Database } from "../core/ports/mod.ts";
import { backends, removeTestDataAtEnd, shared } from "./_harness.ts";
import { cleanUpScratchDirsAtEnd, cli, scratchDir } from "./_cli.ts";

/** A provider's coordinate as it comes (more digits than the sheet shows). */
const SARIT = { lat: -1.2676 + 0.00234, lon: 36.8108 - 0.0123456789 };

/** One of each: provider hits (cluster and place), a miss, a wrong-city rejection, a curated row. */
async function seed(db: Database): Promise<void> {
  await db.exec(`
    insert into tickets.geo_clusters
      (cluster, query, status, geom, provider, reason, distance_m, verified, looked_up_at)
    values
      ('Westlands', 'Westlands, Nairobi, Kenya', 'hit',
       st_setsrid(st_makepoint(36.8107964, -1.2675981), 4326), 'locationiq', 'Westlands, Nairobi',
       4120, false, '2026-11-29T07:12:00Z'),
      ('Kasarani', 'Kasarani, Nairobi, Kenya', 'miss', null, 'locationiq', null, null, false,
       '2026-11-29T07:12:01.250Z');
    insert into tickets.geo_locations
      (cluster, place, query, status, geom, provider, reason, distance_m, verified, looked_up_at)
    values
      ('Westlands', 'Sarit Centre', 'Sarit Centre, Westlands, Nairobi, Kenya', 'hit',
       st_setsrid(st_makepoint(${SARIT.lon}, ${SARIT.lat}), 4326), 'locationiq',
       'Sarit Centre, Nairobi', 310, false, '2026-11-29T07:13:00Z'),
      ('Westlands', 'Bogani Road', 'Bogani Road, Westlands, Nairobi, Kenya', 'rejected',
       st_setsrid(st_makepoint(39.67, -4.05), 4326), 'locationiq',
       '441.2 km from the cluster centroid (limit 25 km): Bogani Road, Mombasa', 441213, false,
       '2026-11-29T07:14:00Z'),
      ('Kilimani', 'Yaya Centre', null, 'manual', st_setsrid(st_makepoint(36.7869, -1.2926), 4326),
       'manual', 'pinned by the Kilimani team', null, true, '2026-11-20T09:00:00Z');
  `);
}

/** Open INC tickets at these (cluster, location_name) places, so the rows for them place one. */
async function ticketsAt(db: Database, places: [string, string][]): Promise<void> {
  for (const [i, [cluster, location_name]] of places.entries()) {
    const id = `WOTPL${i}`;
    await db.query(
      `insert into tickets.inc (ticket_id, raw, source_file) values ($1, $2::text::jsonb, 'x.csv')`,
      [id, JSON.stringify({ ticket_id: id, cluster, location_name, is_actionable: "true" })],
    );
  }
}

/** Every gazetteer row as the database holds it (geometry as text, times to the microsecond). */
async function snapshot(db: Database): Promise<Record<string, unknown>[]> {
  return await db.query(
    `select 'cluster' as kind, cluster, '' as place, status, provider, reason, verified,
            st_astext(geom) as geom, looked_up_at::text as looked_up_at
     from tickets.geo_clusters
     union all
     select 'location', cluster, place, status, provider, reason, verified, st_astext(geom),
            looked_up_at::text
     from tickets.geo_locations
     order by 1, 2, 3`,
  );
}

/** The sheet with one cell replaced (`place` names the row: its cluster or its place). */
function edit(sheet: string, place: string, column: string, value: string): string {
  const lines = sheet.split("\n");
  const header = lines[0]!.split(",");
  const at = header.indexOf(column);
  const i = lines.findIndex((l) => {
    const cells = l.split(",");
    return cells[2] === place || (cells[0] === "cluster" && cells[1] === place);
  });
  assert.ok(at >= 0 && i > 0, `${place}.${column}`);
  const cells = lines[i]!.split(",");
  cells[at] = value;
  lines[i] = cells.join(",");
  return lines.join("\n");
}

for (const b of backends()) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${b.name}] ${name}`, ...shared, fn });

  test("gazetteer export writes looked_up_at in EAT (+03:00), as every time fleettickets prints", async () => {
    await b.reset();
    const db = await b.db();
    await seed(db);
    const lines = (await exportGazetteer(db)).split("\n");
    assert.equal(
      lines[0],
      "kind,cluster,place,lat,lon,source,status,verified,reason,distance_m,query,looked_up_at",
    );
    assert.match(
      lines.find((l) => l.startsWith("cluster,Westlands,"))!,
      /,2026-11-29T10:12:00\+03:00$/,
    );
    assert.match(
      lines.find((l) => l.startsWith("cluster,Kasarani,"))!,
      /,2026-11-29T10:12:01\+03:00$/,
    );
    assert.match(lines.find((l) => l.includes(",Yaya Centre,"))!, /,2026-11-20T12:00:00\+03:00$/);
  });

  test("gazetteer export writes coordinates to 6 decimals (about 0.1 m), as the import compares them", async () => {
    const db = await b.db();
    const lines = (await exportGazetteer(db)).split("\n");
    assert.equal(
      lines.find((l) => l.startsWith("cluster,Westlands,")),
      'cluster,Westlands,,-1.267598,36.810796,locationiq,hit,false,"Westlands, Nairobi",4120,' +
        '"Westlands, Nairobi, Kenya",2026-11-29T10:12:00+03:00',
    );
    assert.match(
      lines.find((l) => l.includes(",Sarit Centre,"))!,
      /^location,Westlands,Sarit Centre,-1\.265260,36\.798454,locationiq,hit,/,
    );
  });

  test("an unedited export imports as unchanged: hits, misses, rejected and manual rows keep status, source and time", async () => {
    await b.reset();
    const db = await b.db();
    await seed(db);
    const before = await snapshot(db);
    const sheet = await exportGazetteer(db);
    const report = await importGazetteer(db, sheet);
    assert.deepEqual(report.errors, []);
    assert.deepEqual(await snapshot(db), before, "nothing written");
    assert.deepEqual([report.changed, report.unchanged, report.added], [0, 5, 0]);
    // A sheet exported before looked_up_at was in EAT (UTC, "…Z") reads the same.
    const old = sheet.replace("2026-11-29T10:12:00+03:00", "2026-11-29T07:12:00.000Z");
    assert.notEqual(old, sheet);
    assert.equal((await importGazetteer(db, old)).unchanged, 5);
    // So does a sheet a spreadsheet saved with a float's full digits, or trailing zeros.
    const resaved = edit(
      edit(sheet, "Sarit Centre", "lat", String(SARIT.lat)),
      "Westlands",
      "lon",
      "36.8107960",
    );
    assert.equal((await importGazetteer(db, resaved)).unchanged, 5);
    assert.deepEqual(await snapshot(db), before, "still nothing written");
  });

  test("an import curates only the rows edited or added, and refuses a status it cannot store", async () => {
    await b.reset();
    const db = await b.db();
    await seed(db);
    const before = await snapshot(db);
    const sheet = await exportGazetteer(db);
    // The reviewer moves Sarit Centre, puts Kasarani (a miss) on the map, confirms Westlands
    // (verified) and adds a place; Bogani Road (rejected) and Yaya Centre are left as exported.
    let edited = edit(sheet, "Sarit Centre", "lat", "-1.2612");
    edited = edit(edited, "Kasarani", "lat", "-1.2215");
    edited = edit(edited, "Kasarani", "lon", "36.898");
    edited = edit(edited, "Westlands", "verified", "true");
    edited += "location,Kilimani,Prestige Plaza,-1.2998,36.7866,,,true,,,,\n";
    const report = await importGazetteer(db, edited);
    assert.deepEqual(report.errors, []);
    assert.deepEqual([report.changed, report.unchanged, report.added], [3, 2, 1]);
    const after = new Map((await snapshot(db)).map((r) => [r.place || r.cluster, r]));
    const was = new Map(before.map((r) => [r.place || r.cluster, r]));
    for (const moved of ["Sarit Centre", "Kasarani", "Prestige Plaza"]) {
      const row = after.get(moved)!;
      assert.equal(row.status, "manual", moved);
      assert.equal(row.provider, "manual", moved);
      assert.notEqual(row.looked_up_at, was.get(moved)?.looked_up_at, moved);
    }
    assert.equal(after.get("Sarit Centre")!.geom, "POINT(36.798454 -1.2612)", "as the sheet says");
    assert.deepEqual(
      after.get("Westlands"),
      { ...was.get("Westlands"), verified: true },
      "confirmed: still the provider's hit, found when it was",
    );
    assert.deepEqual(after.get("Bogani Road"), was.get("Bogani Road"), "the rejection stays");
    assert.deepEqual(after.get("Yaya Centre"), was.get("Yaya Centre"));

    // A status changed to manual adopts the provider's answer as curated; another is refused.
    const adopt = await importGazetteer(
      db,
      edit(await exportGazetteer(db), "Westlands", "status", "manual"),
    );
    assert.deepEqual([adopt.errors, adopt.changed, adopt.unchanged], [[], 1, 5]);
    const [westlands] = (await snapshot(db)).filter((r) => r.cluster === "Westlands" && !r.place);
    assert.deepEqual(
      [westlands!.status, westlands!.provider, westlands!.geom],
      ["manual", "manual", "POINT(36.810796 -1.267598)"],
      "the provider's point, as the sheet shows it",
    );
    const refused = await importGazetteer(
      db,
      edit(
        edit(await exportGazetteer(db), "Yaya Centre", "status", "hit"),
        "Kasarani",
        "status",
        "manaul",
      ),
    );
    assert.deepEqual(refused.errors, [
      {
        line: 2,
        reason: `has status "manaul": expected hit, miss, rejected or manual`,
      },
      {
        line: 5,
        // Before: "…: an import only stores curated entries, so write manual", which overwrites
        // a point curated since the sheet was exported.
        reason: `has status "hit" where the gazetteer holds "manual" (curated since this sheet ` +
          `was exported?): export the sheet again and edit that, or write manual to store this ` +
          `row's point`,
      },
    ]);
    assert.equal(refused.changed + refused.added, 0, "all or nothing");
  });

  test("an import stores a point beyond the geocoder's 25 km guard but warns, naming line, place and distance, and a lat/lon swap", async () => {
    await b.reset();
    const db = await b.db();
    await seed(db);
    await ticketsAt(db, [
      ["Westlands", "Sarit Centre"],
      ["Westlands", "Bogani Road"],
      ["Westlands", "Mpaka Road"],
      ["Kasarani", "Mwiki"],
    ]);
    const sheet = await exportGazetteer(db);
    // Sarit Centre's coordinates swapped (a point in the sea off Somalia); Bogani Road, which the
    // provider put in Mombasa, adopted as it is.
    let edited = edit(sheet, "Sarit Centre", "lat", "36.798454");
    edited = edit(edited, "Sarit Centre", "lon", "-1.265260");
    edited = edit(edited, "Bogani Road", "status", "manual");
    edited += "location,Westlands,Mpaka Road,-1.2640,36.8050,,,,,,,\n";
    const report = await importGazetteer(db, edited);
    assert.deepEqual(report.errors, []);
    assert.deepEqual([report.changed, report.added], [2, 1], "stored all the same");
    const lineOf = (place: string) => edited.split("\n").findIndex((l) => l.includes(place)) + 1;
    assert.deepEqual(report.warnings.map((w) => w.line), [lineOf("Bogani"), lineOf("Sarit")]);
    assert.match(
      report.warnings[0]!.reason,
      /^location "Bogani Road" in cluster "Westlands" is 44\d\.\d km from its cluster's centroid \(the geocoder's guard: 25 km\); stored as curated$/,
    );
    assert.match(
      report.warnings[1]!.reason,
      /^location "Sarit Centre" in cluster "Westlands" is \d+\.\d km .*: lat and lon swapped\?$/,
    );
    // distance_m is the new point's, no longer the provider's (4120 m, 310 m, 441213 m).
    const distances = new Map(
      (await db.query<{ place: string; distance_m: number | null }>(
        `select place, distance_m from tickets.geo_locations where cluster = 'Westlands'`,
      )).map((r) => [r.place, r.distance_m]),
    );
    assert.ok(distances.get("Mpaka Road")! > 400 && distances.get("Mpaka Road")! < 1000);
    const km = (place: string) => (distances.get(place)! / 1000).toFixed(1);
    assert.ok(report.warnings[0]!.reason.includes(` is ${km("Bogani Road")} km `));
    assert.ok(report.warnings[1]!.reason.includes(` is ${km("Sarit Centre")} km `));
    // A place whose cluster has no centroid (Kasarani: a miss) is stored without a distance.
    const unknown = await importGazetteer(
      db,
      (await exportGazetteer(db)) + "location,Kasarani,Mwiki,-1.2100,36.9200,,,,,,,\n",
    );
    assert.deepEqual([unknown.added, unknown.warnings], [1, []]);
    const [mwiki] = await db.query(
      `select distance_m from tickets.geo_locations where place = 'Mwiki'`,
    );
    assert.equal(mwiki!.distance_m, null);
  });

  test("an import stores a cluster point beyond the geocoder's 60 km guard from its city centre but warns, naming line, cluster, city and distance, and a lat/lon swap", async () => {
    await b.reset();
    const db = await b.db();
    await seed(db);
    // The guard measures a cluster from the city of its tickets' region (none: not measured).
    for (
      const [id, cluster, region] of [["WOTCL1", "Westlands", "Nairobi"], [
        "WOTCL2",
        "Kasarani",
        "Nairobi",
      ], ["WOTCL3", "Nyali", "Mombasa"]]
    ) {
      await db.query(
        `insert into tickets.inc (ticket_id, raw, source_file) values ($1, $2::text::jsonb, 'x.csv')`,
        [id, JSON.stringify({ ticket_id: id, cluster, region, is_actionable: "true" })],
      );
    }
    const sheet = await exportGazetteer(db);
    // Westlands moved to Mombasa; Kasarani (a miss) pinned in Nairobi, within the guard; Nyali,
    // new, with its coordinates swapped; Ruiru, new, with no tickets to place it by.
    let edited = edit(sheet, "Westlands", "lat", "-4.050000");
    edited = edit(edited, "Westlands", "lon", "39.670000");
    edited = edit(edited, "Kasarani", "lat", "-1.221900");
    edited = edit(edited, "Kasarani", "lon", "36.899700");
    edited = edit(edited, "Kasarani", "status", "manual");
    edited += "cluster,Nyali,,39.7167,-4.0333,,,,,,,\n";
    edited += "cluster,Ruiru,,-1.1466,36.9609,,,,,,,\n";
    const report = await importGazetteer(db, edited);
    assert.deepEqual(report.errors, []);
    assert.deepEqual([report.changed, report.added], [2, 2], "stored all the same");
    const lineOf = (cluster: string) =>
      edited.split("\n").findIndex((l) => l.startsWith(`cluster,${cluster},`)) + 1;
    assert.deepEqual(report.warnings.map((w) => w.line), [
      lineOf("Westlands"),
      lineOf("Nyali"),
      lineOf("Ruiru"),
    ]);
    // Stored all the same, but said: before, a row no ticket can use went in without a word.
    assert.equal(
      report.warnings[2]!.reason,
      `cluster "Ruiru" is no ticket's cluster: stored, it places no ticket`,
    );
    assert.match(
      report.warnings[0]!.reason,
      /^cluster "Westlands" is 4\d\d\.\d km from the Nairobi city centre \(the geocoder's guard: 60 km\); stored as curated$/,
    );
    assert.match(
      report.warnings[1]!.reason,
      /^cluster "Nyali" is \d+\.\d km from the Mombasa city centre \(the geocoder's guard: 60 km\); stored as curated: lat and lon swapped\?$/,
    );
    // distance_m is the stored point's from its city centre; none without tickets to place it.
    const distances = new Map(
      (await db.query<{ cluster: string; distance_m: number | null }>(
        `select cluster, distance_m from tickets.geo_clusters`,
      )).map((r) => [r.cluster, r.distance_m]),
    );
    const km = (cluster: string) => (distances.get(cluster)! / 1000).toFixed(1);
    assert.ok(report.warnings[0]!.reason.includes(` is ${km("Westlands")} km `));
    assert.ok(report.warnings[1]!.reason.includes(` is ${km("Nyali")} km `));
    assert.ok(distances.get("Kasarani")! > 5_000 && distances.get("Kasarani")! < 60_000);
    assert.equal(distances.get("Ruiru"), null);
  });

  test("an import warns of each row no ticket can use, with the tickets' spelling, ten by name and the rest counted", async () => {
    await b.reset();
    const db = await b.db();
    await ticketsAt(db, [["Bamburi", "Kenol Road"]]);
    const header = (await exportGazetteer(db)).split("\n")[0];
    const made = Array.from({ length: 11 }, (_, i) => `cluster,Madeup${i},,-1.2,36.8,,,,,,,`);
    const sheet = [
      header,
      "cluster,BAMBURI,,-3.9800,39.7300,,,,,,,",
      "location,Bamburi,KENOL ROAD,-3.9810,39.7310,,,,,,,",
      "location,Bamburi,Kenol Road,-3.9811,39.7311,,,,,,,",
      ...made,
    ].join("\n") + "\n";
    const report = await importGazetteer(db, sheet);
    assert.deepEqual([report.errors, report.added], [[], 14], "stored all the same");
    // "BAMBURI" is Bamburi in any case, as everywhere (before: a warning that it placed none).
    assert.deepEqual(report.warnings.slice(0, 1), [
      {
        line: 3,
        reason: `location "KENOL ROAD" in cluster "Bamburi" is no ticket's place (the tickets ` +
          `write "Kenol Road"): stored, it places no ticket`,
      },
    ]);
    assert.equal(report.warnings.length, 11, "ten named, then one line for the rest");
    assert.deepEqual(report.warnings[10], {
      line: 14,
      reason: "and 2 more row(s) from here on name no ticket's cluster or place",
    });
  });

  test("a curated cluster row in another spelling places the cluster's tickets over the provider's; a sheet spelling one cluster twice is refused", async () => {
    // Before: "WESTLANDS" imported while the provider's "Westlands" hit was held changed nothing
    // (the ticket's own spelling won), without a word; two spellings in one sheet were taken.
    await b.reset();
    const db = await b.db();
    await seed(db);
    await ticketsAt(db, [["Westlands", "Nowhere Known"]]);
    const header = (await exportGazetteer(db)).split("\n")[0];
    const placed = async () =>
      (await db.query<{ geo_source: string; at: string }>(
        `select geo_source, st_astext(geom) as at from tickets.inc where ticket_id = 'WOTPL0'`,
      ))[0];
    const twice = await importGazetteer(
      db,
      `${header}\ncluster,Westlands,,-1.2600,36.8000,,,,,,,\ncluster,WESTLANDS ,,-1.2601,36.8001,,,,,,,\n`,
    );
    assert.deepEqual(twice.errors, [{
      line: 3,
      reason:
        `repeats cluster "WESTLANDS" of line 2 (spelt "Westlands" there): keep one of the two`,
    }]);
    const curated = await importGazetteer(
      db,
      `${header}\ncluster,WESTLANDS,,-1.2600,36.8000,,,,,,,\n`,
    );
    assert.deepEqual([curated.errors, curated.added, curated.warnings], [[], 1, []]);
    assert.deepEqual(await placed(), { geo_source: "cluster", at: "POINT(36.8 -1.26)" });
  });

  test("an import refuses a row the sheet repeats, naming the first line, and a coordinate that is no number", async () => {
    await b.reset();
    const db = await b.db();
    await seed(db);
    const sheet = await exportGazetteer(db);
    const sarit = sheet.split("\n").findIndex((l) => l.includes("Sarit Centre")) + 1;
    const edited = edit(sheet, "Westlands", "lat", "abc") +
      edit(sheet, "Sarit Centre", "lat", "-1.2612").split("\n")[sarit - 1] + "\n" +
      // A cluster row naming a place: before, the place was dropped and the row moved the
      // cluster's centroid to the place's point.
      "cluster,Kilimani,Yaya Centre,-1.2925,36.7871,manual,manual,true,,,,\n";
    const report = await importGazetteer(db, edited);
    const lines = sheet.split("\n").length;
    assert.deepEqual(report.errors, [
      { line: 3, reason: `has lat "abc": not a number` },
      {
        line: lines,
        reason: `repeats location "Sarit Centre" in cluster "Westlands" of line ${sarit}: ` +
          `keep one of the two`,
      },
      {
        line: lines + 1,
        reason: `is a cluster with a place "Yaya Centre": write kind location for a place`,
      },
    ]);
    assert.equal(report.changed + report.unchanged + report.added, 0, "all or nothing");
    // A header in capitals reads as the export's, as a change file's does (before: refused as
    // having no "kind"); a sheet separated by semicolons is told so.
    const upper = await importGazetteer(db, sheet.replace(/^[^\n]*/, (h) => h.toUpperCase()));
    assert.deepEqual([upper.errors, upper.changed, upper.added], [[], 0, 0]);
    await assert.rejects(
      importGazetteer(db, sheet.replaceAll(",", ";")),
      /^Error: Cannot read the gazetteer sheet: its columns are separated by semicolons; export it as CSV with commas/,
    );
    // An empty sheet is no sheet (before: "0 changed, 0 unchanged, 0 new", exit 0).
    for (const empty of ["", "\n\n"]) {
      await assert.rejects(
        importGazetteer(db, empty),
        /^Error: Cannot read the gazetteer sheet: it is empty \(expected a CSV with the header kind,/,
      );
    }
  });

  if (b.name === "postgres") {
    // As an operator runs it (a subprocess needs a database it can reach: PostgreSQL only).
    test("gazetteer import says how many rows changed, were unchanged and are new, then warns of each point beyond the guard", async () => {
      await b.reset();
      const db = await b.db();
      await seed(db);
      await ticketsAt(db, [["Westlands", "Sarit Centre"], ["Westlands", "Bogani Road"]]);
      const dir = await scratchDir("test-gazetteer");
      const env = { DATABASE_URL: b.url! };
      const out = await cli(
        ["gazetteer", "export", `${dir.slice(".data/".length)}/review.csv`],
        env,
      );
      assert.equal(out.code, 0, out.stderr);
      const sheet = `${dir}/review.csv`;
      await Deno.writeTextFile(
        sheet,
        edit(
          edit(await Deno.readTextFile(sheet), "Sarit Centre", "lat", "-1.2612"),
          "Bogani Road",
          "status",
          "manual",
        ),
      );
      const r = await cli(["gazetteer", "import", sheet], env);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        new RegExp(
          String
            .raw`^Imported .*review\.csv: 2 changed, 3 unchanged, 0 new; \d+ tickets re-resolved\n` +
            String
              .raw`.*review\.csv: warning: line 5: location "Bogani Road" in cluster "Westlands" ` +
            String
              .raw`is 4\d\d\.\d km from its cluster's centroid \(the geocoder's guard: 25 km\); ` +
            String.raw`stored as curated\n$`,
        ),
      );
      // A refused sheet says why on stderr, as every failure (before: on stdout). Its Sarit
      // Centre row still says "hit", curated since: the sheet is older than the gazetteer, and
      // "write manual" (the advice before) would overwrite the newer point.
      await Deno.writeTextFile(
        sheet,
        edit(
          edit(await Deno.readTextFile(sheet), "Westlands", "lat", "x"),
          "Bogani Road",
          "verified",
          "maybe",
        ),
      );
      const refused = await cli(["gazetteer", "import", sheet], env);
      assert.equal(refused.code, 1, refused.stdout + refused.stderr);
      assert.equal(refused.stdout, "");
      assert.match(
        refused.stderr,
        new RegExp(
          String.raw`review\.csv: line 3 has lat "x": not a number\n` +
            String
              .raw`.*review\.csv: line \d has verified "maybe": expected true or false \(or empty\)\n` +
            String
              .raw`.*review\.csv: line \d has status "hit" where the gazetteer holds "manual" \(curated since this sheet was exported\?\): export the sheet again and edit that, or write manual to store this row's point\n` +
            String.raw`Imported nothing: fix the 3 row\(s\) above and import again\n$`,
        ),
      );
      // A sheet that is not UTF-8 is told so, before anything is read (before: Latin-1 letters
      // stored as U+FFFD, a UTF-16 sheet refused in csv-parse's words).
      const latin1 = `${dir}/latin1.csv`;
      await Deno.writeFile(
        latin1,
        new Uint8Array([
          ...new TextEncoder().encode("kind,cluster,place,lat,lon\nlocation,Westlands,Caf"),
          0xe9,
          ...new TextEncoder().encode(",-1.26,36.80\n"),
        ]),
      );
      const notUtf8 = await cli(["gazetteer", "import", latin1], env);
      assert.equal(notUtf8.code, 1, notUtf8.stdout + notUtf8.stderr);
      assert.match(
        notUtf8.stderr,
        /Cannot read the gazetteer sheet "[^"]*latin1\.csv": it is not UTF-8 \(Latin-1 or a Windows code page\?\); save it as "CSV UTF-8"\n$/,
      );
      // UTF-16 without its byte-order mark: its NUL bytes tell it.
      await Deno.writeFile(
        latin1,
        new Uint8Array([...new TextEncoder().encode("kind,cluster")].flatMap((b) => [b, 0])),
      );
      assert.match(
        (await cli(["gazetteer", "import", latin1], env)).stderr,
        /it is not UTF-8 \(UTF-16\); save it as "CSV UTF-8"/,
      );
      // A sheet over 10 MB is refused before it is read (before: 50 MB took 1.85 GB of memory).
      const big = await Deno.open(latin1, { write: true, truncate: true });
      await big.truncate(12_000_000);
      big.close();
      const tooBig = await cli(["gazetteer", "import", latin1], env);
      assert.equal(tooBig.code, 1, tooBig.stdout + tooBig.stderr);
      assert.match(
        tooBig.stderr,
        /Cannot read the gazetteer sheet "[^"]*latin1\.csv": it is 12\.0 MB, over the 10 MB a sheet may be \(about 50,000 places\); is it the right file\? Split a larger one and import each part\n$/,
      );
      // The demo's sheet into a real database: refused, nothing changed (before: its made-up
      // points became curated ones, over the provider's answers).
      const before = await exportGazetteer(db);
      const demo = await cli(["gazetteer", "import", "demo/gazetteer.csv"], env);
      assert.equal(demo.code, 2, demo.stdout + demo.stderr);
      assert.match(
        demo.stderr,
        /^Cannot import "demo\/gazetteer\.csv": its rows are the demo's made-up points \(DEMO DATA\)/,
      );
      assert.equal(await exportGazetteer(db), before);
      // A folder for the export is told with a CSV example (before: "export.sql").
      const folder = await cli(["gazetteer", "export", dir.slice(".data/".length)], env);
      assert.equal(folder.code, 2, folder.stderr);
      assert.match(folder.stderr, /it names a folder; name a file, such as "[^"]*\/export\.csv"/);
    });
  }

  test("close the shared database", () => b.close());
}

cleanUpScratchDirsAtEnd();
removeTestDataAtEnd();
