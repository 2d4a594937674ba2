import assert from "node:assert/strict";
import { countLabel } from "./markers.js";

Deno.test("countLabel() keeps a group's count whole to 9,999 and in thousands past it, to fit its ring", () => {
  assert.equal(countLabel(7), "7");
  assert.equal(countLabel(9999), "9999");
  assert.equal(countLabel(10_000), "10k");
  assert.equal(countLabel(12_345), "12k");
  assert.equal(countLabel(99_999), "99k");
  assert.equal(countLabel(314_340), "314k");
});
