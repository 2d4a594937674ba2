/**
 * A database role that may not write, told by PostgreSQL's SQLSTATE: 25006
 * (read_only_sql_transaction: the role's transactions are read only by default, or the server is
 * a standby) and 42501 (insufficient_privilege). A reader's DATABASE_URL given to the worker (a
 * natural mix-up of two .env files) then fails every write with the server's words only
 * (`cannot execute INSERT in a read-only transaction`); the commands that write add this hint.
 *
 * @module
 */

import { sqlState } from "./_sql.ts";

/** What is known of the session that was refused. */
export interface WriteRefusedSession {
  /** The database role (`current_user`, or DATABASE_URL's user); never a password. */
  role?: string;
  /** Whether the server is a standby (`pg_is_in_recovery()`); undefined when not known. */
  standby?: boolean;
}

/** The named query for {@linkcode WriteRefusedSession} (PostgreSQL). */
export const SELECT_WRITE_SESSION =
  "select current_user::text as role, pg_is_in_recovery() as standby";

/**
 * The cause and the fix of a write the database refused the role, or undefined when `error` (or
 * a cause of it) is no such refusal.
 *
 * @example A role whose transactions are read only by default
 * ```ts
 * import { writeRefusedHint } from "./write_refused.ts";
 * import assert from "node:assert/strict";
 *
 * const error = Object.assign(new Error("cannot execute INSERT in a read-only transaction"), {
 *   code: "25006",
 * });
 * assert.equal(
 *   writeRefusedHint(error, { role: "fleettickets_reader", standby: false }),
 *   'the database role "fleettickets_reader" may not write (read-only transactions by ' +
 *     "default); the worker needs the schema owner's role in DATABASE_URL",
 * );
 * assert.equal(writeRefusedHint(new Error("syntax error")), undefined);
 * ```
 */
export function writeRefusedHint(
  error: unknown,
  session: WriteRefusedSession = {},
): string | undefined {
  const code = sqlState(error);
  if (code !== READ_ONLY && code !== NO_PRIVILEGE) return undefined;
  const role = session.role ? `the database role "${session.role}"` : "the database role";
  const fix = "the worker needs the schema owner's role in DATABASE_URL";
  const database = noSchemaYet(error);
  if (code === NO_PRIVILEGE && database !== undefined) {
    // No schema yet: the role may not create one (before: told to use the schema owner's role).
    const who = session.role ? `"${session.role.replaceAll('"', '""')}"` : "the worker's role";
    return `${role} may not create the schema in database "${database}"; as its owner or a ` +
      `superuser run: grant create on database "${database.replaceAll('"', '""')}" to ${who} ` +
      `(or make that role the database's owner)`;
  }
  if (code === NO_PRIVILEGE) {
    return `${role} lacks the rights the worker needs on the schema; ${fix}`;
  }
  if (session.standby === true) {
    return "the server is a standby, which is read only; DATABASE_URL must name the primary";
  }
  return session.standby === false
    ? `${role} may not write (read-only transactions by default); ${fix}`
    : `${role} may not write (read-only transactions by default, or a standby server); ${fix}, ` +
      `on the primary`;
}

/**
 * `migrate` refused the schema's creation in a database that holds none yet: the role lacks
 * CREATE on the database (SQLSTATE 42501, "permission denied for database X"). Where the schema
 * exists, the same refusal means the role is not its owner: the usual hint.
 */
export class NoSchemaYetError extends Error {
  /** SQLSTATE insufficient_privilege, as the refusal it wraps. */
  readonly code = NO_PRIVILEGE;
  /** Creates the error for `database`. */
  constructor(readonly database: string, options?: { cause?: unknown }) {
    super(`permission denied for database ${database}`, options);
    this.name = "NoSchemaYetError";
  }
}

/** The database of a {@linkcode NoSchemaYetError} in `error`'s causes, if any. */
function noSchemaYet(error: unknown): string | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (e instanceof NoSchemaYetError) return e.database;
    e = e.cause;
  }
  return undefined;
}

/** read_only_sql_transaction. */
const READ_ONLY = "25006";
/** insufficient_privilege. */
const NO_PRIVILEGE = "42501";
