import assert from "node:assert/strict";
import { decimalText, shareText } from "./decimal_text.ts";

Deno.test("decimalText() rounds halves up as PostgreSQL's round() does on the API's values", () => {
  // A team's p90 of 47.05 h: /api/teams said 47.05, `report --by team` printed 47.0.
  assert.equal(decimalText(47.05, 1), "47.1");
  assert.equal(decimalText(1.005, 2), "1.01");
  assert.equal(decimalText(0.15, 1), "0.2");
  assert.equal(decimalText(-2.25, 1), "-2.3");
  assert.equal(decimalText(12.34, 1), "12.3");
  assert.equal(decimalText(0, 1), "0.0");
  assert.equal(decimalText(4795, 1), "4795.0");
  assert.equal(decimalText(1e-7, 1), "0.0");
  assert.equal(decimalText(-1e-7, 1), "0.0"); // not "-0.0"
  assert.equal(decimalText(5e20, 1), "500000000000000000000.0"); // not "NaN"
  assert.equal(decimalText(NaN, 1), "NaN");
});

Deno.test("shareText() rounds two counts' fraction once, halves up", () => {
  assert.equal(shareText(15, 19, 1), "78.9"); // 0.78947…; the 4-decimal rate 0.7895 gave "79.0"
  assert.equal(shareText(1, 16, 1), "6.3"); // 6.25
  assert.equal(shareText(1, 3, 2), "33.33");
  assert.equal(shareText(19, 19, 1), "100.0");
  assert.equal(shareText(0, 0, 1), "");
});
