/**
 * The error a caller catches when a change file cannot be applied at all.
 *
 * @module
 */

/**
 * A change file is structurally broken (unterminated quote, no `ticket_id` column, …).
 * The whole file fails: its transaction rolls back and it stays in `changes/`.
 *
 * @example Usage
 * ```ts
 * import { ChangeFileError, parseChangeFile } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const key = "automations/inc/changes/2026-06-15T17-00-00.csv";
 * const body = ReadableStream.from([new TextEncoder().encode("id,owner\nWOT0000001,Jane\n")]);
 * try {
 *   for await (const line of parseChangeFile(body, { key })) assert.fail(`read line ${line.line}`);
 *   assert.fail("a file without a ticket_id column cannot be read");
 * } catch (error) {
 *   assert.ok(error instanceof ChangeFileError);
 *   assert.equal(error.key, key);
 *   assert.equal(error.line, 1);
 *   assert.equal(
 *     error.message,
 *     `Cannot apply change file "${key}": line 1 has no "ticket_id" column in its header`,
 *   );
 * }
 * ```
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
