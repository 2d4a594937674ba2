// The PGlite boot floor, for `deno task bench`: open a data directory with PGlite alone
// (`bare`) or with the PostGIS extension (`postgis`), run `select 1`, close. The bench times the
// whole process and polls its peak RSS, as it does for `status`. Private to bench/.
//
// Usage: deno run -A bench/_boot_probe.ts bare|postgis DATA_DIR

import { PGlite } from "@electric-sql/pglite";
import { postgis } from "@electric-sql/pglite-postgis";

const [mode, dataDir] = Deno.args;
if ((mode !== "bare" && mode !== "postgis") || dataDir === undefined) {
  console.error("Usage: bench/_boot_probe.ts bare|postgis DATA_DIR");
  Deno.exit(2);
}
const pg = await PGlite.create({
  dataDir,
  extensions: mode === "postgis" ? { postgis } : {},
});
await pg.query("select 1");
await pg.close();
