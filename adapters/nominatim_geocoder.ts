/**
 * Nominatim-compatible forward geocoding (`/search`): an identifying User-Agent and at most one
 * request per second, as the OpenStreetMap usage policy requires.
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

/** OpenStreetMap's own Nominatim server. */
const PUBLIC_HOST = "nominatim.openstreetmap.org";

/** The User-Agent sent to Nominatim endpoints. */
export const NOMINATIM_USER_AGENT = "fleettickets/1.0 (field-ops ticket geocoder)";

/**
 * Creates a Nominatim geocoder (1 request/s at most, whatever the configured rate).
 *
 * @example Usage
 * ```ts
 * import { createNominatimGeocoder } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * // In production: createNominatimGeocoder({ apiKey: config.geocoder.apiKey }). Here a stand-in
 * // for the provider answers the way Nominatim does.
 * const asked: URL[] = [];
 * const geocoder = createNominatimGeocoder({
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
 * assert.equal(asked[0]?.host, "nominatim.openstreetmap.org");
 * assert.equal(asked[0]?.searchParams.has("key"), false); // the public server takes no key
 * ```
 */
export function createNominatimGeocoder(options: HttpGeocoderOptions): Geocoder {
  return createHttpGeocoder({
    provider: "nominatim",
    label: "Nominatim",
    defaultBaseUrl: `https://${PUBLIC_HOST}`,
    defaultRate: 1,
    maxRate: 1,
    headers: { "user-agent": NOMINATIM_USER_AGENT },
    url(base, query, key) {
      const url = new URL(`${base}/search`);
      url.searchParams.set("q", query.text);
      url.searchParams.set("format", "jsonv2");
      url.searchParams.set("limit", "1");
      url.searchParams.set("countrycodes", query.countryCodes.join(","));
      if (query.near) url.searchParams.set("viewbox", viewbox(query.near));
      // A key only for a Nominatim-compatible service named by GEOCODER_BASE_URL: never to the
      // public OpenStreetMap server, which takes none (a key left from another provider leaked).
      if (key && url.host !== PUBLIC_HOST) url.searchParams.set("key", key);
      return url;
    },
    read(status, body) {
      return status === 200 ? readNominatimArray(body) : undefined;
    },
  }, options);
}
