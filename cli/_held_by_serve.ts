// What to do when a running serve holds the embedded database another command needs: it keeps
// the database until stopped, and the database takes one process at a time. Private to cli/.

import {
  type DatabaseLockedError,
  lockedBy,
  type LockHolder,
} from "../adapters/pglite_database.ts";
import { type Config, DEFAULT_PGLITE_DIR, DEMO_PGLITE_DIR, sameDir } from "../app/config.ts";

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

/**
 * A running serve of the demo's database, when `config` writes to the default embedded folder:
 * serve reads the demo's while that folder has no database (cli/_config_to_read.ts), and keeps
 * showing it after an ingest has made one there. Undefined otherwise.
 */
export async function serveOfTheDemo(
  config: Config,
  { defaultDir = DEFAULT_PGLITE_DIR, demoDir = DEMO_PGLITE_DIR } = {},
): Promise<LockHolder | undefined> {
  if (config.databaseUrl !== undefined || !sameDir(config.pgliteDir, defaultDir)) return undefined;
  const held = await lockedBy(demoDir);
  return held?.heldByServe ? held.holder : undefined;
}

/** What {@linkcode serveOfTheDemo} found, said to whoever wrote into `dir`. */
export function servesTheDemo(holder: LockHolder, dir: string, demoDir = DEMO_PGLITE_DIR): string {
  return `a running "serve" (process ${holder.pid}) shows the demo's database "${demoDir}", ` +
    `not "${dir}", which this run writes: restart serve (kill ${holder.pid}, then "deno task ` +
    `serve") to show this data`;
}
