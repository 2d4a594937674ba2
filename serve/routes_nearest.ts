/**
 * `/api/nearest`: the k open tickets nearest a vehicle, or the most urgent near it.
 *
 * @module
 */

import type { Hono } from "hono";
import { isIndexOrderError, nearest, type NearestQuery, type Walk } from "../core/nearest.ts";
import { SLA_STATES } from "../core/read_tickets.ts";
import { cachedRead } from "./cached_read.ts";
import type { ServeEnv } from "./env.ts";
import { Params, queryParams } from "./params.ts";

/** Most tickets one dispatch question returns. */
export const MAX_K = 500;
/** Largest search radius, km. */
export const MAX_KM = 1000;

/** Registers `/api/nearest`. */
export function nearestRoutes(app: Hono<ServeEnv>): void {
  app.get("/api/nearest", (c) => {
    const p = new Params(queryParams(c.req));
    const q: NearestQuery = {
      lon: p.number("lon", -180, 180),
      lat: p.number("lat", -90, 90),
      k: p.integer("k", 1, MAX_K, 10),
      maxKm: p.number("max_km", 0.001, MAX_KM, 25),
      dataset: p.choice("dataset", ["inc", "crq", "all"] as const, "inc"),
      slaState: p.choice("sla_state", SLA_STATES),
      rank: p.choice("rank", ["distance", "urgency"] as const, "distance"),
    };
    const read = (walk: Walk) =>
      cachedRead(c, "nearest", { ...q }, async (tx) => {
        const found = await nearest(tx, q, c.get("deps").now(), walk);
        const head = {
          type: "FeatureCollection",
          origin: { lon: q.lon, lat: q.lat },
          rank: q.rank,
          maxKm: q.maxKm,
          numberReturned: found.returned,
        };
        return {
          body: `${JSON.stringify(head).slice(0, -1)},"features":${found.features}}`,
          rows: found.returned,
          contentType: "application/geo+json; charset=utf-8",
        };
      });
    // PostGIS's index walk fails on the antimeridian (before: a 500); asked again without it.
    return read("index").catch((error) => {
      if (!isIndexOrderError(error)) throw error;
      return read("sort");
    });
  });
}
