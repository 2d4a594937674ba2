/**
 * A name (cluster, team, owner, status) as fleettickets matches and groups it: in any case,
 * without the white space around it. The database's `tickets.name_key` (migration 015) is the
 * same rule: JavaScript's `trim()` white space, lowered.
 *
 * @module
 */

/**
 * The key of a name: `" NBI North FLM\t"` and `"nbi north flm"` are one.
 *
 * @example
 * ```ts
 * import { nameKey } from "./name_key.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(nameKey("\u00a0NBI North FLM\t"), nameKey("nbi north flm"));
 * ```
 */
export function nameKey(name: string): string {
  return name.trim().toLowerCase();
}
