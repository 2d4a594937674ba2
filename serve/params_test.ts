import assert from "node:assert/strict";
import { badPercentEncoding, ParameterError, Params, queryParams } from "./params.ts";

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

Deno.test("badPercentEncoding() names the first parameter whose name or value cannot be decoded", () => {
  assert.equal(badPercentEncoding("http://x/api/tickets?cluster=Nairobi%20West&k=10"), undefined);
  assert.equal(badPercentEncoding("http://x/api/tickets?team=100%25+done"), undefined);
  assert.equal(badPercentEncoding("http://x/api/tickets?cluster=M%C3%BCller"), undefined);
  assert.equal(badPercentEncoding("http://x/api/tickets"), undefined);
  for (
    const [url, name] of [
      ["http://x/api/tickets?k=1&cluster=%E0", "cluster"], // a lone byte, not UTF-8
      ["http://x/api/tickets?cluster=100%", "cluster"], // "%" with no digits
      ["http://x/api/tickets?team=%zz", "team"],
      ["http://x/api/tickets?%ZZ=1", "%ZZ"], // the name itself
      ["http://x/api/tickets?flag%FF", "flag%FF"],
    ]
  ) {
    const error = badPercentEncoding(url!);
    assert.ok(error instanceof ParameterError, url);
    assert.equal(error.parameter, name);
    assert.match(
      error.message,
      new RegExp(`^Cannot read "${name}": it is not valid percent-encoding`),
    );
  }
});
