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
