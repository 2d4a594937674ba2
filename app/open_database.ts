/**
 * Opens the configured database: PostgreSQL when `DATABASE_URL` is set, else embedded PGlite.
 *
 * @module
 */

import type { Config } from "./config.ts";
import { migrate, pendingMigrations } from "../core/migrate.ts";
import { createPgliteDatabase } from "../adapters/pglite_database.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import type { Database } from "../core/ports/mod.ts";

/** Raised when PostgreSQL has migrations this version needs and has not applied. */
export class PendingMigrationsError extends Error {
  /** Creates the error naming the pending migrations. */
  constructor(pending: string[]) {
    super(
      `Cannot run: the database has ${pending.length} pending migration(s) (${
        pending.join(", ")
      }); run "deno task migrate" first`,
    );
    this.name = "PendingMigrationsError";
  }
}

/** Options for {@linkcode openDatabase}. */
export interface OpenDatabaseOptions {
  /** Require an up-to-date schema on PostgreSQL (the embedded database migrates itself). */
  requireMigrated?: boolean;
  /** PostgreSQL connections to pool (default 1; the read API uses several). */
  poolSize?: number;
}

/** Opens the database named by the configuration. */
export async function openDatabase(
  config: Config,
  options: OpenDatabaseOptions = {},
): Promise<Database> {
  if (config.databaseUrl === undefined) {
    const db = await createPgliteDatabase({ dataDir: config.pgliteDir });
    try {
      await migrate(db);
    } catch (error) {
      await db.close();
      throw error;
    }
    return db;
  }
  const db = createPostgresDatabase(config.databaseUrl, { max: options.poolSize });
  if (options.requireMigrated) {
    try {
      const { pending, changedDefinitions } = await pendingMigrations(db);
      const todo = [...pending, ...changedDefinitions];
      if (todo.length > 0) throw new PendingMigrationsError(todo);
    } catch (error) {
      await db.close();
      throw error;
    }
  }
  return db;
}
