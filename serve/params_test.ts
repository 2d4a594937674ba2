import assert from "node:assert/strict";
import { Params, queryParams } from "./params.ts";

Deno.test("queryParams() parses the query string once for every name asked", () => {
  let parses = 0;
  const req = {
    queries: () => {
      parses++;
      return { k: ["10"], dataset: ["inc", "crq"], lat: [""] };
    },
  };
  const source = queryParams(req);
  assert.deepEqual(source("k"), ["10"]);
  assert.deepEqual(source("dataset"), ["inc", "crq"]);
  assert.deepEqual(source("lon"), []);
  assert.deepEqual(source("constructor"), [], "a name of Object.prototype is absent too");
  assert.equal(parses, 1);
  const p = new Params(source);
  assert.equal(p.integer("k", 1, 500, 1), 10);
  assert.equal(p.number("lat", -90, 90, 0), 0, "an empty value counts as left out");
  assert.throws(() => p.raw("dataset"), /Parameter "dataset" is given 2 times/);
});
