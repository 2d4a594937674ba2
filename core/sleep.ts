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

/**
 * `pending`, or its stop: rejects with `signal`'s reason as soon as it aborts, without waiting
 * for `pending` (a download from a stalled object store, which sees no signal, would hold a
 * stopped run until its own timeout). What `pending` does later is ignored.
 *
 * @example
 * ```ts
 * import { untilStopped } from "./sleep.ts";
 * import assert from "node:assert/strict";
 *
 * const stop = new AbortController();
 * const stalled = new Promise<string>(() => {}); // a read that never ends
 * setTimeout(() => stop.abort(new Error("Interrupted by SIGTERM")), 10);
 * await assert.rejects(untilStopped(stalled, stop.signal), /Interrupted by SIGTERM/);
 * ```
 */
export function untilStopped<T>(pending: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return pending;
  pending.catch(() => {}); // its failure after the stop is nobody's
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const stopped = () => reject(signal.reason);
    signal.addEventListener("abort", stopped, { once: true });
    pending.then(resolve, reject).finally(() => signal.removeEventListener("abort", stopped));
  });
}
