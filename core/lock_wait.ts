/**
 * A command's waits for tables another session holds, bounded (PostgreSQL; the embedded database
 * has one session): past the bound the statement fails (lock_not_available), and
 * {@linkcode lockWaitError} says who held the tables and what to do. Before, `status` and
 * `report` waited, silent, for as long as a session held `tickets.inc` locked (a `VACUUM FULL`, an
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
 * Bounds every later wait of the session for rows or tables another session holds, in
 * milliseconds; 0 leaves it unbounded. Nothing to bound on the embedded database.
 */
export async function boundLockWaits(db: Database, timeoutMs: number): Promise<void> {
  if (db.kind !== "postgres" || timeoutMs === 0) return;
  await db.query(`select set_config('lock_timeout', $1, false)`, [`${timeoutMs}`]);
}

/**
 * `error` in words when it is a lock wait of `command` that ran out: who holds the schema's
 * tables beyond reading them (best effort), the statement that ends the first, and what to do;
 * undefined for any other error. Call it once the failed transaction is over (the lookup is a
 * statement of its own).
 *
 * @example
 * ```ts ignore
 * await boundLockWaits(db, READ_LOCK_TIMEOUT_MS);
 * const report = await buildReport(db).catch(async (error) => {
 *   throw await lockWaitError(db, error, "report", READ_LOCK_TIMEOUT_MS) ?? error;
 * });
 * ```
 */
export async function lockWaitError(
  db: Database,
  error: unknown,
  command: string,
  timeoutMs: number,
): Promise<Error | undefined> {
  if (db.kind !== "postgres" || sqlState(error) !== LOCK_NOT_AVAILABLE) return undefined;
  const { said, first } = await lockHolders(db, true);
  const who = said.length > 0 ? ` (${said.join(", ")})` : "";
  const end = first === undefined ? "" : ` (select pg_terminate_backend(${first}))`;
  return new Error(
    `another session held tables ${command} needs for ${timeoutMs / 1000} s${who}; end it${end} ` +
      `or let it finish, then run ${command} again`,
    { cause: error },
  );
}
