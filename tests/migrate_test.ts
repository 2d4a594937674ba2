// Schema upgrades: numbered migrations once, replaceable definitions whenever they change, and a
// database the last release migrated (no definitions ledger) upgraded without loss. PGlite always,
// PostgreSQL when TEST_DATABASE_URL is set.

import assert, { deepStrictEqual as assertEquals } from "node:assert/strict";
import { newPgliteWithPostgis } from "./_pglite_cache.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import { capture } from "../core/capture.ts";
import { resolveGeometry } from "../core/geocode.ts";
import {
  loadDefinitions,
  loadKnownDefinitions,
  loadMigrations,
  migrate,
  type Migration,
  pendingMigrations,
} from "../core/migrate.ts";
import type { Database } from "../core/ports/mod.ts";
import { INC } from "../core/datasets.ts";
import { runAfterApply } from "../core/run_after_apply.ts";
import { beginRun, recordRun } from "../core/record_run.ts";
import { readStatus } from "../core/read_status.ts";
import {
  anotherSession,
  createScratchDatabase,
  okRunReport,
  recordLedgerRow,
  removeTestDataAtEnd,
  shared,
} from "./_harness.ts";
import { cli } from "./_cli.ts";
import postgres from "postgres";

const opens: [string, () => Promise<Database>][] = [["pglite", newPgliteWithPostgis]];
const base = Deno.env.get("TEST_DATABASE_URL");
if (base) {
  opens.push(["postgres", async () => createPostgresDatabase(await createScratchDatabase(base))]);
}

async function appliedAt(db: Database): Promise<Map<string, string>> {
  const rows = await db.query<{ name: string; at: string }>(
    `select name, applied_at::text as at from tickets.schema_definitions`,
  );
  return new Map(rows.map((r) => [r.name, r.at]));
}

/** An INC ticket stored as `file` wrote it (its typed columns generated from `raw`). */
function storeTicket(db: Database, raw: Record<string, string>, file: string) {
  return db.query(
    `insert into tickets.inc (ticket_id, raw, source_file) values ($1, $2::text::jsonb, $3)`,
    [raw.ticket_id, JSON.stringify(raw), file],
  );
}

/** The shipped migrations up to 013, with the earlier texts `files` (name.commit.sql) in place. */
async function releasedWith(files: string[]): Promise<Migration[]> {
  const dir = new URL("./fixtures/released_migrations/", import.meta.url);
  const texts = new Map<string, string>();
  for (const file of files) {
    texts.set(
      file.replace(/\.[0-9a-f]+\.sql$/, ".sql"),
      await Deno.readTextFile(new URL(file, dir)),
    );
  }
  return (await loadMigrations()).filter((m) => m.version <= 13)
    .map((m) => ({ ...m, sql: texts.get(m.name) ?? m.sql }));
}

/**
 * What a database's schema is made of, as text: tables' columns, indexes, constraints, storage
 * options and functions of the two schemas fleettickets owns (column order left out: a column a
 * later migration added comes last).
 */
async function schemaOf(db: Database): Promise<string[]> {
  const rows = await db.query<{ item: string }>(
    `select 'column ' || table_name || '.' || column_name || ' ' || data_type ||
            coalesce(' generated ' || generation_expression, '') ||
            coalesce(' default ' || column_default, '') || ' ' || is_nullable as item
     from information_schema.columns where table_schema in ('tickets', 'reporting')
     union all
     select 'index ' || indexdef from pg_indexes where schemaname in ('tickets', 'reporting')
     union all
     select 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
     from pg_constraint
     where connamespace in (select oid from pg_namespace where nspname in ('tickets', 'reporting'))
     union all
     select 'options ' || c.oid::regclass || ' ' || array_to_string(c.reloptions, ',')
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname in ('tickets', 'reporting') and c.reloptions is not null
     union all
     select 'function ' || p.oid::regprocedure::text
     from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname in ('tickets', 'reporting')
     order by 1`,
  );
  return rows.map((r) => r.item);
}

for (const [name, open] of opens) {
  Deno.test({
    name: `[${name}] a changed definition is applied again and an unchanged one is not`,
    ...shared,
    async fn() {
      const db = await open();
      try {
        const definitions = await loadDefinitions();
        const first = await migrate(db);
        assertEquals(first.changedDefinitions, definitions.map((d) => d.name));
        assertEquals((await migrate(db)).changedDefinitions, []);
        const before = await appliedAt(db);

        // A fix to the SLA rule is an edit to its file: warn at 30 h instead of 36 h.
        const edited = definitions.map((d) =>
          d.name === "20_sla_rule.sql"
            ? { ...d, sql: d.sql.replace("interval '36 hours'", "interval '30 hours'") }
            : d
        );
        const second = await migrate(db, { definitions: edited });
        assertEquals(second.changedDefinitions, ["20_sla_rule.sql"]);
        const [row] = await db.query<{ state: string }>(
          `select tickets.sla_state(interval '31 hours') as state`,
        );
        assertEquals(row?.state, "at_risk");
        const after = await appliedAt(db);
        for (const [file, at] of before) {
          if (file !== "20_sla_rule.sql") assertEquals(after.get(file), at, file);
        }
        assertEquals((await migrate(db, { definitions: edited })).changedDefinitions, []);
        // The files before the fix (an earlier release) never put the earlier rule back: they
        // do not know the database's text, so they refuse it and change nothing.
        await assert.rejects(migrate(db), {
          name: "NewerSchemaError",
          message:
            "Cannot run: the database holds 1 definition text(s) this version does not know " +
            "(20_sla_rule.sql): a later release migrated it; run the release that migrated it, " +
            "or restore the backup taken before that upgrade",
        });
        const [kept] = await db.query<{ state: string }>(
          `select tickets.sla_state(interval '31 hours') as state`,
        );
        assertEquals(kept?.state, "at_risk");
        assertEquals(await appliedAt(db), after);
      } finally {
        await db.close();
      }
    },
  });

  Deno.test({
    name: `[${name}] a database a later release migrated is refused, and migrate changes nothing`,
    ...shared,
    async fn() {
      const db = await open();
      try {
        await migrate(db);
        // What a later release leaves: its migration 999, and its text of a definition (here a
        // harmless change) with the checksum of that text.
        await db.query(
          `insert into tickets.schema_migrations (version, name, checksum)
           values (999, '999_later_release.sql', 'later')`,
        );
        await db.exec(`comment on function tickets.sla_state(interval) is 'later release'`);
        const [shipped] = await db.query<{ checksum: string }>(
          `select checksum from tickets.schema_definitions where name = '20_sla_rule.sql'`,
        );
        await db.query(
          `update tickets.schema_definitions set checksum = 'later' where name = '20_sla_rule.sql'`,
        );
        const ledgers = async () =>
          await db.query(
            `select name, checksum, applied_at::text from tickets.schema_definitions
             union all
             select name, checksum, applied_at::text from tickets.schema_migrations order by 1`,
          );
        const before = await ledgers();
        const refusal = {
          name: "NewerSchemaError",
          message: "Cannot run: the database holds 1 migration(s) and 1 definition text(s) this " +
            "version does not know (999_later_release.sql, 20_sla_rule.sql): a later release " +
            "migrated it; run the release that migrated it, or restore the backup taken before " +
            "that upgrade",
        };
        await assert.rejects(pendingMigrations(db), refusal);
        await assert.rejects(migrate(db), refusal);
        assertEquals(await ledgers(), before);
        const [comment] = await db.query<{ text: string }>(
          `select obj_description('tickets.sla_state(interval)'::regprocedure) as text`,
        );
        assertEquals(comment?.text, "later release", "the later text stays");

        // Its migration alone is refused too.
        await db.query(
          `update tickets.schema_definitions set checksum = $1 where name = '20_sla_rule.sql'`,
          [shipped?.checksum],
        );
        await assert.rejects(migrate(db), {
          name: "NewerSchemaError",
          message:
            /^Cannot run: the database holds 1 migration\(s\) this version does not know \(999_later_release\.sql\)/,
        });
      } finally {
        await db.close();
      }
    },
  });

  Deno.test({
    name: `[${name}] a definition an earlier release applied is brought up to date, ` +
      `and one it has since removed is left alone`,
    ...shared,
    async fn() {
      const db = await open();
      try {
        await migrate(db);
        // Earlier texts from definitions/known_checksums.txt: 40_capture_history.sql as an
        // earlier release left it, and 21_dispatch_score.sql, since renamed 34_dispatch_score.sql.
        const known = await loadKnownDefinitions();
        const [current] = await db.query<{ checksum: string }>(
          `select checksum from tickets.schema_definitions where name = '40_capture_history.sql'`,
        );
        const earlier = [...known.get("40_capture_history.sql")!]
          .find((sum) => sum !== current?.checksum)!;
        await db.query(
          `update tickets.schema_definitions set checksum = $1 where name = '40_capture_history.sql'`,
          [earlier],
        );
        await db.query(
          `insert into tickets.schema_definitions (name, checksum) values ('21_dispatch_score.sql', $1)`,
          [[...known.get("21_dispatch_score.sql")!][0]],
        );
        assertEquals((await migrate(db)).changedDefinitions, ["40_capture_history.sql"]);
        assertEquals((await migrate(db)).changedDefinitions, []);
      } finally {
        await db.close();
      }
    },
  });

  Deno.test({
    name:
      `[${name}] a database migrated by the last release gets every definition and keeps its rows`,
    ...shared,
    async fn() {
      const db = await open();
      try {
        // The last release: numbered migrations only, no definitions ledger.
        await migrate(db, { definitions: [] });
        await db.exec(`drop table tickets.schema_definitions`);
        await storeTicket(db, {
          ticket_id: "WOT0000001",
          is_actionable: "true",
          cluster: "Westlands",
          created_at_service: "2026-06-13 09:00:00",
        }, "2026-06-15T09-00-00.csv");
        const upgrade = await migrate(db);
        assertEquals(upgrade.pending, []);
        assertEquals(upgrade.changedDefinitions.length, (await loadDefinitions()).length);
        const [row] = await db.query<{ state: string; split: Record<string, number> }>(
          `select min(sla_state) as state, tickets.sla_split(array_agg(sla_state)) as split
           from tickets.inc_open_sla_at($1::timestamptz)`,
          ["2026-06-15T12:00:00+03:00"],
        );
        assertEquals(row?.state, "breached");
        assertEquals(row?.split, { breached: 1, at_risk: 0, ok: 0, unknown: 0 });
      } finally {
        await db.close();
      }
    },
  });

  // Six migrations were edited after they were added; a release may have applied an earlier text
  // (tests/fixtures/released_migrations: the texts as git had them at those commits).
  const earlierTexts = {
    earliest: [
      "005_geocoding.85577f1.sql",
      "006_read_indexes.f6c6e9e.sql",
      "008_capture_indexes.97b686d.sql",
      "010_capture_marks.c1fbc41.sql",
      "011_geometry_marks.caa27fe.sql",
      "013_run_start.f971572.sql",
    ],
    later: ["008_capture_indexes.68293be.sql", "013_run_start.3289174.sql"],
  };
  for (const [texts, files] of Object.entries(earlierTexts)) {
    Deno.test({
      name:
        `[${name}] a database that ran the ${texts} texts of the edited migrations is upgraded to a fresh one's schema, keeping its rows`,
      ...shared,
      async fn() {
        const fresh = await open();
        const db = await open();
        try {
          await migrate(fresh);
          // Before: "Cannot migrate: "005_geocoding.sql" changed after it was applied; restore
          // the released file", exit 1, and no command worked on the database.
          await migrate(db, { migrations: await releasedWith(files), definitions: [] });
          await db.exec(`drop table tickets.schema_definitions`);
          await storeTicket(db, {
            ticket_id: "WOT0000001",
            is_actionable: "true",
            cluster: "Westlands",
            created_at_service: "2026-06-13 09:00:00",
          }, "2026-06-15T09-00-00.csv");
          await recordLedgerRow(db, "2026-06-15T09-00-00.csv");
          const upgrade = await migrate(db);
          assertEquals(upgrade.pending, [
            "014_edited_migrations.sql",
            "015_name_keys.sql",
            "016_name_keys_nfc.sql",
          ]);
          assertEquals(await schemaOf(db), await schemaOf(fresh));
          const [kept] = await db.query<{ tickets: number; files: number }>(
            `select (select count(*) from tickets.inc)::int as tickets,
                    (select count(*) from tickets.applied_files)::int as files`,
          );
          assertEquals(kept, { tickets: 1, files: 1 });
          await resolveGeometry(db); // the one-argument call is not ambiguous
          assertEquals((await pendingMigrations(db)).pending, []);
        } finally {
          await fresh.close();
          await db.close();
        }
      },
    });
  }

  Deno.test({
    name:
      `[${name}] a migration edited after it was applied, to a text no release shipped, is refused and nothing is applied`,
    ...shared,
    async fn() {
      const db = await open();
      try {
        const shipped = await loadMigrations();
        await migrate(db, { migrations: shipped.filter((m) => m.version <= 8), definitions: [] });
        const edited = shipped.map((m) =>
          m.version === 8 ? { ...m, sql: `${m.sql}\n-- a local edit\n` } : m
        );
        await assert.rejects(migrate(db, { migrations: edited }), {
          name: "EditedMigrationError",
          message: 'Cannot run: "008_capture_indexes.sql" is not the text the database applied, ' +
            "and no release shipped both: the file (or the build that migrated the database) was " +
            "edited; put the file back as released (git checkout -- " +
            "migrations/008_capture_indexes.sql), or run the build that migrated the database; a " +
            "change to the schema is a new numbered migration",
        });
        const [versions] = await db.query<{ n: number }>(
          `select count(*)::int as n from tickets.schema_migrations`,
        );
        assertEquals(versions?.n, 8, "nothing after 008 applied");
      } finally {
        await db.close();
      }
    },
  });

  Deno.test({
    name:
      `[${name}] a database at migration 008 gets migrations 009 and 010 and keeps its tickets and closures`,
    ...shared,
    async fn() {
      const db = await open();
      try {
        // Migration 008 with the capture of its time (migration 003's; the definitions of a
        // release are applied with it), and the ledger row the drain wrote for the file.
        const shipped = await loadMigrations();
        await migrate(db, { migrations: shipped.filter((m) => m.version <= 8), definitions: [] });
        await recordLedgerRow(db, "2026-06-15T09-00-00.csv");
        const ticket = (id: string, closed: boolean) => ({
          ticket_id: id,
          is_actionable: closed ? "false" : "true",
          cluster: "Westlands",
          latitude: "-1.2676",
          longitude: "36.8108",
          created_at_service: "2026-06-13 09:00:00",
          ...(closed ? { closed_at: "2026-06-14 10:00:00", status: "Closed" } : {}),
        });
        await storeTicket(db, ticket("WOT0000001", true), "2026-06-15T09-00-00.csv");
        await storeTicket(db, ticket("WOT0000002", false), "2026-06-15T09-00-00.csv");
        const at = new Date("2026-06-15T12:00:00+03:00");
        assertEquals((await capture(db, { now: at })).closuresAdded, 1);

        const upgrade = await migrate(db);
        assertEquals(upgrade.pending, [
          "009_post_apply_indexes.sql",
          "010_capture_marks.sql",
          "011_geometry_marks.sql",
          "012_run_key.sql",
          "013_run_start.sql",
          "014_edited_migrations.sql",
          "015_name_keys.sql",
          "016_name_keys_nfc.sql",
        ]);
        assertEquals((await pendingMigrations(db)).pending, []);
        const indexes = await db.query<{ name: string }>(
          `select indexname as name from pg_indexes where schemaname = 'tickets'
           and (indexname like '%source_file_idx' or tablename = 'closure_events') order by 1`,
        );
        assertEquals(indexes.map((i) => i.name), [
          "closure_events_closed_at_idx",
          "closure_events_observed_at_idx",
          "closure_events_pkey",
          "crq_source_file_idx",
          "inc_source_file_idx",
        ]);
        const [kept] = await db.query<{ tickets: number; closures: number }>(
          `select (select count(*) from tickets.inc)::int as tickets,
                  (select count(*) from tickets.closure_events)::int as closures`,
        );
        assertEquals(kept, { tickets: 2, closures: 1 });

        // The steps that read the new indexes work on the upgraded rows: the open ticket closes
        // in a later file, its geometry resolves from the feed, its closure is recorded once.
        await db.query(
          `update tickets.inc set raw = $2::text::jsonb, source_file = $3 where ticket_id = $1`,
          ["WOT0000002", JSON.stringify(ticket("WOT0000002", true)), "2026-06-15T09-20-00.csv"],
        );
        assertEquals(
          await resolveGeometry(db, undefined, { files: ["2026-06-15T09-20-00.csv"] }),
          1,
        );
        // The day's snapshot exists, so this capture checks only files not yet marked: both
        // ledger rows, the one written before the upgrade included, and counts the history.
        await recordLedgerRow(db, "2026-06-15T09-20-00.csv");
        const later = await capture(db, { now: at });
        assertEquals([later.snapshotCreated, later.closuresAdded, later.closuresTotal], [
          false,
          1,
          2,
        ]);
        assertEquals((await capture(db, { now: at })).closuresAdded, 0);
        const marks = await db.query<{ marked: boolean }>(
          `select captured_at is not null as marked from tickets.applied_files order by file_name`,
        );
        assertEquals(marks.map((m) => m.marked), [true, true]);
      } finally {
        await db.close();
      }
    },
  });

  Deno.test({
    name:
      `[${name}] a database at migration 010 gets 011, and the next run places the tickets an interrupted run left unplaced`,
    ...shared,
    async fn() {
      const db = await open();
      try {
        // The last release: migrations up to 010 and its definitions (not 91's, new with 011).
        const shipped = await loadMigrations();
        const definitions = (await loadDefinitions())
          .filter((d) => d.name !== "91_resolve_applied_geometry.sql");
        await migrate(db, { migrations: shipped.filter((m) => m.version <= 10), definitions });
        // What a run of that release killed after its file's commit left: the ledger row and
        // the ticket, never placed though its cluster has a point.
        await recordLedgerRow(db, "2026-06-15T09-00-00.csv");
        await storeTicket(
          db,
          { ticket_id: "WOT0000001", is_actionable: "true", cluster: "Westlands" },
          "2026-06-15T09-00-00.csv",
        );
        await db.query(
          `insert into tickets.geo_clusters (cluster, status, geom)
           values ('Westlands', 'hit', st_setsrid(st_makepoint(36.8108, -1.2676), 4326))`,
        );

        const upgrade = await migrate(db);
        assertEquals(upgrade.pending, [
          "011_geometry_marks.sql",
          "012_run_key.sql",
          "013_run_start.sql",
          "014_edited_migrations.sql",
          "015_name_keys.sql",
          "016_name_keys_nfc.sql",
        ]);
        assertEquals(upgrade.changedDefinitions, ["91_resolve_applied_geometry.sql"]);
        const after = await runAfterApply(db, INC);
        assertEquals([after.errors, after.geometryResolved], [[], 1]);
        const [row] = await db.query<{ geo_source: string; placed: boolean; tickets: number }>(
          `select (select geo_source from tickets.inc where ticket_id = 'WOT0000001'),
                  (select placed_at is not null from tickets.applied_files) as placed,
                  (select count(*)::int from tickets.inc) as tickets`,
        );
        assertEquals(row, { geo_source: "cluster", placed: true, tickets: 1 });
        assertEquals((await runAfterApply(db, INC)).geometryResolved, 0, "placed once");
      } finally {
        await db.close();
      }
    },
  });

  Deno.test({
    name:
      `[${name}] a database at migration 011 gets 012: its recorded runs kept, and the next run's record carries its key`,
    ...shared,
    async fn() {
      const db = await open();
      try {
        // The last release: migrations up to 011, and a run it recorded (no run key then).
        const shipped = await loadMigrations();
        await migrate(db, { migrations: shipped.filter((m) => m.version <= 11) });
        const report = okRunReport(0);
        await db.query(
          `insert into tickets.runs (dataset, started_at, finished_at, status, source)
           values ('inc', '2026-06-15T06:00:00Z', '2026-06-15T06:01:00Z', 'ok', 'dir:bucket')`,
        );

        assertEquals((await migrate(db)).pending, [
          "012_run_key.sql",
          "013_run_start.sql",
          "014_edited_migrations.sql",
          "015_name_keys.sql",
          "016_name_keys_nfc.sql",
        ]);
        const at = new Date("2026-06-15T06:20:00Z");
        await recordRun(db, report, { startedAt: at, finishedAt: at });
        const rows = await db.query<{ started: string; keyed: boolean }>(
          `select to_char(started_at at time zone 'UTC', 'HH24:MI') as started,
                  run_key is not null as keyed
           from tickets.runs order by started_at`,
        );
        assertEquals(rows, [{ started: "06:00", keyed: false }, { started: "06:20", keyed: true }]);
      } finally {
        await db.close();
      }
    },
  });

  Deno.test({
    name:
      `[${name}] a database at migration 012 gets 013: its recorded runs kept and read by status, and a run killed after it shows as died`,
    ...shared,
    async fn() {
      const db = await open();
      try {
        // The last release: migrations up to 012, and an ok run it recorded at its end.
        const shipped = await loadMigrations();
        await migrate(db, { migrations: shipped.filter((m) => m.version <= 12) });
        await db.query(
          `insert into tickets.runs (run_key, dataset, started_at, finished_at, status, source)
           values (gen_random_uuid(), 'inc', '2026-06-15T06:00:00Z', '2026-06-15T06:01:00Z', 'ok',
                   'dir:bucket')`,
        );
        assertEquals((await migrate(db)).pending, [
          "013_run_start.sql",
          "014_edited_migrations.sql",
          "015_name_keys.sql",
          "016_name_keys_nfc.sql",
        ]);
        const at = (iso: string) => ({ clock: { now: () => new Date(iso) }, datasets: [INC] });
        const [kept] = (await readStatus(db, at("2026-06-15T06:10:00Z"))).datasets;
        assertEquals([kept!.lastRun?.status, kept!.lastRun?.finishedAt], [
          "ok",
          "2026-06-15T09:01:00+03:00",
        ]);

        // A run of this release that started while the one before ran (it waited for the lock),
        // began its record once it took the lock, applied a file and never ended, on the session
        // status then reads on: not another process's, so not running (as PGlite's one session
        // is). Before, it sorted by its start, before the run it waited for: HEALTHY.
        await beginRun(db, {
          runKey: crypto.randomUUID(),
          dataset: "inc",
          startedAt: new Date("2026-06-15T06:00:30Z"),
          reseed: false,
          source: "dir:bucket",
        });
        await recordLedgerRow(db, "2026-06-15T09-00-00.csv");
        const [died] = (await readStatus(db, at("2026-06-15T06:30:00Z"))).datasets;
        assertEquals([died!.health, died!.lastRun?.status, died!.lastRun?.finishedAt], [
          "failing",
          "died",
          null,
        ]);
        assertEquals(died!.lastRun?.filesApplied, 1);
        assert.match(
          died!.reasons[0]!,
          /^The last run died: it began at 2026-06-15T09:00:30\+03:00 and never recorded its end \(killed, out of memory, its machine stopped, or it lost the database before it could record it\); the 1 file\(s\) it applied are kept, what it had not committed rolled back, and the next run goes on from the watermark$/,
        );
        const rows = await db.query<{ status: string; ended: boolean }>(
          `select status, finished_at is not null as ended from tickets.runs order by started_at`,
        );
        assertEquals(rows, [{ status: "ok", ended: true }, { status: "running", ended: false }]);
      } finally {
        await db.close();
      }
    },
  });

  Deno.test({
    name:
      `[${name}] a database at migration 015 gets 016: a name in either Unicode form is one name, its indexes rebuilt`,
    ...shared,
    async fn() {
      const db = await open();
      try {
        // The last release: migrations up to 015, a ticket whose cluster came decomposed (NFD).
        const shipped = await loadMigrations();
        await migrate(db, { migrations: shipped.filter((m) => m.version <= 15) });
        await storeTicket(db, {
          ticket_id: "WOT0000001",
          is_actionable: "true",
          cluster: "Nyali Be\u0301ach",
          created_at_service: "2026-06-13 09:00:00",
        }, "2026-06-15T09-00-00.csv");
        const byKey = (name: string) =>
          db.query<{ id: string }>(
            `select ticket_id as id from tickets.inc
             where tickets.name_key(cluster) = tickets.name_key($1)`,
            [name],
          );
        assertEquals(await byKey("Nyali B\u00e9ach"), [], "before 016: two keys");

        assertEquals((await migrate(db)).pending, ["016_name_keys_nfc.sql"]);
        assertEquals(await byKey("NYALI B\u00c9ACH"), [{ id: "WOT0000001" }]);
        // The index the filters use holds the new key too: the same answer through it.
        await db.exec(`set enable_seqscan = off`);
        assertEquals(await byKey("nyali b\u00e9ach"), [{ id: "WOT0000001" }]);
        await db.exec(`reset enable_seqscan`);
        const [row] = await db.query<{ key: string }>(
          `select tickets.name_key(E' Nyali Be\\u0301ach\\u00a0') as key`,
        );
        assertEquals(row!.key, "nyali b\u00e9ach");
      } finally {
        await db.close();
      }
    },
  });
}

Deno.test({
  name: "migrate by a role that may not create PostGIS says what a superuser does once",
  ignore: base === undefined, // PostgreSQL only: PGlite has no roles
  ...shared,
  async fn() {
    const admin = postgres(base!, { max: 1, onnotice: () => {} });
    const role = `ft_test_nopostgis_${crypto.randomUUID().slice(0, 8)}`;
    try {
      await admin.unsafe(`create role ${role} login`);
      await admin.unsafe(`create database ${role} owner ${role}`);
      const url = new URL(base!);
      url.username = role;
      url.pathname = `/${role}`;
      const r = await cli(["migrate"], { DATABASE_URL: url.href });
      assert.equal(r.code, 2, r.stdout + r.stderr); // a setting to fix (before: 1)
      // It printed the server's words alone: `permission denied to create extension "postgis"`.
      assert.match(
        r.stderr,
        /^Cannot migrate PostgreSQL at .*: its role may not create the PostGIS extension; a superuser runs "create extension postgis;" in that database once/,
      );
      // doctor says so first (before: "run deno task migrate", which then failed as above).
      const doctor = await cli(["doctor"], { DATABASE_URL: url.href });
      assert.match(
        doctor.stdout,
        /warn +PostGIS +available \(.*\) but not installed in this database\n.*as a superuser, run "create extension postgis;" in this database once/,
      );
    } finally {
      await admin.unsafe(`drop database if exists ${role}`);
      await admin.unsafe(`drop role if exists ${role}`);
      await admin.end();
    }
  },
});

Deno.test({
  name: "migrate by a role without CREATE on a database with no schema yet names the grant",
  ignore: base === undefined, // PostgreSQL only: PGlite has no roles
  ...shared,
  async fn() {
    const admin = postgres(base!, { max: 1, onnotice: () => {} });
    const role = `ft_test_nocreate_${crypto.randomUUID().slice(0, 8)}`;
    try {
      await admin.unsafe(`create role ${role} login`);
      await admin.unsafe(`create database ${role}`); // owned by the admin, not the role
      const url = new URL(base!);
      url.pathname = `/${role}`;
      const inDb = postgres(url.href, { max: 1, onnotice: () => {} });
      await inDb.unsafe(`create extension if not exists postgis`);
      await inDb.end();
      url.username = role;
      const r = await cli(["migrate"], { DATABASE_URL: url.href });
      assert.equal(r.code, 2, r.stdout + r.stderr);
      // Before: "… lacks the rights to write the schema; the worker needs the schema owner's
      // role", and there was no schema, so no owner.
      assert.ok(
        r.stderr.includes(
          `the database role "${role}" may not create the schema in database "${role}"; as its ` +
            `owner or a superuser run: grant create on database "${role}" to "${role}"`,
        ),
        r.stderr,
      );
    } finally {
      await admin.unsafe(`drop database if exists ${role}`);
      await admin.unsafe(`drop role if exists ${role}`);
      await admin.end();
    }
  },
});

Deno.test({
  name: "migrate waits a bounded time for a table another session holds, then names that session",
  ignore: base === undefined, // PostgreSQL only: PGlite has one session
  ...shared,
  async fn() {
    const url = await createScratchDatabase(base!);
    const db = createPostgresDatabase(url);
    const holder = anotherSession(url, "psql");
    try {
      await migrate(db);
      const [before] = await holder<{ n: number }[]>`select count(*)::int as n from tickets.runs`;
      // A session left in an open transaction that read tickets.runs (a forgotten psql).
      let release = () => {};
      const left = new Promise<void>((resolve) => release = resolve);
      const held = holder.begin(async (tx) => {
        await tx`select count(*) from tickets.runs`;
        await left;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const later: Migration = {
        version: 900,
        name: "900_test_runs_note.sql",
        sql: "alter table tickets.runs add column note text",
      };
      const started = performance.now();
      await assert.rejects(
        migrate(db, { migrations: [...(await loadMigrations()), later], lockTimeoutMs: 500 }),
        (error: Error) => {
          // Before: it waited for the session's end, saying nothing, and every later session
          // queued behind it.
          assert.match(
            error.message,
            /^Cannot apply 900_test_runs_note\.sql: another session held its tables for 0\.5 s \(PostgreSQL process \d+ \("psql", idle in transaction for \d+ s\)\); end it \(select pg_terminate_backend\(\d+\)\) or wait for it to finish, then run migrate again \(nothing of 900_test_runs_note\.sql was applied\)$/,
          );
          return true;
        },
      );
      assert.ok(performance.now() - started < 2500, "bounded by the lock timeout");
      release();
      await held;
      const [version] = await db.query<{ v: number }>(
        `select max(version)::int as v from tickets.schema_migrations`,
      );
      assert.ok(version!.v < 900, "not recorded");
      const [after] = await holder<{ n: number }[]>`select count(*)::int as n from tickets.runs`;
      assert.equal(after!.n, before!.n);
      // Once the session has ended, it applies.
      await migrate(db, { migrations: [...(await loadMigrations()), later], lockTimeoutMs: 500 });
    } finally {
      await holder.end();
      await db.close();
    }
  },
});

removeTestDataAtEnd();
