/**
 * PostgreSQL adapter (postgres.js), used when `DATABASE_URL` is set.
 *
 * @module
 */

import { connect as connectSocket, type Socket } from "node:net";
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
    // Supported by postgres.js, missing from its type definitions.
    ...{
      socket: (settings: SocketSettings) =>
        openSocket(settings, (options.connectTimeout ?? 10) * 1000),
    } as Record<string, unknown>,
  });
  return new PostgresDatabase(sql);
}

// Our own socket only to set TCP_NODELAY: postgres.js leaves Nagle on, and the small CopyDone
// that ends a COPY then waits ~40 ms for the server's delayed ACK (every delta file paid it).
interface SocketSettings {
  host: string[];
  port: number[];
  path?: string;
}

function openSocket(settings: SocketSettings, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = settings.path
      ? connectSocket({ path: settings.path })
      : connectSocket({ host: settings.host[0], port: settings.port[0] ?? 5432, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`Cannot connect to PostgreSQL within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
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
    batches: AsyncIterable<readonly (readonly (string | null)[])[]>,
  ): Promise<number> {
    // One COPY per call: the server parses and stores while we read and clean the next batch.
    const stream = await this.#sql.unsafe(`copy ${table} (${columns.join(", ")}) from stdin`)
      .writable();
    let failed: Error | undefined;
    stream.on("error", (error: Error) => failed = error);
    let count = 0;
    try {
      for await (const rows of batches) {
        if (failed) throw failed;
        count += rows.length;
        if (!stream.write(encodeCopyText(rows))) {
          await new Promise<void>((resolve, reject) => {
            const settle = (error?: Error) => {
              stream.off("drain", settle);
              stream.off("error", settle);
              if (error) reject(error);
              else resolve();
            };
            stream.on("drain", settle);
            stream.on("error", settle);
          });
        }
      }
    } catch (error) {
      stream.destroy(error as Error);
      throw error;
    }
    await new Promise<void>((resolve, reject) => {
      if (failed) return reject(failed);
      stream.once("error", reject);
      stream.once("finish", resolve);
      stream.end();
    });
    return count;
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
