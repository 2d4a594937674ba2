/**
 * `migrate`: applies pending schema migrations.
 *
 * @module
 */

import type { Config } from "../app/config.ts";
import { namingDatabase, openDatabase } from "../app/open_database.ts";
import { hasPgliteDatabase } from "../adapters/pglite_database.ts";
import { migrate } from "../core/migrate.ts";
import { demoToRead } from "./_config_to_read.ts";
import { SourceError, UsageError } from "./_context.ts";

export async function runMigrate(
  config: Config,
  args: string[],
  out: (text: string) => void,
): Promise<number> {
  if (args.length > 0) {
    // `migrate --dry-run` must not migrate: nothing but --help is taken.
    throw new UsageError(
      `Unexpected argument "${args[0]}": migrate takes none ` +
        `("deno task doctor" lists pending migrations without applying them)`,
    );
  }
  const demo = await demoToRead(config);
  // An embedded folder with no database yet gets a new one: said, as a mistyped PGLITE_DIR
  // otherwise looks like a database migrated (before: "Applied 12 migration(s)" alone).
  const made = config.databaseUrl === undefined && !(await hasPgliteDatabase(config.pgliteDir));
  const db = await openDatabase(config, { migrate: false });
  let status: Awaited<ReturnType<typeof migrate>>;
  try {
    status = await migrate(db).catch((error) => {
      throw postgisRefused(error, db.description) ?? namingDatabase(error, db);
    });
  } finally {
    // Closed before it says it migrated: a Ctrl-C while it closed said "Migrated …" and then
    // "ended before it finished" (a tester's).
    await db.close();
  }
  const { applied, pending, changedDefinitions: changed } = status;
  const where = db.description ?? "the database";
  out(
    pending.length === 0 && changed.length === 0
      ? `Schema is up to date (${applied.length} migrations) in ${where}`
      : [
        pending.length > 0 ? `Applied ${pending.length} migration(s): ${pending.join(", ")}` : "",
        changed.length > 0 ? `Applied ${changed.length} definition(s): ${changed.join(", ")}` : "",
        made
          ? `Made a new database: ${where} (there was none; if you meant one that exists, ` +
            `check PGLITE_DIR)`
          : `Migrated ${where}`,
      ].filter((line) => line !== "").join("\n"),
  );
  if (demo !== undefined) {
    out(
      `serve, status, sql, report, db export, gazetteer, geocode and capture now use this ` +
        `database, no longer the demo's ("${demo}")`,
    );
  }
  return 0;
}

/**
 * The remedy for a role that may not create PostGIS (a managed or shared server): what a
 * superuser does once. Undefined for any other error.
 */
function postgisRefused(error: unknown, where: string | undefined): Error | undefined {
  const message = error instanceof Error ? error.message : String(error);
  if (!/permission denied to create extension "postgis"/i.test(message)) return undefined;
  // A setting to fix (exit 2), as a role that may not write is: a rerun cannot help.
  return new SourceError(
    `Cannot migrate ${where ?? "the database"}: its role may not create the PostGIS extension; ` +
      `a superuser runs "create extension postgis;" in that database once (the server needs ` +
      `PostGIS 3 installed), then run "deno task migrate" again`,
  );
}
