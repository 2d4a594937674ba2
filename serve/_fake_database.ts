// A Database for handler tests: records every statement and answers none (the test decides
// what a query returns, or proves none was made). Private to serve/.

import type { Database, Row, SqlSession } from "../core/ports/mod.ts";

/** A recording fake; `answer` returns rows for a statement, or throws. */
export function fakeDatabase(
  answer: (text: string, params: readonly unknown[]) => Row[] = () => {
    throw new Error("The database must not be reached");
  },
): Database & { statements: string[] } {
  const statements: string[] = [];
  const session: SqlSession = {
    query<T extends Row = Row>(text: string, params: readonly unknown[] = []): Promise<T[]> {
      statements.push(text);
      try {
        return Promise.resolve(answer(text, params) as T[]);
      } catch (error) {
        return Promise.reject(error);
      }
    },
    exec: () => Promise.reject(new Error("exec is not expected")),
    copyRows: () => Promise.reject(new Error("copyRows is not expected")),
    copyCsv: () => Promise.reject(new Error("copyCsv is not expected")),
  };
  return {
    ...session,
    statements,
    kind: "postgres",
    transaction: (fn) => fn(session),
    runStatement: () => Promise.reject(new Error("runStatement is not expected")),
    tryLock: () => Promise.resolve(true),
    unlock: () => Promise.resolve(),
    listen: () => Promise.resolve(() => Promise.resolve()),
    close: () => Promise.resolve(),
  };
}
