import assert from "node:assert/strict";
import { terminalText } from "./terminal_text.ts";

Deno.test("terminalText() writes control and direction characters as escapes, the rest as given", () => {
  assert.equal(terminalText("Westlands\x1b[2J"), "Westlands\\x1b[2J"); // would clear the screen
  assert.equal(terminalText("a\tb\nc\x7f\x9b"), "a\\x09b\\x0ac\\x7f\\x9b");
  // U+202E turned the columns after it around on a terminal that does bidi.
  assert.equal(
    terminalText("Kasarani \u202eLFN\u2066x\u2069"),
    "Kasarani \\u202eLFN\\u2066x\\u2069",
  );
  assert.equal(terminalText("Mji wa Kale, Mombasa – Ñ ü 東京"), "Mji wa Kale, Mombasa – Ñ ü 東京");
});
