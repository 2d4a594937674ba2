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

/** A 0..1 rate as a percentage with `digits` decimals, rounded as {@linkcode decimalText}. */
export function percentText(rate: number, digits: number): string {
  // `rate` × 100 on the decimal text: 0.0295 × 100 is 2.9499999999999997 as a double. A rate
  // written with an exponent (1e-7) has no such text: multiplied, it is far from any half.
  const shifted = Number(`${rate}e2`);
  return decimalText(Number.isFinite(shifted) ? shifted : rate * 100, digits);
}
