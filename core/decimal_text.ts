/**
 * A number as text with `digits` decimals, halves rounded up as PostgreSQL's `round()` rounds a
 * numeric: 47.05 is "47.1" (`toFixed` gives "47.0": the double nearest 47.05 is just below it),
 * so a terminal table shows what the API's JSON rounds to.
 *
 * @example Usage
 * ```ts
 * import { decimalText } from "./decimal_text.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(decimalText(47.05, 1), "47.1");
 * assert.equal((47.05).toFixed(1), "47.0");
 * assert.equal(decimalText(2, 1), "2.0");
 * ```
 *
 * @module
 */

/** `value` with `digits` decimals, a half rounded away from zero on its decimal text. */
export function decimalText(value: number, digits: number): string {
  // Beyond 15 digits there is no decimal text to round on (and NaN has none).
  if (!(Math.abs(value) < 1e15)) return value.toFixed(digits);
  // Shifting the decimal text (`47.05e1`), not multiplying the double (47.05 * 10 = 470.49999…).
  const shifted = Number(`${Math.abs(value)}e${digits}`);
  const rounded = Number.isFinite(shifted) ? Number(`${Math.round(shifted)}e-${digits}`) : 0;
  return (value < 0 && rounded !== 0 ? -rounded : rounded).toFixed(digits);
}

/**
 * `part` of `whole` (two counts) as a percentage with `digits` decimals, rounded once from the exact
 * fraction, halves up: 15 of 19 is "78.9" (the API's rate rounded to 4 decimals first, 0.7895,
 * would give "79.0"). Empty text when `whole` is 0.
 */
export function shareText(part: number, whole: number, digits: number): string {
  if (whole === 0) return "";
  const scale = 10 ** (digits + 2);
  const units = Math.floor((part * scale) / whole);
  const rest = part * scale - units * whole;
  const rounded = 2 * rest >= whole ? units + 1 : units;
  return (rounded / 10 ** digits).toFixed(digits);
}
