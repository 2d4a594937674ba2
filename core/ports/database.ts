/**
 * The database port: PostgreSQL (postgres.js) or embedded PGlite behind one interface.
 *
 * @module
 */

/** A row returned by a query. */
export type Row = Record<string, unknown>;

/**
 * What one statement did, as psql tells it: its rows, and its command tag (`SELECT 2`,
 * `INSERT 0 1`, `UPDATE 3`, `CREATE`).
 */
export interface StatementResult {
  /** Column names in order; none for a statement that returns no rows (INSERT, DDL). */
  columns: string[];
  /** The rows, as {@linkcode SqlSession.query} returns them. */
  rows: Row[];
  /**
   * The command tag's first word: `SELECT`, `INSERT`, `UPDATE`, `DELETE`, `CREATE`, `SET` …
   * (PGlite reports no more of a tag such as `CREATE TABLE`: both adapters say `CREATE`).
   */
  command: string;
  /** The tag's count (rows selected, inserted, updated, deleted); undefined when it has none. */
  count?: number;
  /** Columns of type `date`: their values come as instants at UTC midnight, a day is meant. */
  dateColumns?: string[];
}

/** A SQL session: everything runs on one connection, so session state (locks, temp tables) holds. */
export interface SqlSession {
  /** Runs one parameterised statement and returns its rows. */
  query<T extends Row = Row>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  /**
   * Bulk-loads rows (arrays of text or null, in `columns` order) into a table with COPY,
   * streaming batches as they are produced so parsing and loading overlap. No other query may
   * run on the session until it resolves.
   */
  copyRows(
    table: string,
    columns: readonly string[],
    batches: AsyncIterable<readonly (readonly (string | null)[])[]>,
  ): Promise<number>;
  /**
   * Bulk-loads CSV bytes (with a header line, which is skipped) into `columns` of a table with
   * `COPY … (FORMAT csv, HEADER true)`, streaming them as they arrive. The server parses the CSV;
   * a malformed file fails the statement (and the transaction, unless a savepoint was taken).
   * No other query may run on the session until it resolves. Each chunk is consumed (sent, or
   * copied) before the next is asked for, so the producer may read the next one into the same
   * buffer.
   */
  copyCsv(
    table: string,
    columns: readonly string[],
    body: AsyncIterable<Uint8Array>,
  ): Promise<void>;
  /**
   * Stops the statements this session is running now (PostgreSQL: a cancel request; each fails
   * with SQLSTATE 57014). Never rejects. Absent where a statement cannot be stopped (embedded).
   */
  cancel?(): Promise<void>;
}

/**
 * The database: PostgreSQL (postgres.js) or embedded PGlite.
 *
 * @example One transaction, parameterised queries, a run lock
 * ```ts ignore
 * import { createPgliteDatabase, type Database } from "../../mod.ts";
 *
 * const db: Database = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * if (await db.tryLock("fleettickets:inc")) {
 *   try {
 *     const open = await db.transaction(async (tx) => {
 *       const rows = await tx.query<{ n: number }>(
 *         `select count(*)::int as n from tickets.inc where region = $1 and is_actionable`,
 *         ["nairobi"],
 *       );
 *       return rows[0]?.n ?? 0;
 *     });
 *     console.log(`${open} open tickets in Nairobi (${db.kind})`);
 *   } finally {
 *     await db.unlock("fleettickets:inc");
 *   }
 * }
 * await db.close();
 * ```
 */
export interface Database extends SqlSession {
  /** `postgres` or `pglite`, for reports. */
  readonly kind: "postgres" | "pglite";
  /**
   * Which database, in words for reports (never a password): `PostgreSQL at host:5432
   * (database "x")`, `the embedded database ".data/pglite"`.
   */
  readonly description?: string;
  /** True for a database that keeps nothing once closed (embedded, in memory). */
  readonly ephemeral?: boolean;
  /** Runs `fn` in one transaction: commit when it resolves, roll back when it throws. */
  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T>;
  /**
   * Set on a pool opened read only (serve's PostgreSQL pool): every statement, in a transaction
   * or not, runs `READ ONLY` with this statement timeout, milliseconds, set by the server for
   * the whole session.
   */
  readonly readOnlyTimeoutMs?: number;
  /**
   * Runs `fn` on one connection of the pool, outside any transaction (PostgreSQL only): its
   * statements go out at once and run in the order they were issued, each with its own
   * snapshot. No BEGIN or COMMIT: a read of one statement takes one round trip.
   */
  session?<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  /**
   * Runs one statement without parameters, as given (the `sql` command), and says what it did.
   * Several statements are refused as for {@linkcode SqlSession.query} ("cannot insert multiple
   * commands into a prepared statement"): run them with {@linkcode SqlSession.exec}.
   */
  runStatement(text: string): Promise<StatementResult>;
  /**
   * Cancels the statements in flight (PostgreSQL only: its cancel request; the embedded database
   * works on this thread, where nothing can stop a statement): the one running on the server
   * stops at once with an error and its transaction rolls back. Statements issued meanwhile wait
   * until the server has taken the request. Never rejects.
   */
  cancel?(): Promise<void>;
  /**
   * Does for `tables` what PostgreSQL's autovacuum does on its own, where nothing does it (the
   * embedded database only: PGlite runs no autovacuum and keeps no table statistics from one
   * session to the next, so nothing would ever trigger it): `VACUUM`, so that the space of the
   * row versions that updates replaced is used again instead of the data directory growing with
   * every run, and `ANALYZE` when the first table has no statistics yet or `rowsWritten` is at
   * least a tenth of its rows. Absent on PostgreSQL.
   */
  tidy?(tables: readonly string[], rowsWritten: number): Promise<void>;
  /** Takes a named run lock without waiting; false when another process holds it. */
  tryLock(name: string): Promise<boolean>;
  /** Releases a lock taken by `tryLock`. */
  unlock(name: string): Promise<void>;
  /**
   * Calls `onEvent` on each notification on `channel` (`LISTEN`; PostgreSQL delivers a
   * `NOTIFY` when its transaction commits), and each time listening (re)starts, since
   * notifications sent while it was down are lost. Resolves once listening; the function it
   * returns stops.
   */
  listen(channel: string, onEvent: () => void): Promise<() => Promise<void>>;
  /**
   * Closes the connection or the embedded instance; a server's statements still running get at
   * most `timeoutS` seconds to end (default: the adapter's).
   */
  close(timeoutS?: number): Promise<void>;
}
