import assert from "node:assert/strict";
import { createPgliteDatabase, DatabaseLockedError, isPgliteLocked } from "./pglite_database.ts";

Deno.test("every spelling of an embedded database folder takes the same lock", async () => {
  const root = await Deno.makeTempDir({ prefix: "fleettickets-lock-" });
  const dir = `${root}/db`;
  const db = await createPgliteDatabase({ dataDir: dir, postgis: false });
  try {
    await Deno.symlink(dir, `${root}/alias`);
    // `db/` once locked `db/.lock`, inside the folder: two runs wrote one database.
    for (const spelling of [`${dir}/`, `${dir}//`, `${root}/./db`, `${root}/alias`]) {
      assert.equal(await isPgliteLocked(spelling), true, spelling);
      await assert.rejects(
        () => createPgliteDatabase({ dataDir: spelling, postgis: false }),
        DatabaseLockedError,
        spelling,
      );
    }
  } finally {
    await db.close();
  }
  assert.equal(await isPgliteLocked(`${dir}/`), false);
  await Deno.remove(root, { recursive: true });
});
