/**
 * Picks the configured geocoder adapter.
 *
 * @module
 */

import type { Config } from "./config.ts";
import { createLocationIqGeocoder } from "./locationiq_geocoder.ts";
import { createNominatimGeocoder } from "./nominatim_geocoder.ts";
import { createOpenCageGeocoder } from "./opencage_geocoder.ts";
import type { Geocoder } from "./ports.ts";

/** The configured geocoder, or undefined when it needs a key and none is set. */
export function createGeocoder(config: Config["geocoder"]): Geocoder | undefined {
  const options = { apiKey: config.apiKey, baseUrl: config.baseUrl, rate: config.rate };
  switch (config.provider) {
    case "nominatim":
      return createNominatimGeocoder(options);
    case "opencage":
      return config.apiKey ? createOpenCageGeocoder(options) : undefined;
    case "locationiq":
      return config.apiKey ? createLocationIqGeocoder(options) : undefined;
  }
}
