/**
 * OpenCage forward geocoding (`/geocode/v1/json`). No results is a miss.
 *
 * @module
 */

import { createHttpGeocoder, type HttpGeocoderOptions } from "./_http_geocoder.ts";
import type { Geocoder } from "../core/ports/mod.ts";

/**
 * Creates an OpenCage geocoder (default 1 request/s, the free tier's limit).
 *
 * @example Usage
 * ```ts
 * import { createOpenCageGeocoder } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * // In production: createOpenCageGeocoder({ apiKey: config.geocoder.apiKey }). Here a stand-in
 * // for the provider answers the way OpenCage does.
 * const asked: URL[] = [];
 * const geocoder = createOpenCageGeocoder({
 *   apiKey: "test-key",
 *   fetch: (url) => {
 *     asked.push(new URL(String(url)));
 *     return Promise.resolve(Response.json({
 *       results: [{ geometry: { lat: -1.2611, lng: 36.8027 }, formatted: "Sarit Centre" }],
 *     }));
 *   },
 * });
 * const answer = await geocoder.search({ text: "Sarit Centre, Nairobi", countryCodes: ["ke"] });
 * assert.deepEqual(answer, { kind: "hit", lat: -1.2611, lon: 36.8027, label: "Sarit Centre" });
 * assert.equal(asked[0]?.host, "api.opencagedata.com");
 * ```
 */
export function createOpenCageGeocoder(options: HttpGeocoderOptions): Geocoder {
  return createHttpGeocoder({
    provider: "opencage",
    label: "OpenCage",
    defaultBaseUrl: "https://api.opencagedata.com",
    defaultRate: 1,
    url(base, query, key) {
      const url = new URL(`${base}/geocode/v1/json`);
      url.searchParams.set("q", query.text);
      url.searchParams.set("key", key ?? "");
      url.searchParams.set("limit", "1");
      url.searchParams.set("no_annotations", "1");
      url.searchParams.set("countrycode", query.countryCodes.join(","));
      if (query.near) url.searchParams.set("proximity", `${query.near.lat},${query.near.lon}`);
      return url;
    },
    read(status, body) {
      if (status !== 200 || !body || typeof body !== "object") return undefined;
      const results = (body as { results?: unknown }).results;
      if (!Array.isArray(results)) return undefined;
      const first = results[0] as
        | { geometry?: { lat?: number; lng?: number }; formatted?: string }
        | undefined;
      if (first === undefined) return { kind: "miss" };
      const { lat, lng } = first.geometry ?? {};
      if (typeof lat !== "number" || typeof lng !== "number") return undefined;
      return { kind: "hit", lat, lon: lng, label: first.formatted ?? "" };
    },
  }, options);
}
