import assert from "node:assert/strict";
import { readState } from "./state.js";

Deno.test("readState() reads a link's choices in any case, as the API does", () => {
  const state = readState("?sla=BREACHED&window=30D&view=Table&rank=Distance");
  assert.equal(state.sla, "breached"); // before: dropped to "all", widening the view
  assert.equal(state.window, "30d");
  assert.equal(state.view, "table");
  assert.equal(state.rank, "distance");
  assert.equal(readState("?sla=nonsense").sla, "");
});
