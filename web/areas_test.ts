import assert from "node:assert/strict";
import { clusterAreas, mostSpelled } from "./areas.js";

const ticket = (cluster: string, lon: number, lat: number, geo = "location") => ({
  geometry: { coordinates: [lon, lat] },
  properties: { cluster, geo_source: geo },
});

Deno.test("clusterAreas() draws one area per cluster whatever its case and the spaces around it", () => {
  const areas = clusterAreas([
    ticket("Westlands", 36.81, -1.26),
    ticket("Westlands", 36.82, -1.27),
    ticket(" westlands", 36.8108, -1.2676, "cluster"),
    ticket("WESTLANDS\t", 36.80, -1.26),
    ticket("Kilimani", 36.78, -1.29),
  ]);
  // Before: three Westlands circles, one per spelling, their labels on top of each other.
  assert.deepEqual(areas.map((a) => a.name).sort(), ["Kilimani", "Westlands"]);
  const west = areas.find((a) => a.name === "Westlands")!;
  assert.deepEqual([west.lon, west.lat], [36.8108, -1.2676], "centred on the cluster's point");
});

Deno.test("mostSpelled() takes the most counted spelling, a tie the first in code-point order", () => {
  assert.equal(mostSpelled(new Map([["nbi north flm", 1], ["NBI North FLM", 3]])), "NBI North FLM");
  // As the API's mode() … collate "C": the page and /api/teams name a tie alike.
  assert.equal(
    mostSpelled(new Map([["équipe ünïcode", 1], ["ÉQUIPE ÜNÏCODE", 1]])),
    "ÉQUIPE ÜNÏCODE",
  );
  assert.equal(mostSpelled(new Map()), undefined);
});
