import assert from "node:assert/strict";
import { csvFoldersElsewhere, lookElsewhere } from "./csv_elsewhere.ts";
import type { ObjectStore } from "./ports/mod.ts";
import { CRQ, INC } from "./datasets.ts";

Deno.test("csvFoldersElsewhere() names the folders of CSV files outside the dataset's prefixes", () => {
  const keys = [
    "automations/inc/2026-06-15T17-00-00.csv", // one level up
    "changes/2026-06-15T17-00-00.csv",
    "changes/2026-06-15T17-20-00.CSV",
    "inc/changes/2026-06-15T17-00-00.csv",
    "inc/changes/notes.txt", // not CSV
    "2026-06-15T17-00-00.csv", // top level
  ];
  assert.deepEqual(csvFoldersElsewhere(keys, INC), [
    "automations/inc/",
    "changes/",
    "inc/changes/",
    "",
  ]);
  assert.deepEqual(csvFoldersElsewhere(["readme.md", "x/y.json"], INC), []);
});

Deno.test("csvFoldersElsewhere() finds nothing misplaced when the dataset has archived files", () => {
  const keys = ["automations/inc/processed/2026-06-15T17-00-00.csv", "inc/changes/a.csv"];
  assert.deepEqual(csvFoldersElsewhere(keys, INC), []);
  // Another dataset's archive says nothing about this one.
  assert.deepEqual(csvFoldersElsewhere(keys, CRQ), []);
});

Deno.test("csvFoldersElsewhere() leaves out another dataset's folders, wherever they are", () => {
  const keys = [
    "automations/crq/changes/2026-06-15T17-00-00.csv",
    "automations/crq/processed/2026-06-15T16-00-00.csv",
    "crq/changes/2026-06-15T17-00-00.csv",
    "inc/changes/2026-06-15T17-00-00.csv",
  ];
  assert.deepEqual(csvFoldersElsewhere(keys, INC), ["inc/changes/"]);
  assert.deepEqual(csvFoldersElsewhere(keys, CRQ), []);
});

Deno.test("csvFoldersElsewhere() names five folders at most", () => {
  const keys = Array.from({ length: 8 }, (_, i) => `drop${i}/2026-06-15T17-00-00.csv`);
  assert.equal(csvFoldersElsewhere(keys, INC).length, 5);
});

Deno.test("lookElsewhere() calls a bucket empty only when it holds no object at all", async () => {
  const holding = (keys: string[], fails = false) =>
    ({
      listAnywhere: () => fails ? Promise.reject(new Error("AccessDenied")) : Promise.resolve(keys),
    }) as unknown as ObjectStore;
  assert.deepEqual(await lookElsewhere(holding([]), INC), { bucketEmpty: true });
  assert.deepEqual(await lookElsewhere(holding(["notes/readme.txt"]), INC), {});
  assert.deepEqual(await lookElsewhere(holding(["inc/changes/a.csv"]), INC), {
    csvElsewhere: ["inc/changes/"],
  });
  // A look refused, or a folder source that cannot look: no hint at all.
  assert.deepEqual(await lookElsewhere(holding([], true), INC), {});
  assert.deepEqual(await lookElsewhere({} as ObjectStore, INC), {});
});
