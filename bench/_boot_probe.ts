// The PGlite boot floor, for `deno task bench`: open a data directory with PGlite alone
// (`bare`), with PostGIS as fleettickets loads it (`postgis`: the cut bundle in vendor/) or with
// the npm package's whole bundle (`postgis-npm`: raster, topology and TIGER too), run `select 1`,
// close. The bench times the whole process and polls its peak RSS, as it does for `status`.
// Private to bench/.
//
// Usage: deno run -A bench/_boot_probe.ts bare|postgis|postgis-npm DATA_DIR

import { PGlite } from "@electric-sql/pglite";
import { postgis } from "@electric-sql/pglite-postgis";
import { postgisCore } from "../adapters/pglite_postgis.ts";

const EXTENSIONS = { bare: {}, postgis: { postgis: postgisCore }, "postgis-npm": { postgis } };
const [mode, dataDir] = Deno.args;
if (!(mode !== undefined && Object.hasOwn(EXTENSIONS, mode)) || dataDir === undefined) {
  console.error("Usage: bench/_boot_probe.ts bare|postgis|postgis-npm DATA_DIR");
  Deno.exit(2);
}
const pg = await PGlite.create({
  dataDir,
  extensions: EXTENSIONS[mode as keyof typeof EXTENSIONS],
});
await pg.query("select 1");
await pg.close();
