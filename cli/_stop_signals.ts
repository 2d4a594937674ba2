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

/** How {@linkcode watchStopSignals} stops its command. */
export interface StopSignalOptions {
  /** Hides secrets from what it prints. */
  redact: (text: string) => string;
  /** The error the first signal aborts the command with. */
  reason: (signal: string) => Error;
  /**
   * Tells why the process ends without waiting (default: a line on stderr). Under cron, ingest
   * makes it a JSON line, as the rest of its log.
   */
  tell?: (message: string) => void;
  /** Milliseconds the command gets after the first signal (default SIGNAL_GRACE_MS). */
  graceMs?: number;
}

/**
 * The first signal aborts {@linkcode StopSignals.signal} with `reason(signal)`: the command rolls
 * back what it was doing and reports. A step that cannot be interrupted (PGlite's first boot or
 * merge, a server that does not take the cancel, a provider that does not answer) must not keep
 * the process alive: `graceMs` later, or at once on a second signal (a user pressing Ctrl-C
 * again; one delivered twice is told once, see `collapseRepeats`), the process ends with exit 1,
 * saying so. Every write is transactional, so ending there is as safe as the crash it is. (While
 * the embedded database holds the thread, signals wait for it: neither can act before.)
 */
export function watchStopSignals(io: MainIo, options: StopSignalOptions): StopSignals {
  const { redact, reason, graceMs = SIGNAL_GRACE_MS } = options;
  const tell = options.tell ?? ((message: string) => io.stderr(redact(`${message}\n`)));
  const controller = new AbortController();
  let by: string | undefined;
  let forced: ReturnType<typeof setTimeout> | undefined;
  const endNow = (why: string) => {
    clearTimeout(forced);
    tell(`${why}: stopped without waiting for the current step`);
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
