// Database.runStatement(), what the `sql` command prints from: the same columns, rows, command
// and count for each statement on PGlite and on PostgreSQL (when TEST_DATABASE_URL is set).

import assert from "node:assert/strict";
import { createPgliteDatabase } from "../adapters/pglite_database.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import { formatStatement, sharedColumnNames, sharedNamesNote } from "../cli/run_sql.ts";
import type { Database } from "../core/ports/mod.ts";
import { createScratchDatabase, removeTestDataAtEnd, shared } from "./_harness.ts";

/** Each statement, in order, and what `sql` prints for it. */
const STATEMENTS: [string, string][] = [
  ["create table public.note (id int, body text)", "CREATE"],
  ["insert into public.note values (1, 'a'), (2, 'b')", "INSERT 0 2"],
  ["insert into public.note select 9, 'z' where false", "INSERT 0 0"],
  ["update public.note set body = 'c' where id = 2", "UPDATE 1"],
  ["delete from public.note where id = 9", "DELETE 0"],
  // Rows, then what the statement did, when it returns rows and is no SELECT.
  ["insert into public.note values (3, 'd') returning id", "id\n--\n3\n(1 row)\nINSERT 0 1"],
  // A SELECT of no rows still names its columns.
  ["select id, body from public.note where false", "id | body\n---+-----\n(0 rows)"],
  ["select count(*)::int as n from public.note", "n\n-\n3\n(1 row)"],
  // A date is a day, not an instant at EAT 03:00; a timestamptz is an instant in EAT.
  [
    "select date '2026-06-15' as day, timestamptz '2026-06-15 00:00:00+03' as at",
    "day        | at\n-----------+--------------------------\n2026-06-15 | 2026-06-15T00:00:00+03:00\n(1 row)",
  ],
  ["set search_path = public, tickets", "SET"],
  ["drop table public.note", "DROP"],
];

const base = Deno.env.get("TEST_DATABASE_URL");
const databases: [string, () => Promise<Database>][] = [
  ["pglite", () => createPgliteDatabase({ postgis: false })],
];
if (base !== undefined) {
  databases.push([
    "postgres",
    async () => createPostgresDatabase(await createScratchDatabase(base)),
  ]);
}

for (const [name, open] of databases) {
  Deno.test({
    name: `[${name}] runStatement() gives each statement's command and count as psql's tag, ` +
      "and its columns even without rows",
    ...shared,
    fn: async () => {
      const db = await open();
      try {
        for (const [text, expected] of STATEMENTS) {
          assert.equal(formatStatement(await db.runStatement(text)), expected, text);
        }
        const select = await db.runStatement("select 1 as n union all select 2");
        assert.deepEqual(select, {
          columns: ["n"],
          rows: [{ n: 1 }, { n: 2 }],
          command: "SELECT",
          count: 2,
          dateColumns: [],
        });
        // Two columns of one name: a row holds one value for it, so sql says so (before: only
        // the second count showed, under "count", without a word).
        const twice = await db.runStatement("select 1 as count, 2 as count, 3 as n");
        assert.deepEqual(sharedColumnNames(twice.columns), ["count"]);
        assert.equal(
          sharedNamesNote(["count"]),
          'Note: several columns are named "count"; only the last of each shows: name them ' +
            'apart with "as" (select count(*) as tickets, count(geog) as placed …)',
        );
        // Several statements are refused as one, as query() refuses them: the caller runs a script.
        await assert.rejects(db.runStatement("select 1; select 2"), /multiple commands/);
      } finally {
        await db.close();
      }
    },
  });
}

removeTestDataAtEnd();
