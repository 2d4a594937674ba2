/**
 * A name (cluster, team, owner, status) as fleettickets matches and groups it: in any case and
 * either Unicode form, without the white space around it. The database's `tickets.name_key`
 * (migrations 015 and 016) is the same rule: brought to NFC, JavaScript's `trim()` white space
 * dropped, lowered.
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
 * assert.equal(nameKey("Nyali Be\u0301ach"), nameKey("NYALI B\u00c9ACH"));
 * ```
 */
export function nameKey(name: string): string {
  return name.normalize("NFC").trim().toLowerCase();
}
