// The configuration a command that looks at data opens (serve, status, sql, report). Private
// to cli/.

import { type Config, DEFAULT_PGLITE_DIR } from "../app/config.ts";
import { hasPgliteDatabase } from "../adapters/pglite_database.ts";
import type { Context } from "./_context.ts";

/** Where `deno task demo` keeps its embedded database. */
const DEMO_DIR = ".data/demo/pglite";

/**
 * With DATABASE_URL unset, PGLITE_DIR unset or naming the default folder (as `.env.example`
 * does), and no database there yet, the demo's: so `deno task demo` followed by `serve`,
 * `status`, `sql` or `report` shows the demo's data. Any other PGLITE_DIR is taken as given.
 */
export async function configToRead(context: Context): Promise<Config> {
  const { config } = context;
  const normal = (dir: string) => dir.replace(/^\.\//, "").replace(/\/+$/, "");
  if (config.databaseUrl !== undefined) return config;
  if (normal(config.pgliteDir) !== normal(DEFAULT_PGLITE_DIR)) return config;
  if (await hasPgliteDatabase(config.pgliteDir)) return config;
  return (await hasPgliteDatabase(DEMO_DIR)) ? { ...config, pgliteDir: DEMO_DIR } : config;
}
