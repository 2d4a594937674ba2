import assert from "node:assert/strict";
import { nearest } from "./nearest.ts";
import type { Row, SqlSession } from "./ports/mod.ts";

/** A session answering every query with `rows`. */
function answering(rows: Row[]): SqlSession {
  return {
    query: <T extends Row = Row>() => Promise.resolve(rows as T[]),
    exec: () => Promise.resolve(),
    copyRows: () => Promise.resolve(0),
    copyCsv: () => Promise.resolve(),
  };
}

const QUERY = {
  lon: 36.82,
  lat: -1.29,
  k: 10,
  maxKm: 25,
  dataset: "inc",
  rank: "urgency",
} as const;

Deno.test("nearest() writes each found ticket as a Feature: text escaped, numbers as PostgreSQL wrote them", async () => {
  const found = await nearest(
    answering([{
      geometry: '{"type":"Point","coordinates":[36.8219,-1.2921]}',
      dataset: "inc",
      ticket_id: "WOT0759234",
      normalized_status: "pending",
      cluster: "Bamburi",
      location_name: 'FDT30 "Beach" \\ gate\n2nd line\u0001 ✓',
      geo_source: "location",
      assigned_team: null,
      owner: "Ali Hassan",
      hours_open: "4104.95",
      sla_state: "breached",
      sla_due_at: "2026-06-12T22:46:44+03:00",
      minutes_to_breach: "-243418",
      distance_m: "416.5",
      score: "0.410",
    }, {
      geometry: null,
      dataset: "crq",
      ticket_id: "CRQ_1",
      normalized_status: "scheduled",
      cluster: null,
      location_name: null,
      geo_source: "cluster",
      assigned_team: null,
      owner: null,
      hours_open: null,
      sla_state: null,
      sla_due_at: null,
      minutes_to_breach: null,
      distance_m: "1500.0",
      score: "3.000",
    }]),
    QUERY,
  );
  assert.equal(found.returned, 2);
  assert.match(found.features, /"score":0\.410\}/); // as written, trailing zero kept
  const [first, second] = JSON.parse(found.features);
  assert.deepEqual(first.geometry, { type: "Point", coordinates: [36.8219, -1.2921] });
  assert.equal(first.properties.location_name, 'FDT30 "Beach" \\ gate\n2nd line\u0001 ✓');
  assert.equal(first.properties.hours_open, 4104.95);
  assert.equal(first.properties.minutes_to_breach, -243418);
  assert.equal(first.properties.assigned_team, null);
  assert.equal(first.properties.geo_source, "location"); // how its point was found (the card)
  assert.deepEqual(Object.keys(first.properties), [
    "dataset",
    "ticket_id",
    "normalized_status",
    "cluster",
    "location_name",
    "geo_source",
    "assigned_team",
    "owner",
    "hours_open",
    "sla_state",
    "sla_due_at",
    "minutes_to_breach",
    "distance_m",
    "score",
  ]);
  assert.equal(second.geometry, null);
  assert.equal(second.properties.hours_open, null);
  assert.equal(second.properties.score, 3);
});

Deno.test("nearest() with nothing found is an empty list", async () => {
  assert.deepEqual(await nearest(answering([]), QUERY), { returned: 0, features: "[]" });
});
