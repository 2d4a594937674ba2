/**
 * The clock port, injected so tests control time.
 *
 * @module
 */

/**
 * A source of the current time, injected so tests control it.
 *
 * @example A fixed clock for a test
 * ```ts
 * import type { Clock } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const clock: Clock = { now: () => new Date("2026-06-15T14:00:00Z") };
 * assert.equal(clock.now().toISOString(), "2026-06-15T14:00:00.000Z");
 * ```
 */
export interface Clock {
  /** The current instant. */
  now(): Date;
}

/**
 * The system clock.
 *
 * @example Usage
 * ```ts
 * import { systemClock } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.ok(Math.abs(systemClock.now().getTime() - Date.now()) < 1000);
 * ```
 */
export const systemClock: Clock = { now: () => new Date() };
