import assert from "node:assert/strict";
import { decimalText, percentText } from "./decimal_text.ts";

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

Deno.test("percentText() rounds a rate's half up, as PostgreSQL rounds it", () => {
  assert.equal(percentText(0.0295, 1), "3.0"); // 0.0295 * 100 = 2.9499999999999997: "2.9"
  assert.equal(percentText(0.7931, 1), "79.3");
  assert.equal(percentText(1, 1), "100.0");
  assert.equal(percentText(1e-7, 1), "0.0"); // not "NaN"
});
