/**
 * The one rule for numbers people write in flags and settings: decimal notation only.
 *
 * @module
 */

/**
 * Reads a number, 0 or more, written in decimal notation (`2`, `0.5`, `.5`, `2.`); undefined
 * for anything else. `Number()` would also read `0x10` as 16, `1e3` as 1000, ` 2 ` as 2, `""` as
 * 0 and `Infinity`: a value meant otherwise, or a typo, taken silently. CLI flags
 * (`amount()` in cli/_context.ts) and number settings (app/config.ts) both read by it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseDecimal("0.5"), 0.5);
 * assert.equal(parseDecimal("0x10"), undefined);
 * assert.equal(parseDecimal(" 2 "), undefined);
 * ```
 */
export function parseDecimal(text: string): number | undefined {
  return /^(\d+\.?\d*|\.\d+)$/.test(text) ? Number(text) : undefined;
}
