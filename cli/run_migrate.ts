/**
 * `migrate`: applies pending schema migrations.
 *
 * @module
 */

import type { Config } from "../app/config.ts";
import { openDatabase } from "../app/open_database.ts";
import { migrate } from "../core/migrate.ts";

export async function runMigrate(config: Config, out: (text: string) => void): Promise<number> {
  const db = await openDatabase(config);
  try {
    const status = await migrate(db);
    out(
      status.pending.length === 0
        ? `Schema is up to date (${status.applied.length} migrations)`
        : `Applied ${status.pending.length} migration(s): ${status.pending.join(", ")}`,
    );
    return 0;
  } finally {
    await db.close();
  }
}
