/**
 * PostgreSQL adapter (postgres.js), used when `DATABASE_URL` is set.
 *
 * @module
 */

import { connect as connectSocket, type Socket } from "node:net";
import postgres from "postgres";
import { encodeCopyText } from "./_copy_text.ts";
import type { Database, Row, SqlSession } from "../core/ports/mod.ts";

type Sql = postgres.Sql | postgres.TransactionSql;

/** Options for {@linkcode createPostgresDatabase}. */
export interface PostgresDatabaseOptions {
  /** Seconds to wait for a connection (default 10). */
  connectTimeout?: number;
  /**
   * Connections in the pool (default 1: a run's advisory lock and staging table live on its one
   * connection). The read API uses several, one per concurrent read-only transaction.
   */
  max?: number;
}

/**
 * Connects to PostgreSQL. One connection for the whole run, so the session advisory lock
 * and the staging temp table live as long as the run.
 *
 * @example Usage
 * ```ts ignore
 * import { createPostgresDatabase, migrate } from "../mod.ts";
 *
 * const db = createPostgresDatabase(Deno.env.get("DATABASE_URL")!, { connectTimeout: 5 });
 * await migrate(db);
 * const [row] = await db.query<{ n: number }>(`select count(*)::int as n from tickets.inc`);
 * console.log(row?.n);
 * await db.close();
 * ```
 */
export function createPostgresDatabase(
  url: string,
  options: PostgresDatabaseOptions = {},
): Database {
  const sockets = { opened: 0 };
  const sql = postgres(url, {
    max: options.max ?? 1,
    connect_timeout: options.connectTimeout ?? 10,
    onnotice: () => {},
    // Never swap the connection by age mid-run: the run's advisory lock lives on it.
    max_lifetime: null,
    connection: { application_name: "fleettickets" },
    // Supported by postgres.js, missing from its type definitions.
    ...{
      socket: (settings: SocketSettings) => {
        sockets.opened++;
        return openSocket(settings, (options.connectTimeout ?? 10) * 1000);
      },
    } as Record<string, unknown>,
  });
  return new PostgresDatabase(sql, sockets);
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
      // Under Deno a reset socket can stay half-open without "close", and postgres.js only
      // reconnects on "close": every later query would wait for ever.
      socket.on("error", () => socket.destroy());
      socket.on("end", () => socket.destroy());
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
    let count = 0;
    async function* text() {
      for await (const rows of batches) {
        count += rows.length;
        yield encodeCopyText(rows);
      }
    }
    await this.#copy(`copy ${table} (${columns.join(", ")}) from stdin`, text());
    return count;
  }

  async copyCsv(
    table: string,
    columns: readonly string[],
    body: AsyncIterable<Uint8Array>,
  ): Promise<void> {
    const sql = `copy ${table} (${columns.join(", ")}) from stdin with (format csv, header true)`;
    await this.#copy(sql, body);
  }

  /** One COPY: the server parses and stores while we produce the next chunk. */
  async #copy(statement: string, chunks: AsyncIterable<string | Uint8Array>): Promise<void> {
    const stream = await this.#sql.unsafe(statement).writable();
    let failed: Error | undefined;
    stream.on("error", (error: Error) => failed = error);
    // Every wait also ends on "close": a stream destroyed by a lost connection emits its error
    // once, maybe before we listen, and never "drain" or "finish".
    const settled = (event: "drain" | "finish") =>
      new Promise<void>((resolve, reject) => {
        const gone = () => failed ?? new Error("Cannot copy rows: the connection was lost");
        if (failed || stream.destroyed) return reject(gone());
        const done = (error?: Error) => {
          stream.off(event, onEvent);
          stream.off("error", done);
          stream.off("close", onClose);
          if (error) reject(error);
          else resolve();
        };
        const onEvent = () => done();
        const onClose = () => done(gone());
        stream.on(event, onEvent);
        stream.on("error", done);
        stream.on("close", onClose);
      });
    try {
      for await (const chunk of chunks) {
        if (failed) throw failed;
        if (!stream.write(chunk)) await settled("drain");
      }
    } catch (error) {
      if (!stream.destroyed) stream.destroy(error as Error);
      throw error;
    }
    const finished = settled("finish");
    stream.end();
    await finished;
  }
}

class PostgresDatabase extends PostgresSession implements Database {
  readonly kind = "postgres" as const;
  #sql: postgres.Sql;
  #sockets: { opened: number };
  /** Which connection took the run's advisory locks (they die with it). */
  #lockedOn: number | undefined;

  constructor(sql: postgres.Sql, sockets: { opened: number }) {
    super(sql);
    this.#sql = sql;
    this.#sockets = sockets;
  }

  async transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    return await this.#sql.begin((tx: postgres.TransactionSql) => {
      // postgres.js reconnects silently; a new connection no longer holds the run's lock, and
      // writing without it could apply a file twice next to another run.
      if (this.#lockedOn !== undefined && this.#lockedOn !== this.#sockets.opened) {
        throw new Error(
          "Lost the database connection that held the run's lock; stopping (the next run goes on)",
        );
      }
      return fn(new PostgresSession(tx));
    }) as T;
  }

  async tryLock(name: string): Promise<boolean> {
    const attempt = async () => {
      const [row] = await this.#sql`
        select pg_try_advisory_lock(hashtextextended(${name}, 0)) as ok`;
      return row?.ok === true;
    };
    // A connection that died while idle (a server restart between runs) fails its first
    // queries; nothing is held yet, so retrying on a fresh connection is safe.
    let ok = false;
    for (let tries = 1;; tries++) {
      try {
        ok = await attempt();
        break;
      } catch (error) {
        if (tries >= 3 || !isConnectionLost(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * tries));
      }
    }
    if (ok) this.#lockedOn = this.#sockets.opened;
    return ok;
  }

  async unlock(name: string): Promise<void> {
    if (this.#lockedOn !== this.#sockets.opened) {
      this.#lockedOn = undefined; // the lock went with the connection
      return;
    }
    this.#lockedOn = undefined;
    await this.#sql`select pg_advisory_unlock(hashtextextended(${name}, 0))`;
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }
}

const CONNECTION_LOST = new Set([
  "ECONNRESET",
  "EPIPE",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01", // admin_shutdown: terminated by the server or an operator
  "57P02",
  "57P03",
]);

function isConnectionLost(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && CONNECTION_LOST.has(code);
}
