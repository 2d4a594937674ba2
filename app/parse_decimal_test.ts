import assert from "node:assert/strict";
import { parseDecimal } from "./parse_decimal.ts";

Deno.test("parseDecimal() reads decimal notation", () => {
  assert.deepEqual(["2", "0.5", ".5", "2.", "0", "010", "3600"].map(parseDecimal), [
    2,
    0.5,
    0.5,
    2,
    0,
    10,
    3600,
  ]);
});

Deno.test("parseDecimal() refuses what Number() would also read: hex, binary, exponents, signs, spaces, empty", () => {
  for (
    const text of [
      "0x10",
      "0b1",
      "0o7",
      "1e3",
      "+2",
      "-1",
      " 2",
      "2 ",
      "",
      ".",
      "Infinity",
      "1,000",
      "2h",
    ]
  ) {
    assert.equal(parseDecimal(text), undefined, JSON.stringify(text));
  }
});
