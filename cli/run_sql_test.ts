import assert from "node:assert/strict";
import { formatRows, jsonCutNote, onlyComments } from "./run_sql.ts";

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

Deno.test("sql --json says on stderr when it printed fewer rows than the statement returned", () => {
  assert.equal(
    jsonCutNote(1500, 1000),
    "Note: the statement returned 1500 rows; --json printed the first 1000 (--max-rows 1500 " +
      "prints them all)",
  );
  assert.equal(jsonCutNote(1000, 1000), undefined);
  assert.equal(jsonCutNote(0, 1000), undefined);
});

Deno.test("onlyComments() tells SQL of comments alone from a statement, whatever the database answered", () => {
  assert.equal(onlyComments("-- look\n  /* later */\n"), true);
  assert.equal(onlyComments("-- look\nselect 1"), false);
  // PGlite answers this with no columns, no rows and no error: it is still a statement.
  assert.equal(
    onlyComments("select * from postgis_srs_search(ST_MakeEnvelope(36, -2, 37, -1, 4326))"),
    false,
  );
});
