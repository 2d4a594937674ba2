/**
 * Read-only transactions for the read API: every request's queries run READ ONLY with a
 * statement timeout, so a reader can neither write nor hold the database. {@linkcode readOnly}
 * runs them in one snapshot (REPEATABLE READ); {@linkcode readInOrder} runs them in order, each
 * in its own, without BEGIN and COMMIT when the pool itself is read only.
 *
 * @module
 */

import type { Database, SqlSession } from "./ports/mod.ts";

/** Options for {@linkcode readOnly}. */
export interface ReadOnlyOptions {
  /** Statement timeout, milliseconds. */
  timeoutMs: number;
}

/**
 * Runs `fn` in a READ ONLY, REPEATABLE READ transaction whose statements time out after
 * `timeoutMs` (SQLSTATE 25006 on any write, 57014 on a timeout). The settings go out together
 * with `fn`'s first statement, without waiting for their answer: a session runs its statements
 * in order, and a failed setting fails every later statement of the transaction.
 */
export function readOnly<T>(
  db: Database,
  options: ReadOnlyOptions,
  fn: (tx: SqlSession) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    const settings = Promise.all([
      tx.query(`set transaction isolation level repeatable read, read only`),
      tx.query(`select set_config('statement_timeout', $1, true)`, [
        String(wholeTimeoutMs(options.timeoutMs)),
      ]),
    ]);
    const result = fn(tx);
    try {
      await settings;
    } catch (error) {
      result.catch(() => {}); // failed because the settings did: report theirs
      throw error;
    }
    return await result;
  });
}

/**
 * Runs `fn`'s statements in the order issued, each READ ONLY with the statement timeout. On a
 * pool opened read only with that timeout (serve's PostgreSQL pool) they run outside any
 * transaction, on one connection, sent at once: one round trip for a read of one statement
 * where a transaction takes three. Each statement has its own snapshot, so a caller reads the
 * data version first: the data it then reads is as new as that version or newer, never older.
 * Anywhere else, {@linkcode readOnly}.
 */
export function readInOrder<T>(
  db: Database,
  options: ReadOnlyOptions,
  fn: (session: SqlSession) => Promise<T>,
): Promise<T> {
  if (db.session !== undefined && db.readOnlyTimeoutMs === wholeTimeoutMs(options.timeoutMs)) {
    return db.session(fn);
  }
  return readOnly(db, options, fn);
}

/**
 * A statement timeout as PostgreSQL is given it: whole milliseconds, at least 1 (it reads a
 * fraction below 1 as 0, no timeout at all).
 */
export function wholeTimeoutMs(ms: number): number {
  return Math.max(1, Math.round(ms));
}
