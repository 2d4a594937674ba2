/**
 * `migrate`: applies pending schema migrations.
 *
 * @module
 */

import type { Config } from "../app/config.ts";
import { openDatabase } from "../app/open_database.ts";
import { migrate } from "../core/migrate.ts";
import { demoToRead } from "./_config_to_read.ts";
import { UsageError } from "./_context.ts";

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
  const db = await openDatabase(config, { migrate: false });
  try {
    const status = await migrate(db);
    const { applied, pending, changedDefinitions: changed } = status;
    const where = db.description ?? "the database";
    out(
      pending.length === 0 && changed.length === 0
        ? `Schema is up to date (${applied.length} migrations) in ${where}`
        : [
          pending.length > 0 ? `Applied ${pending.length} migration(s): ${pending.join(", ")}` : "",
          changed.length > 0
            ? `Applied ${changed.length} definition(s): ${changed.join(", ")}`
            : "",
          `Migrated ${where}`,
        ].filter((line) => line !== "").join("\n"),
    );
    if (demo !== undefined) {
      out(
        `serve, status, sql, report, gazetteer, geocode and capture now use this database, ` +
          `no longer the demo's ("${demo}")`,
      );
    }
    return 0;
  } finally {
    await db.close();
  }
}
