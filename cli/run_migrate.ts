/**
 * `migrate`: applies pending schema migrations.
 *
 * @module
 */

import type { Config } from "../app/config.ts";
import { openDatabase } from "../app/open_database.ts";
import { migrate } from "../core/migrate.ts";

export async function runMigrate(config: Config, out: (text: string) => void): Promise<number> {
  const db = await openDatabase(config, { migrate: false });
  try {
    const status = await migrate(db);
    const { applied, pending, changedDefinitions: changed } = status;
    out(
      pending.length === 0 && changed.length === 0
        ? `Schema is up to date (${applied.length} migrations)`
        : [
          pending.length > 0 ? `Applied ${pending.length} migration(s): ${pending.join(", ")}` : "",
          changed.length > 0
            ? `Applied ${changed.length} definition(s): ${changed.join(", ")}`
            : "",
        ].filter((line) => line !== "").join("\n"),
    );
    return 0;
  } finally {
    await db.close();
  }
}
