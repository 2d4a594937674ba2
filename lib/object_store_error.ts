/**
 * The error object store adapters throw when retrying as is cannot help.
 *
 * @module
 */

/** The store refused a request for good (credentials, permissions, no such bucket). */
export class ObjectStoreError extends Error {
  /** HTTP status, when there was a response. */
  readonly status: number | undefined;
  /** True when retrying as is cannot help; a person must fix the configuration. */
  readonly terminal: boolean;

  /** Creates the error; the message must never contain a secret. */
  constructor(message: string, options: { status?: number; terminal: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = "ObjectStoreError";
    this.status = options.status;
    this.terminal = options.terminal;
  }
}
