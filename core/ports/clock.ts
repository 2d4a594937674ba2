/**
 * The clock port, injected so tests control time.
 *
 * @module
 */

/** A source of the current time, injected so tests control it. */
export interface Clock {
  /** The current instant. */
  now(): Date;
}

/** The system clock. */
export const systemClock: Clock = { now: () => new Date() };
