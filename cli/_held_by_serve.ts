// What to do when a running serve holds the embedded database another command needs: it keeps
// the database until stopped, and the database takes one process at a time. Private to cli/.

import type { DatabaseLockedError } from "../adapters/pglite_database.ts";

/**
 * The way out for `command`, when a running serve holds the embedded database (`error.holder`
 * names it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseLockedError } from "../adapters/pglite_database.ts";
 *
 * const held = new DatabaseLockedError(".data/pglite", { pid: 42, command: "serve", since: "2026-12-01T04:50:00Z" });
 * assert.match(besideServe("ingest", held), /^stop it \(kill 42\), run ingest, then start serve again/);
 * ```
 */
export function besideServe(command: string, error: DatabaseLockedError): string {
  return `stop it (kill ${error.holder?.pid}), run ${command}, then start serve again; or keep ` +
    `the data in PostgreSQL (DATABASE_URL), where ${command} runs while serve does`;
}
