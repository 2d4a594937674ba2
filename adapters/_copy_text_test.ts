import assert from "node:assert/strict";
import { encodeCopyText } from "./_copy_text.ts";

Deno.test("encodeCopyText() writes one tab-separated line per row", () => {
  assert.equal(
    encodeCopyText([
      ["WOT0000001", "inc", "Jane Wanjiru"],
      ["WOT0000002", "crq", "Ali Hassan"],
    ]),
    "WOT0000001\tinc\tJane Wanjiru\nWOT0000002\tcrq\tAli Hassan\n",
  );
});

Deno.test("encodeCopyText() writes null as \\N and the empty string as nothing", () => {
  assert.equal(encodeCopyText([["WOT1", null, "", "x"]]), "WOT1\t\\N\t\tx\n");
  assert.equal(encodeCopyText([[null]]), "\\N\n");
  assert.equal(encodeCopyText([[""]]), "\n");
});

Deno.test("encodeCopyText() escapes tabs, newlines and carriage returns inside values", () => {
  assert.equal(
    encodeCopyText([["Sarit Centre,\tBlock B\r\nGround floor\nSDUS\r"]]),
    "Sarit Centre,\\tBlock B\\r\\nGround floor\\nSDUS\\r\n",
  );
});

Deno.test("encodeCopyText() doubles backslashes, so a literal \\N stays text", () => {
  assert.equal(encodeCopyText([["C:\\exports\\new"]]), "C:\\\\exports\\\\new\n");
  assert.equal(encodeCopyText([["\\N"]]), "\\\\N\n");
  assert.equal(encodeCopyText([["\\"]]), "\\\\\n");
});

Deno.test("encodeCopyText() passes unicode, quotes and commas through unchanged", () => {
  const value = `José Muñoz — Kĩambu 🚧 "Block B", 'x' \u2028 \uFFFD`;
  assert.equal(encodeCopyText([[value, "ok"]]), `${value}\tok\n`);
});

Deno.test("encodeCopyText() writes nothing for no rows and an empty line for an empty row", () => {
  assert.equal(encodeCopyText([]), "");
  assert.equal(encodeCopyText([[]]), "\n");
});

Deno.test("encodeCopyText() output decodes back to the same rows", () => {
  const rows = [
    ["WOT1", null, "", "a\tb", "line 1\r\nline 2", "back\\slash", "\\N", "ünï 🚧"],
    ["WOT2", "\t", "\n", "\r", "\\", null, "x", ""],
  ];
  assert.deepEqual(decodeCopyText(encodeCopyText(rows)), rows);
});

/** PostgreSQL's reading of COPY text (the escapes encodeCopyText writes), as a reference. */
function decodeCopyText(text: string): (string | null)[][] {
  const escapes: Record<string, string> = { t: "\t", n: "\n", r: "\r", "\\": "\\" };
  return text.split("\n").slice(0, -1).map((line) =>
    line.split("\t").map((field) =>
      field === "\\N" ? null : field.replace(/\\(.)/g, (_, c: string) => escapes[c] ?? c)
    )
  );
}
