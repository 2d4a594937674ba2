import assert from "node:assert/strict";
import { age, hours } from "./format.js";

Deno.test("age() rounds an open ticket's hours down, as its SLA state is: 47.99 h is not 48.0 h", () => {
  assert.equal(age(47.99), "47.9 h");
  assert.equal(age(48), "48.0 h");
  assert.equal(age(35.95), "35.9 h");
  assert.equal(age(47.3), "47.3 h"); // 47.3 × 10 is 472.99999999999994 in floating point
  assert.equal(age(0.09), "0.0 h");
  assert.equal(age(199.99), "199 h");
  assert.equal(age(null), "–");
  assert.equal(age(""), "–");
});

Deno.test("hours() rounds to the nearest tenth (MTTR, not an SLA age)", () => {
  assert.equal(hours(47.99), "48.0 h");
  assert.equal(hours(2.25), "2.3 h");
  assert.equal(hours(undefined), "–");
});
