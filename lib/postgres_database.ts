/**
 * PostgreSQL adapter (postgres.js), used when `DATABASE_URL` is set.
 *
 * @module
 */

import postgres from "postgres";
import { encodeCopyText } from "./_copy_text.ts";
import type { Database, Row, SqlSession } from "./ports.ts";

type Sql = postgres.Sql | postgres.TransactionSql;

/** Options for {@linkcode createPostgresDatabase}. */
export interface PostgresDatabaseOptions {
  /** Seconds to wait for a connection (default 10). */
  connectTimeout?: number;
}

/**
 * Connects to PostgreSQL. One connection for the whole run, so the session advisory lock
 * and the staging temp table live as long as the run.
 */
export function createPostgresDatabase(
  url: string,
  options: PostgresDatabaseOptions = {},
): Database {
  const sql = postgres(url, {
    max: 1,
    connect_timeout: options.connectTimeout ?? 10,
    onnotice: () => {},
    connection: { application_name: "fleettickets" },
  });
  return new PostgresDatabase(sql);
}

class PostgresSession implements SqlSession {
  #sql: Sql;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  async query<T extends Row = Row>(text: string, params?: readonly unknown[]): Promise<T[]> {
    const rows = await this.#sql.unsafe(text, (params ?? []) as postgres.ParameterOrJSON<never>[]);
    // A plain array, like PGlite's: postgres.js returns an Array subclass with metadata.
    return Array.from(rows) as unknown as T[];
  }

  async exec(script: string): Promise<void> {
    await this.#sql.unsafe(script).simple();
  }

  async copyRows(
    table: string,
    columns: readonly string[],
    rows: readonly (readonly (string | null)[])[],
  ): Promise<void> {
    if (rows.length === 0) return;
    const stream = await this.#sql.unsafe(`copy ${table} (${columns.join(", ")}) from stdin`)
      .writable();
    await new Promise<void>((resolve, reject) => {
      stream.on("error", reject);
      stream.on("finish", resolve);
      stream.end(encodeCopyText(rows));
    });
  }
}

class PostgresDatabase extends PostgresSession implements Database {
  readonly kind = "postgres" as const;
  #sql: postgres.Sql;

  constructor(sql: postgres.Sql) {
    super(sql);
    this.#sql = sql;
  }

  async transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    return await this.#sql.begin((tx) => fn(new PostgresSession(tx))) as T;
  }

  async tryLock(name: string): Promise<boolean> {
    const [row] = await this.#sql`select pg_try_advisory_lock(hashtextextended(${name}, 0)) as ok`;
    return row?.ok === true;
  }

  async unlock(name: string): Promise<void> {
    await this.#sql`select pg_advisory_unlock(hashtextextended(${name}, 0))`;
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }
}
