// The configuration a command that looks at data opens (serve, status, sql, report). Private
// to cli/.

import type { Config } from "../app/config.ts";
import type { Context } from "./_context.ts";

/** Where `deno task demo` keeps its embedded database. */
const DEMO_DIR = ".data/demo/pglite";

/**
 * With DATABASE_URL and PGLITE_DIR unset and no default embedded database yet, the demo's: so
 * `deno task demo` followed by `serve`, `status`, `sql` or `report` shows the demo's data. An
 * explicit PGLITE_DIR is always taken as given.
 */
export async function configToRead(context: Context): Promise<Config> {
  const { config, io } = context;
  if (config.databaseUrl !== undefined || io.env("PGLITE_DIR") !== undefined) return config;
  const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
  if (await exists(`${config.pgliteDir}/PG_VERSION`)) return config;
  return (await exists(`${DEMO_DIR}/PG_VERSION`)) ? { ...config, pgliteDir: DEMO_DIR } : config;
}
