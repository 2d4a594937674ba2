import assert from "node:assert/strict";
import { formatRows } from "./run_sql.ts";

Deno.test("formatRows() measures cells once redacted: a secret's length does not set the width", () => {
  const redact = (text: string) => text.replaceAll("Kp9vX2mQ7longpassword", "***");
  const text = formatRows(
    [{ a: "Kp9vX2mQ7longpassword" }, { a: "ok" }],
    Infinity,
    ["a"],
    [],
    redact,
  );
  // Before: the header and the rule were as wide as the password.
  assert.equal(text, "a\n---\n***\nok\n(2 rows)");
});
