// The configuration a command that uses the data already there opens (serve, status, sql,
// report, db export, gazetteer, geocode, capture). Private to cli/.

import { type Config, DEFAULT_PGLITE_DIR, DEMO_PGLITE_DIR, sameDir } from "../app/config.ts";
import { hasPgliteDatabase } from "../adapters/pglite_database.ts";
import { incompleteNote } from "../app/open_database.ts";
import type { Context } from "./_context.ts";

/** Folders {@linkcode configToRead} looks at (tests give their own). */
export interface ReadFolders {
  /** The default PGLITE_DIR. */
  defaultDir?: string;
  /** The demo's database. */
  demoDir?: string;
}

/** Options of {@linkcode configToRead}. */
export interface ReadOptions extends ReadFolders {
  /** The command writes to the database it opens (the notice then says "Writing to"). */
  writes?: boolean;
}

/**
 * With DATABASE_URL unset, PGLITE_DIR unset or naming the default folder (as `.env.example`
 * does), and no database there yet, the demo's: so `deno task demo` followed by `serve`,
 * `status`, `sql`, `report`, `gazetteer`, `geocode` or `capture` uses the demo's data, and none
 * of them makes an empty database in the default folder (which would then hide the demo's). It
 * says so on stderr ("Writing to" for a command that writes), so nobody takes the demo's figures
 * for their own. Any other PGLITE_DIR is taken as given.
 */
export async function configToRead(context: Context, options: ReadOptions = {}): Promise<Config> {
  const { config } = context;
  const demoDir = await demoToRead(config, options);
  if (demoDir === undefined) return config;
  context.io.stderr(
    `${options.writes ? "Writing to" : "Reading"} the demo's database "${demoDir}": ` +
      `"${config.pgliteDir}" (PGLITE_DIR) has none yet; "deno task ingest" fills it\n`,
  );
  return { ...config, pgliteDir: demoDir };
}

/** The demo's database folder when {@linkcode configToRead} would read it, else undefined. */
export async function demoToRead(
  config: Config,
  folders: ReadFolders = {},
): Promise<string | undefined> {
  const { defaultDir = DEFAULT_PGLITE_DIR, demoDir = DEMO_PGLITE_DIR } = folders;
  if (config.databaseUrl !== undefined) return undefined;
  if (!sameDir(config.pgliteDir, defaultDir)) return undefined;
  if (await hasPgliteDatabase(config.pgliteDir)) return undefined;
  if (await hasPgliteDatabase(demoDir)) return demoDir;
  // A demo stopped in its first boot, before the database wrote its files, left its marker: the
  // command then says to run the demo again (before: "there is none there yet", doctor silent).
  return await incompleteNote(demoDir) !== undefined ? demoDir : undefined;
}
