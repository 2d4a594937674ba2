import assert from "node:assert/strict";
import { eatIso } from "./eat_time.ts";

Deno.test("eatIso() prints an instant as EAT wall-clock time with its +03:00 offset", () => {
  assert.equal(eatIso(new Date("2026-06-15T14:00:00Z")), "2026-06-15T17:00:00+03:00");
  assert.equal(eatIso(new Date("2026-06-15T22:30:15.999Z")), "2026-06-16T01:30:15+03:00");
});
