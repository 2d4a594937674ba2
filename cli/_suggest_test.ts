import assert from "node:assert/strict";
import { closest, editDistance } from "./_suggest.ts";

Deno.test("editDistance() counts insertions, deletions and substitutions", () => {
  assert.equal(editDistance("apply", "apply"), 0);
  assert.equal(editDistance("aply", "apply"), 1);
  assert.equal(editDistance("ingset", "ingest"), 2);
  assert.equal(editDistance("", "json"), 4);
});

Deno.test("closest() suggests a near flag or command and nothing for an unrelated word", () => {
  const flags = ["--apply", "--json", "--dataset", "--from-dir", "--from-bucket", "--reseed"];
  assert.equal(closest("--aply", flags), "--apply");
  assert.equal(closest("--datset", flags), "--dataset");
  assert.equal(closest("--from-dri", flags), "--from-dir");
  assert.equal(closest("--verbose", flags), undefined);
  assert.equal(closest("stauts", ["status", "ingest", "migrate"]), "status");
  assert.equal(closest("xyz", ["status", "ingest", "migrate"]), undefined);
});
