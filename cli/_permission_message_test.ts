import assert from "node:assert/strict";
import { explainPermissions, refusal } from "./_permission_message.ts";

Deno.test("explainPermissions() turns Deno's --allow-* hints into what is allowed and what to do", () => {
  const write = explainPermissions(
    'Requires write access to "review.csv", run again with the --allow-write flag',
  );
  assert.equal(
    write,
    'Cannot write "review.csv": fleettickets may write only under ./.data (the permission set ' +
      "in deno.json); give a relative name (it is written under .data/) or a path inside ./.data",
  );
  const read = explainPermissions(
    'Cannot import "x": Requires read access to "/tmp/curated.csv", run again with the --allow-read flag',
  );
  assert.match(read, /^Cannot import "x": Cannot read "\/tmp\/curated.csv": fleettickets may read/);
  assert.doesNotMatch(read + write, /--allow-/);
});

Deno.test("refusal() of a read outside the checkout says deno task runs in the checkout's folder", () => {
  // Before: "copy the file into the checkout and name it there", of a folder typed as ../x in
  // docs/ (deno task had run from the checkout's folder, where ../x is outside; a tester's).
  assert.equal(
    refusal("read", "../.data/feed", "the folder"),
    'Cannot read the folder "../.data/feed": fleettickets may read files inside this checkout ' +
      "(the permission set in deno.json); copy it into the checkout and name it from the " +
      "checkout's folder (deno task runs there, wherever it is typed)",
  );
});
