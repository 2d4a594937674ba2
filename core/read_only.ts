/**
 * Read-only transactions for the read API: every request's queries run in one READ ONLY
 * transaction with a statement timeout, so a reader can neither write nor hold the database.
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
 * Runs `fn` in a READ ONLY transaction whose statements time out after `timeoutMs` (one round
 * trip sets both; SQLSTATE 25006 on any write, 57014 on a timeout).
 */
export function readOnly<T>(
  db: Database,
  options: ReadOnlyOptions,
  fn: (tx: SqlSession) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query(
      `select set_config('transaction_read_only', 'on', true),
              set_config('statement_timeout', $1, true)`,
      [String(Math.max(1, Math.round(options.timeoutMs)))],
    );
    return await fn(tx);
  });
}
