/**
 * The names a `.env` text sets to a value, read as the shell's `set -a; . ./.env` would: an
 * optional `export`, blanks around `=`, an optional opening quote, then a value on the same line
 * (`NAME=` followed by another line sets it empty, and a byte-order mark before the first name is
 * not part of it). Shared by the commands' `.env` checks and `deno task compile`.
 *
 * @module
 */

/**
 * The names `text` sets to a non-empty value, in order of first appearance.
 *
 * @example
 * ```ts
 * import { dotEnvSet } from "./dot_env_set.ts";
 * import assert from "node:assert/strict";
 *
 * const text = "\uFEFFDATABASE_URL=postgres://db/x\nexport RUSTFS_ENDPOINT='http://s3:9000'\n" +
 *   "SERVE_TOKEN=\nPORT=8080\n# TZ=UTC\n";
 * assert.deepEqual(dotEnvSet(text), ["DATABASE_URL", "RUSTFS_ENDPOINT", "PORT"]);
 * ```
 */
export function dotEnvSet(text: string): string[] {
  const names = new Set<string>();
  for (const line of text.replace(/^\uFEFF/, "").split(/\r?\n/)) {
    const name = /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*['"]?[^\s'"#]/
      .exec(line)?.[1];
    if (name !== undefined) names.add(name);
  }
  return [...names];
}
