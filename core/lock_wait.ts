/**
 * A command's waits for rows or tables another session holds, bounded (PostgreSQL; the embedded
 * database has one session): past the bound the statement fails (lock_not_available), and
 * {@linkcode sayingLockWaits} says who held them and what to do. Before, `status` and `report`
 * waited, silent, for as long as a session held `tickets.inc` locked (a `VACUUM FULL`, an
 * `ALTER`, a psql left in a `LOCK TABLE`): a tester's health check hung until it was killed.
 *
 * @module
 */

import { LOCK_NOT_AVAILABLE, lockHolders } from "./_lock_holders.ts";
import { sqlState } from "./_sql.ts";
import type { Database } from "./ports/mod.ts";

/**
 * How long a reading command (`status`, `report`) waits for a table another session holds. Its
 * reads take milliseconds and a run's writes never block them: only a lock that keeps every
 * reader out does (DDL, `VACUUM FULL`, `LOCK TABLE`).
 */
export const READ_LOCK_TIMEOUT_MS = 10_000;

/**
 * How long a writing command (an applying run, `capture`, `geocode`, `gazetteer`) and a dry run
 * wait for rows or tables another session holds. A psql left in an open transaction after editing
 * a ticket held the run for as long as it stayed open, and every scheduled run after it skipped,
 * the run's lock still held. Another run's writes (geocode, a gazetteer import) take seconds.
 */
export const FILE_LOCK_TIMEOUT_MS = 60_000;

/**
 * Bounds every later wait of the session for rows or tables another session holds, in
 * milliseconds; 0 leaves it unbounded. Nothing to bound on the embedded database. A session
 * setting: set it again on a new connection.
 */
export async function boundLockWaits(db: Database, timeoutMs: number): Promise<void> {
  if (db.kind !== "postgres" || timeoutMs === 0) return;
  await db.query(`select set_config('lock_timeout', $1, false)`, [`${timeoutMs}`]);
}

/** What a command was doing when its lock wait ran out: reading, or writing. */
export interface LockWait {
  /** The command, as the user typed it (`status`, `capture`). */
  command: string;
  /** `reads`: only a lock that keeps readers out stopped it; `writes`: rows or tables. */
  does: "reads" | "writes";
  /** The bound it waited, ms. */
  timeoutMs: number;
}

/**
 * Runs `fn`; a lock wait that runs out fails in words ({@linkcode lockWaitError}), any other
 * error as it is. The bound itself is the connection's: `openDatabase`'s `lockWait` puts it in
 * the startup message of every connection (the schema check's included).
 *
 * @example
 * ```ts ignore
 * const wait = { command: "report", does: "reads", timeoutMs: READ_LOCK_TIMEOUT_MS } as const;
 * const db = await openDatabase(config, { requireMigrated: true, lockWait: wait });
 * const report = await sayingLockWaits(db, wait, () => buildReport(db));
 * ```
 */
export async function sayingLockWaits<T>(
  db: Database,
  wait: LockWait,
  fn: () => Promise<T>,
): Promise<T> {
  return await fn().catch(async (error) => {
    throw await lockWaitError(db, error, wait) ?? error;
  });
}

/**
 * `error` in words when it is a lock wait that ran out: who holds (or waits for) what stopped
 * the command (best effort), the statement that ends the first, and what to do; undefined for
 * any other error. Called once the failed transaction is over (the lookup is a statement).
 */
async function lockWaitError(
  db: Database,
  error: unknown,
  wait: LockWait,
): Promise<Error | undefined> {
  if (db.kind !== "postgres" || sqlState(error) !== LOCK_NOT_AVAILABLE) return undefined;
  const { command, does, timeoutMs } = wait;
  const { said, first } = await lockHolders(db, does === "reads" ? "readers" : "writers");
  const what = does === "reads" ? `tables ${command} reads` : `rows or tables ${command} writes`;
  const who = said.length > 0 ? ` (${said.join(", ")})` : "";
  const end = first === undefined ? "" : ` (select pg_terminate_backend(${first}))`;
  return new Error(
    `Cannot run ${command}: another session held ${what} for ${timeoutMs / 1000} s${who}; ` +
      `end it${end} or let it finish, then run ${command} again`,
    { cause: error },
  );
}
