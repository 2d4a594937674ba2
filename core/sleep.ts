/**
 * Waiting that a stop ends at once: a drain's wait for a folder's file to be still, serve's stop
 * and its listening again.
 *
 * @module
 */

/**
 * Resolves after `ms`, or at once when `signal` aborts (the timer cleared).
 *
 * @example
 * ```ts
 * import { sleep } from "./sleep.ts";
 *
 * const stop = new AbortController();
 * const waited = sleep(60_000, stop.signal);
 * stop.abort();
 * await waited; // at once
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve(); // its abort event has fired already
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}
