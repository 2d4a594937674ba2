/**
 * The geocoder port: forward geocoding, and the error its adapters throw.
 *
 * @module
 */

/** One forward-geocoding question. */
export interface GeocodeQuery {
  /** Free text, e.g. `Sarit Centre, Westlands, Nairobi`. */
  text: string;
  /** ISO 3166-1 alpha-2 codes the answer must lie in, e.g. `["ke"]`. */
  countryCodes: readonly string[];
  /** Bias towards this point (the cluster centroid), when known. */
  near?: { lat: number; lon: number };
}

/** A geocoder's answer: a point, or nothing found (a miss is an answer, not a failure). */
export type GeocodeAnswer =
  | { kind: "hit"; lat: number; lon: number; label: string }
  | { kind: "miss" };

/**
 * A forward geocoder (LocationIQ, OpenCage, Nominatim-compatible).
 *
 * @example A gazetteer-backed geocoder for a test
 * ```ts
 * import type { GeocodeAnswer, GeocodeQuery, Geocoder } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const places: Record<string, GeocodeAnswer> = {
 *   "Westlands, Nairobi": { kind: "hit", lat: -1.2676, lon: 36.8108, label: "Westlands" },
 * };
 * const geocoder: Geocoder = {
 *   provider: "fixture",
 *   search: (query: GeocodeQuery) => Promise.resolve(places[query.text] ?? { kind: "miss" }),
 * };
 * const answer = await geocoder.search({ text: "Westlands, Nairobi", countryCodes: ["ke"] });
 * assert.equal(answer.kind, "hit");
 * assert.equal((await geocoder.search({ text: "Atlantis", countryCodes: ["ke"] })).kind, "miss");
 * ```
 */
export interface Geocoder {
  /** Provider name stored with every cached answer. */
  readonly provider: string;
  /** How messages name it: provider and host, e.g. `LocationIQ at us1.locationiq.com` (no key). */
  readonly label?: string;
  /** Looks one query up; throws `GeocoderError` when the provider fails or refuses. */
  search(query: GeocodeQuery): Promise<GeocodeAnswer>;
}

/**
 * A provider failed (transient: retry later) or refused (terminal: key, quota, forbidden).
 *
 * @example Usage
 * ```ts
 * import { GeocoderError } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new GeocoderError("LocationIQ refused the request: invalid key", {
 *   status: 401,
 *   terminal: true,
 * });
 * assert.equal(error.name, "GeocoderError");
 * assert.equal(error.status, 401);
 * assert.equal(error.terminal, true);
 * ```
 */
export class GeocoderError extends Error {
  /** HTTP status, when there was a response. */
  readonly status: number | undefined;
  /** True when retrying cannot help (bad key, quota exhausted, forbidden). */
  readonly terminal: boolean;

  /** Creates the error; the message must never contain the API key. */
  constructor(message: string, options: { status?: number; terminal: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = "GeocoderError";
    this.status = options.status;
    this.terminal = options.terminal;
  }
}
