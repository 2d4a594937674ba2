/**
 * The error geocoder adapters throw; callers stop a run on a terminal one.
 *
 * @module
 */

/** A provider failed (transient: retry later) or refused (terminal: key, quota, forbidden). */
export class GeocoderError extends Error {
  /** HTTP status, when there was a response. */
  readonly status: number | undefined;
  /** True when retrying cannot help (bad key, quota exhausted, forbidden). */
  readonly terminal: boolean;

  /** Creates the error; the message must never contain the API key. */
  constructor(message: string, options: { status?: number; terminal: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = "GeocoderError";
    this.status = options.status;
    this.terminal = options.terminal;
  }
}
