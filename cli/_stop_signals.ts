/**
 * SIGINT/SIGTERM for a command that stops cleanly (ingest, geocode). Private to cli/.
 *
 * @module
 */

import { type MainIo, SIGNAL_GRACE_MS } from "./_context.ts";

/** What {@linkcode watchStopSignals} gives its command. */
export interface StopSignals {
  /** Aborted by the first signal, with the reason the command was given. */
  signal: AbortSignal;
  /** The first signal's name, once one came. */
  readonly by: string | undefined;
  /** Stops watching (the command has ended). */
  stop(): void;
}

/**
 * The first signal aborts {@linkcode StopSignals.signal} with `reason(signal)`: the command rolls
 * back what it was doing and reports. A step that cannot be interrupted (PGlite's first boot or
 * merge, a server that does not take the cancel, a provider that does not answer) must not keep
 * the process alive: `graceMs` later, or at once on a second signal (a user pressing Ctrl-C
 * again), the process ends with exit 1, saying so. Every write is transactional, so ending
 * there is as safe as the crash it is.
 */
export function watchStopSignals(
  io: MainIo,
  redact: (text: string) => string,
  reason: (signal: string) => Error,
  graceMs = SIGNAL_GRACE_MS,
): StopSignals {
  const controller = new AbortController();
  let by: string | undefined;
  let forced: ReturnType<typeof setTimeout> | undefined;
  const endNow = (why: string) => {
    clearTimeout(forced);
    io.stderr(redact(`${why}: stopped without waiting for the current step\n`));
    io.exit?.(1);
  };
  const unsubscribe = io.onSignal((signal) => {
    if (by !== undefined) return endNow(`Interrupted again by ${signal}`);
    by = signal;
    controller.abort(reason(signal));
    forced = setTimeout(() => endNow(`Interrupted by ${signal}`), graceMs);
  });
  return {
    signal: controller.signal,
    get by(): string | undefined {
      return by;
    },
    stop() {
      unsubscribe();
      clearTimeout(forced);
    },
  };
}
