import assert from "node:assert/strict";
import {
  createPgliteDatabase,
  DatabaseLockedError,
  databaseLockedError,
  isPgliteLocked,
  lockedBy,
  nameLockHolder,
  openError,
  removeOrphanTempFiles,
} from "./pglite_database.ts";

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

Deno.test("a held embedded database names its holder's command and process; let go, nobody", async () => {
  const root = await Deno.makeTempDir({ prefix: "fleettickets-holder-" });
  const dir = `${root}/db`;
  nameLockHolder("serve");
  const db = await createPgliteDatabase({ dataDir: dir, postgis: false });
  try {
    const error = await createPgliteDatabase({ dataDir: dir, postgis: false }).then(
      () => assert.fail("opened a held database"),
      (error) => error,
    );
    assert.ok(error instanceof DatabaseLockedError);
    assert.equal(error.holder?.command, "serve");
    assert.equal(error.holder?.pid, Deno.pid);
    assert.equal(error.heldByServe, true);
    // Before: "Another run holds the lock", for a serve that never lets go (a tester's).
    assert.match(
      error.message,
      new RegExp(
        `^A running "serve" \\(process ${Deno.pid}, since \\d{4}-\\d\\d-\\d\\dT[\\d:]{8}Z\\) holds the embedded database "${dir}"$`,
      ),
    );
    assert.deepEqual((await databaseLockedError(dir)).holder, error.holder);
    assert.deepEqual((await lockedBy(dir))?.holder, error.holder);
    // Another command is a run: said as before, then who.
    const run = new DatabaseLockedError(dir, { ...error.holder!, command: "ingest" });
    assert.match(
      run.message,
      new RegExp(
        `^Another run holds the lock on the embedded database "${dir}" \\("ingest", process \\d+, since `,
      ),
    );
    assert.equal(run.heldByServe, false);
  } finally {
    await db.close();
    nameLockHolder("fleettickets");
  }
  assert.equal(await Deno.readTextFile(`${dir}.lock`), ""); // let go: nobody named
  assert.equal(await lockedBy(dir), undefined);
  const unnamed = await databaseLockedError(dir);
  assert.equal(unnamed.holder, undefined);
  assert.match(unnamed.message, /^Another run holds the lock on the embedded database/);
  await Deno.remove(root, { recursive: true });
});

Deno.test("a full disk at open says so and what to free, not that a file is read-only", () => {
  // PGlite's file system throws objects with Emscripten's errno (51: no space left).
  const full = openError(".data/pglite", { errno: 51 }) as Error;
  assert.equal(
    full.message,
    'Cannot open the embedded database ".data/pglite": its disk is full (no space left on the ' +
      'device); free space on the disk that holds it (df -h ".data/pglite"), or set PGLITE_DIR ' +
      "to a folder on another, then run again",
  );
  const denied = openError(".data/pglite", { errno: 2 }) as Error;
  assert.match(
    denied.message,
    /its file system refused it \(errno 2\); if the folder .* chattr -i/,
  );
});

Deno.test("opening an embedded database removes the temporary tables' files a killed process left, and nothing else", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pglite-temp-files-" });
  try {
    await Deno.mkdir(`${dir}/base/5`, { recursive: true });
    const left = ["t0_17827", "t0_17827_fsm", "t0_17827.1", "t3_26941_vm"];
    const kept = ["17827", "17827_fsm", "pg_internal.init", "PG_VERSION", "t0_x", "t_1"];
    for (const name of [...left, ...kept]) await Deno.writeTextFile(`${dir}/base/5/${name}`, "");
    // Before: a run killed in a large file's merge left its stage table's ~60 MB for good.
    assert.equal(await removeOrphanTempFiles(dir), left.length);
    const names = [...Deno.readDirSync(`${dir}/base/5`)].map((e) => e.name).sort();
    assert.deepEqual(names, [...kept].sort());
    assert.equal(await removeOrphanTempFiles(`${dir}/none`), 0, "a folder without base/ is new");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
