/**
 * Text from the feed or a request, safe to print on a terminal: control characters (C0, DEL, C1)
 * and the Unicode direction controls are written as escapes (`\x1b`, `\u202e`), so a ticket's
 * location cannot colour or move the operator's terminal, nor turn the text after it around.
 *
 * @example Usage
 * ```ts
 * import { terminalText } from "./terminal_text.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(terminalText("Westlands\x1b[31m"), "Westlands\\x1b[31m");
 * assert.equal(terminalText("Kasarani \u202eevil"), "Kasarani \\u202eevil");
 * assert.equal(terminalText("Nyali Beach"), "Nyali Beach");
 * ```
 *
 * @module
 */

// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with its control and direction characters written as escapes. */
export function terminalText(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
