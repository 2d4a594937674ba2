import assert from "node:assert/strict";
import { readState, sameEntry, ticketFilterCount } from "./state.js";

Deno.test("readState() reads a link's choices in any case, as the API does", () => {
  const state = readState("?sla=BREACHED&window=30D&view=Table&rank=Distance");
  assert.equal(state.sla, "breached"); // before: dropped to "all", widening the view
  assert.equal(state.window, "30d");
  assert.equal(state.view, "table");
  assert.equal(state.rank, "distance");
  assert.equal(readState("?sla=nonsense").sla, "");
});

Deno.test("sameEntry() tells another history entry from the same one with another map view", () => {
  assert.equal(sameEntry("?cluster=Nyali&at=-4,39.7,13", "/?at=0.3,32.6,13&cluster=Nyali"), true);
  // Back went to Nyali while the page still held Kololo: its view must not be written there.
  assert.equal(sameEntry("?cluster=Nyali&at=-4,39.7,13", "/?cluster=Kololo&at=0.3,32.6,13"), false);
  assert.equal(sameEntry("", "/"), true);
  assert.equal(sameEntry("?ticket=WOT1", "/?ticket=WOT1&near=-1.2,36.8"), false);
});

Deno.test("ticketFilterCount() counts the filters that choose the tickets, not the window", () => {
  assert.equal(ticketFilterCount(readState("?cluster=Nyali&sla=breached&window=30d")), 2);
  assert.equal(ticketFilterCount(readState("?window=30d&view=table")), 0);
});
