/**
 * Read-only transactions for the read API: every request's queries run in one READ ONLY
 * transaction with a statement timeout, so a reader can neither write nor hold the database,
 * and in one snapshot (REPEATABLE READ), so what it reads first (the data version) labels what
 * it reads next.
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
        String(Math.max(1, Math.round(options.timeoutMs))),
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
