/**
 * Whether a failure is worth retrying as is (the report's `transient`): a network or server
 * hiccup, yes; a deterministic data or permission error, no (every rerun fails the same way
 * until a person fixes the file, the grant or the configuration).
 *
 * @module
 */

import { ChangeFileError } from "./change_file_error.ts";
import { ObjectStoreError } from "./ports/mod.ts";

// SQLSTATE classes that a rerun cannot change: data exceptions, integrity violations, syntax or
// access rules (42501 insufficient privilege), program limits (54000 index row too large),
// unsupported features, invalid transaction state (25006 read-only transaction), insufficient
// resources (53100 disk full, 53200 out of memory on the same file), a refused login (28P01
// wrong password, 28000 no such role or no pg_hba.conf entry), no such database (3D000).
const DETERMINISTIC_CLASSES = new Set([
  "22",
  "23",
  "42",
  "54",
  "0A",
  "25",
  "53",
  "2B",
  "44",
  "28",
  "3D",
]);
// Within those classes, the ones that pass: too many connections frees up.
const TRANSIENT_CODES = new Set(["53300"]);

/**
 * True when rerunning as is can succeed: connection and server failures, a truncated
 * download, an interruption. False for an unreadable file, a refused store, a PostgreSQL error
 * of a deterministic class, or a permission the worker does not have.
 *
 * @example
 * ```ts
 * isTransient(Object.assign(new Error("permission denied for table inc"), { code: "42501" })); // false
 * isTransient(Object.assign(new Error("write ECONNRESET"), { code: "ECONNRESET" })); // true
 * ```
 */
export function isTransient(error: unknown): boolean {
  return transient(error, 0);
}

function transient(error: unknown, depth: number): boolean {
  if (error instanceof ChangeFileError) return false;
  if (error instanceof ObjectStoreError) return !error.terminal;
  if (error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable) {
    return false;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) {
    return TRANSIENT_CODES.has(code) || !DETERMINISTIC_CLASSES.has(code.slice(0, 2));
  }
  // A wrapper without a code of its own ("Cannot connect to PostgreSQL …") is as transient as
  // what it wraps (a few levels down: a cause may lead back to itself).
  const cause = (error as { cause?: unknown } | null)?.cause;
  if (code === undefined && cause instanceof Error && depth < MAX_CAUSE_DEPTH) {
    return transient(cause, depth + 1);
  }
  return true;
}

/** How many wrappers {@linkcode isTransient} looks through. */
const MAX_CAUSE_DEPTH = 5;
