/**
 * The demo's bundled gazetteer: approximate, hand-placed coordinates of the demo stream's
 * Nairobi / Mombasa / Kampala clusters and a share of their places (`demo/gazetteer.csv`, every
 * row `verified = false` and labelled DEMO DATA). It goes in through the same path as
 * `gazetteer import`, so the demo's tickets get cluster- and location-precision geometry with no
 * geocoder key and no network. A real deployment geocodes with a provider instead.
 *
 * @module
 */

import { importGazetteer, type ImportReport } from "../core/gazetteer.ts";
import type { Database } from "../core/ports/mod.ts";

/** Where the demo gazetteer lives. */
export const DEMO_GAZETTEER_URL: URL = new URL("./gazetteer.csv", import.meta.url);

/** Imports the demo gazetteer and re-resolves ticket geometry; throws on a bad sheet. */
export async function importDemoGazetteer(db: Database): Promise<ImportReport> {
  const report = await importGazetteer(db, await Deno.readTextFile(DEMO_GAZETTEER_URL));
  if (report.errors.length > 0) {
    const first = report.errors[0]!;
    throw new Error(
      `Cannot import the demo gazetteer "${DEMO_GAZETTEER_URL.pathname}": line ${first.line} ` +
        first.reason,
    );
  }
  return report;
}
