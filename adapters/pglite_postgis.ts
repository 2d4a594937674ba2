/**
 * PostGIS for the embedded database, loaded from `vendor/pglite-postgis/postgis.tar.gz`: the
 * npm package's bundle without raster, topology and the TIGER geocoder, which PGlite would
 * otherwise unpack and compile at every start (`scripts/vendor_postgis.ts` cuts it; CI checks it).
 * `pglite_database.ts` opens every embedded database with it; the bench's boot probe measures it.
 *
 * @module
 */

import type { Extension } from "@electric-sql/pglite";
import { postgis } from "@electric-sql/pglite-postgis";

/** The cut bundle, beside the code in a checkout and inside a compiled binary. */
export const POSTGIS_BUNDLE = new URL("../vendor/pglite-postgis/postgis.tar.gz", import.meta.url);

/** The package's extension (its settings for PROJ and GDAL) with the cut bundle. */
export const postgisCore: Extension = {
  name: postgis.name,
  setup: async (pg, emscriptenOptions) => ({
    ...await postgis.setup(pg, emscriptenOptions),
    bundlePath: POSTGIS_BUNDLE,
  }),
};
