import assert from "node:assert/strict";
import { decimalText } from "./decimal_text.ts";

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
});
