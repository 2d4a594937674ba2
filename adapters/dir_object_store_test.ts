import assert from "node:assert/strict";
import { createDirObjectStore } from "./dir_object_store.ts";

Deno.test("move() into a processed/ folder linked outside the root is refused as a move, the file left in place", async () => {
  const root = await Deno.makeTempDir({ prefix: "dir-store-" });
  const outside = await Deno.makeTempDir({ prefix: "dir-store-outside-" });
  try {
    await Deno.mkdir(`${root}/inc/changes`, { recursive: true });
    await Deno.writeTextFile(`${root}/inc/changes/a.csv`, "ticket_id\n");
    await Deno.symlink(outside, `${root}/inc/processed`);
    const store = createDirObjectStore(root);
    await assert.rejects(
      store.move("inc/changes/a.csv", "inc/processed/a.csv"),
      /^ObjectStoreError: Cannot move "inc\/changes\/a.csv" into "inc\/processed\/" in dir:.*: it is a link to ".*", outside the folder; link-free folders only$/,
    );
    await Deno.stat(`${root}/inc/changes/a.csv`);
    assert.deepEqual([...Deno.readDirSync(outside)], []);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("move() of a file whose folder was moved away fails as removed and makes no folder", async () => {
  const parent = await Deno.makeTempDir({ prefix: "dir-store-" });
  try {
    const root = `${parent}/feed`;
    await Deno.mkdir(`${root}/inc/changes`, { recursive: true });
    await Deno.writeTextFile(`${root}/inc/changes/a.csv`, "ticket_id\n");
    const store = createDirObjectStore(root);
    await store.list("inc/changes/");
    await Deno.rename(root, `${parent}/feed-moved`); // an operator's mv during the run
    await assert.rejects(
      store.move("inc/changes/a.csv", "inc/processed/a.csv"),
      /^ObjectRemovedError: Cannot read "inc\/changes\/a.csv": it was removed after it was listed/,
    );
    // Before: "feed/inc/processed/" made again, and later runs read the empty tree as a feed
    // with nothing new (exit 0, status HEALTHY) instead of a folder that does not exist.
    assert.deepEqual([...Deno.readDirSync(parent)].map((e) => e.name), ["feed-moved"]);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});
