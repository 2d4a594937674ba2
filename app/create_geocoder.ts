/**
 * Picks the configured geocoder adapter.
 *
 * @module
 */

import type { Config } from "./config.ts";
import { createRedactor } from "./redact.ts";
import { createLocationIqGeocoder } from "../adapters/locationiq_geocoder.ts";
import { createNominatimGeocoder } from "../adapters/nominatim_geocoder.ts";
import { createOpenCageGeocoder } from "../adapters/opencage_geocoder.ts";
import type { Geocoder } from "../core/ports/mod.ts";

/** The configured geocoder, or undefined when it needs a key and none is set. */
export function createGeocoder(
  config: Config["geocoder"],
  tell: { onWait?: (text: string) => void } = {},
): Geocoder | undefined {
  const options = {
    apiKey: config.apiKey,
    baseUrl: config.baseUrl,
    rate: config.rate,
    redact: createRedactor([config.apiKey]),
    onWait: tell.onWait,
  };
  switch (config.provider) {
    case "nominatim":
      return createNominatimGeocoder(options);
    case "opencage":
      return config.apiKey ? createOpenCageGeocoder(options) : undefined;
    case "locationiq":
      return config.apiKey ? createLocationIqGeocoder(options) : undefined;
  }
}
