// The demo ends with its tickets on the map: the bundled demo gazetteer (approximate,
// verified = false) places every open ticket, some at location precision, the rest at their
// cluster's centroid, with no geocoder key and no network.

import assert from "node:assert/strict";
import { runDemo } from "../cli/run_demo.ts";
import { createPgliteDatabase } from "../adapters/pglite_database.ts";

Deno.test("the demo ends with its open tickets placed, at location and cluster precision", async () => {
  const dir = `.data/test-demo-${crypto.randomUUID().slice(0, 8)}`;
  const lines: string[] = [];
  try {
    assert.equal(await runDemo({ out: (t) => lines.push(t), dir }), 0);
    assert.match(lines.join("\n"), /Placed \d+ tickets on the map with the bundled DEMO gazetteer/);
    const db = await createPgliteDatabase({ dataDir: `${dir}/pglite` });
    try {
      for (const table of ["tickets.inc", "tickets.crq"]) {
        const rows = await db.query<{ geo_source: string; n: number }>(
          `select case when geo_source = 'none' and cluster is null then 'no cluster'
                  else geo_source end as geo_source, count(*)::int as n
           from ${table} where is_actionable group by 1`,
        );
        const by = Object.fromEntries(rows.map((r) => [r.geo_source, r.n]));
        assert.ok((by.location ?? 0) > 0, `${table}: location-precision open tickets`);
        assert.ok((by.cluster ?? 0) > 0, `${table}: cluster-precision open tickets`);
        assert.equal(by.none ?? 0, 0, `${table}: every open ticket with a cluster is placed`);
      }
      const [gazetteer] = await db.query<{ n: number; verified: number }>(
        `select count(*)::int as n, count(*) filter (where verified)::int as verified
         from (select verified from tickets.geo_clusters
               union all select verified from tickets.geo_locations) g`,
      );
      assert.ok(gazetteer!.n > 18, "clusters and places are in the gazetteer");
      assert.equal(gazetteer!.verified, 0, "demo coordinates are never marked verified");
      const [open] = await db.query<{ placed: number; breached: number }>(
        `select count(*) filter (where geom is not null)::int as placed,
                count(*)::int as breached from tickets.inc_open_sla`,
      );
      assert.ok(open!.placed > 100, "the live open-SLA view has placed tickets");
    } finally {
      await db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
