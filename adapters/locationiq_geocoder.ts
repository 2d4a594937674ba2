/**
 * LocationIQ forward geocoding (`/v1/search`). A 404 "Unable to geocode" is a miss.
 *
 * @module
 */

import {
  createHttpGeocoder,
  type HttpGeocoderOptions,
  readNominatimArray,
  viewbox,
} from "./_http_geocoder.ts";
import type { Geocoder } from "../core/ports/mod.ts";

/**
 * Creates a LocationIQ geocoder (default 2 requests/s, the free tier's limit).
 *
 * @example Usage
 * ```ts
 * import { createLocationIqGeocoder } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * // In production: createLocationIqGeocoder({ apiKey: config.geocoder.apiKey }). Here a stand-in
 * // for the provider answers the way LocationIQ does.
 * const asked: URL[] = [];
 * const geocoder = createLocationIqGeocoder({
 *   apiKey: "test-key",
 *   fetch: (url) => {
 *     asked.push(new URL(String(url)));
 *     return Promise.resolve(
 *       Response.json([{ lat: "-1.2611", lon: "36.8027", display_name: "Sarit Centre" }]),
 *     );
 *   },
 * });
 * const answer = await geocoder.search({ text: "Sarit Centre, Nairobi", countryCodes: ["ke"] });
 * assert.deepEqual(answer, { kind: "hit", lat: -1.2611, lon: 36.8027, label: "Sarit Centre" });
 * assert.equal(asked[0]?.host, "us1.locationiq.com");
 * ```
 */
export function createLocationIqGeocoder(options: HttpGeocoderOptions): Geocoder {
  return createHttpGeocoder({
    provider: "locationiq",
    label: "LocationIQ",
    defaultBaseUrl: "https://us1.locationiq.com",
    defaultRate: 2,
    url(base, query, key) {
      const url = new URL(`${base}/v1/search`);
      url.searchParams.set("key", key ?? "");
      url.searchParams.set("q", query.text);
      url.searchParams.set("format", "json");
      url.searchParams.set("limit", "1");
      url.searchParams.set("countrycodes", query.countryCodes.join(","));
      if (query.near) url.searchParams.set("viewbox", viewbox(query.near));
      return url;
    },
    read(status, body) {
      if (status === 404) {
        const error = (body as { error?: string } | undefined)?.error ?? "";
        return /unable to geocode/i.test(error) ? { kind: "miss" } : undefined;
      }
      return readNominatimArray(body);
    },
    // "Rate Limited Second" passes with the backoff, "Minute" with a wait for the next minute
    // (the free plan allows 60 a minute at 2 a second); "Rate Limited Day" does not pass.
    quotaExhausted: (status, detail) => status === 429 && /day/i.test(detail),
    minuteLimited: (status, detail) => status === 429 && /minute/i.test(detail),
  }, options);
}
