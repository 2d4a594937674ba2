/**
 * A session that sends no statement once the run is stopped. Private to core/.
 *
 * @module
 */

import type { Row, SqlSession } from "./ports/database.ts";

/**
 * `tx`, refusing every statement once `signal` is aborted (with the signal's reason). A stop
 * that comes between two statements finds nothing on the server to cancel; without this the next
 * statement (a large file's merge: seconds, minutes on a busy server) would still be sent and run
 * to its end, past the run's grace.
 */
export function stoppingSession(tx: SqlSession, signal: AbortSignal): SqlSession {
  return {
    async query<T extends Row = Row>(text: string, params?: readonly unknown[]): Promise<T[]> {
      signal.throwIfAborted();
      return await tx.query<T>(text, params);
    },
    async exec(script) {
      signal.throwIfAborted();
      await tx.exec(script);
    },
    async copyRows(table, columns, batches) {
      signal.throwIfAborted();
      return await tx.copyRows(table, columns, batches);
    },
    async copyCsv(table, columns, body) {
      signal.throwIfAborted();
      await tx.copyCsv(table, columns, body);
    },
  };
}
