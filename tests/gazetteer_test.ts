// The gazetteer review sheet: what `gazetteer export` writes.

import assert from "node:assert/strict";
import { exportGazetteer } from "../core/gazetteer.ts";
import type { Database } from "../core/ports/mod.ts";
import { backends, removeTestDataAtEnd, shared } from "./_harness.ts";

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

  test("close the shared database", () => b.close());
}

removeTestDataAtEnd();
