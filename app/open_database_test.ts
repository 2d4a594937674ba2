import assert from "node:assert/strict";
import { ConfigError } from "./config.ts";
import { checkNewDatabaseFolder } from "./open_database.ts";

Deno.test("checkNewDatabaseFolder() refuses a folder of other files, naming them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "embedded-" });
  try {
    await Deno.mkdir(`${dir}/automations/inc/changes`, { recursive: true });
    await Deno.writeTextFile(`${dir}/notes.txt`, "x");
    await assert.rejects(
      checkNewDatabaseFolder(dir),
      (error: Error) =>
        error instanceof ConfigError &&
        error.message ===
          `Cannot make the embedded database in "${dir}": the folder holds other files ` +
            `("automations", "notes.txt") and no database; set PGLITE_DIR to a new or empty folder`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkNewDatabaseFolder() lets a new, empty or cut-short folder (no PG_VERSION yet) be made", async () => {
  const dir = await Deno.makeTempDir({ prefix: "embedded-" });
  try {
    await checkNewDatabaseFolder(`${dir}/new`); // not there: made on first use
    await checkNewDatabaseFolder(dir); // empty
    // What a first boot cut short leaves behind before PG_VERSION.
    for (const folder of ["base", "global", "pg_wal", "pg_xact"]) {
      await Deno.mkdir(`${dir}/${folder}`);
    }
    await Deno.writeTextFile(`${dir}/postgresql.conf`, "");
    await Deno.writeTextFile(`${dir}/.DS_Store`, "");
    await checkNewDatabaseFolder(dir);
    await Deno.writeTextFile(`${dir}/PG_VERSION`, "18\n");
    await Deno.writeTextFile(`${dir}/anything`, "");
    await checkNewDatabaseFolder(dir); // a database: never refused
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
