/**
 * East Africa Time (Africa/Nairobi, UTC+3, no daylight saving): every time fleettickets prints.
 *
 * @module
 */

const EAT_OFFSET_MS = 3 * 3600_000;

/**
 * An instant as ISO 8601 in EAT, to the second.
 *
 * @example
 * ```ts
 * eatIso(new Date("2026-06-15T14:00:00Z")); // "2026-06-15T17:00:00+03:00"
 * ```
 */
export function eatIso(instant: Date): string {
  return new Date(instant.getTime() + EAT_OFFSET_MS).toISOString().slice(0, 19) + "+03:00";
}
