/**
 * The error a caller catches when a change file cannot be applied at all.
 *
 * @module
 */

/**
 * A change file is structurally broken (unterminated quote, no `ticket_id` column, …).
 * The whole file fails: its transaction rolls back and it stays in `changes/`.
 */
export class ChangeFileError extends Error {
  /** Object key of the file. */
  readonly key: string;
  /** 1-based line where the problem was found, when known. */
  readonly line: number | undefined;

  /** Creates the error; the message names the key, the line and the reason. */
  constructor(key: string, reason: string, options?: { line?: number; cause?: unknown }) {
    const where = options?.line === undefined ? "" : `line ${options.line} `;
    super(`Cannot apply change file "${key}": ${where}${reason}`, { cause: options?.cause });
    this.name = "ChangeFileError";
    this.key = key;
    this.line = options?.line;
  }
}
