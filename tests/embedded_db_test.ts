// The embedded database (PGlite) as a user meets it: migrate says what it did, read-only commands
// open it cheaply, `sql` queries it, `db export` moves it to PostgreSQL.

import assert from "node:assert/strict";
import { cleanUpScratchDirsAtEnd, cli, scratchDir } from "./_cli.ts";

Deno.test({
  name: "embedded: migrate on a new database names the migrations it applied, then says up to date",
  sanitizeResources: false,
  fn: async () => {
    const env = { PGLITE_DIR: `${await scratchDir("test-embedded")}/pglite` };
    const first = await cli(["migrate"], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^Applied \d+ migration\(s\): 001_tickets_schema\.sql, /);
    const again = await cli(["migrate"], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^Schema is up to date \(\d+ migrations\)/);

    // status only reads: it opens the migrated database (without PostGIS) and reports both datasets.
    const status = await cli(["status", "--json"], env);
    const report = JSON.parse(status.stdout);
    assert.deepEqual(report.datasets.map((d: { dataset: string }) => d.dataset), ["inc", "crq"]);
  },
});

cleanUpScratchDirsAtEnd();
