// The embedded database (PGlite) as a user meets it: migrate says what it did, read-only commands
// open it cheaply, `sql` queries it, `db export` moves it to PostgreSQL.

import assert from "node:assert/strict";
import { generateStream } from "../demo/generate_stream.ts";
import { createPgliteDatabase } from "../adapters/pglite_database.ts";
import { loadDefinitions, loadMigrations, migrate } from "../core/migrate.ts";
import { cleanUpScratchDirsAtEnd, cli, type CliOptions, scratchDir, spawnCli } from "./_cli.ts";
import { createScratchDatabase, removeTestDataAtEnd, writeFiles } from "./_harness.ts";
import type { Database } from "../core/ports/mod.ts";
import { copyMigratedPglite, newPgliteWithPostgis } from "./_pglite_cache.ts";

const PSQL = "/usr/lib/postgresql/15/bin/psql";
const base = Deno.env.get("TEST_DATABASE_URL");
const MIGRATIONS =
  [...Deno.readDirSync("migrations")].filter((e) => e.name.endsWith(".sql")).length;

/** An embedded database holding a small applied INC + CRQ stream. */
async function embeddedWithTickets(): Promise<Record<string, string>> {
  const dir = await scratchDir("test-embedded");
  await writeFiles(`${dir}/bucket`, generateStream({ tickets: 150, deltas: 2, seed: 21 }).files);
  const crq = generateStream({ dataset: "crq", tickets: 60, deltas: 1, seed: 22 }).files;
  await writeFiles(`${dir}/bucket`, crq, "automations/crq/changes/");
  const env = { PGLITE_DIR: `${dir}/pglite` };
  await copyMigratedPglite(env.PGLITE_DIR); // what `migrate` makes (its own test is the first)
  const r = await cli(
    ["ingest", "--from-dir", `${dir}/bucket`, "--dataset", "all", "--apply", "--json"],
    env,
  );
  assert.equal(r.code, 0, r.stderr);
  return env;
}

Deno.test({
  name: "embedded: migrate on a new database names the migrations it applied, then says up to date",
  sanitizeResources: false,
  fn: async () => {
    const env = { PGLITE_DIR: `${await scratchDir("test-embedded")}/pglite` };
    // `migrate --dry-run` must not migrate: it takes no argument at all.
    for (const args of [["migrate", "--dry-run"], ["migrate", "up"], ["demo", "--fast"]]) {
      const refused = await cli(args, env);
      assert.equal(refused.code, 2, refused.stdout + refused.stderr);
      assert.match(
        refused.stderr,
        new RegExp(`^Unexpected argument "${args[1]}": ${args[0]} takes none`),
      );
    }
    await assert.rejects(Deno.stat(env.PGLITE_DIR), Deno.errors.NotFound, "nothing was created");
    const first = await cli(["migrate"], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^Applied \d+ migration\(s\): 001_tickets_schema\.sql, /);
    // Said to be new: a mistyped PGLITE_DIR looked like a database migrated.
    assert.match(
      first.stdout,
      new RegExp(
        `\nMade a new database: the embedded database "${env.PGLITE_DIR}" \\(there was none; ` +
          `if you meant one that exists, check PGLITE_DIR\\)\n$`,
      ),
    );
    const again = await cli(["migrate"], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stdout,
      new RegExp(
        `^Schema is up to date \\(\\d+ migrations\\) in the embedded database "${env.PGLITE_DIR}"`,
      ),
    );

    // status only reads: it opens the migrated database (without PostGIS) and reports both datasets.
    const status = await cli(["status", "--json"], env);
    const report = JSON.parse(status.stdout);
    assert.deepEqual(report.datasets.map((d: { dataset: string }) => d.dataset), ["inc", "crq"]);
  },
});

/**
 * Opens an embedded database folder in this process (with `open`), to make or read one the CLI
 * then meets.
 */
async function inProcess<T>(
  dir: string,
  fn: (db: Database) => Promise<T>,
  open: (dataDir: string) => Promise<Database> = (dataDir) => createPgliteDatabase({ dataDir }),
): Promise<T> {
  const db = await open(dir);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

Deno.test({
  name: "embedded: a database an earlier version made is refused by the reading commands, " +
    "naming what is pending, and left as it was; sql looks without migrating; migrate upgrades it",
  sanitizeResources: false,
  fn: async () => {
    // A folder of its own, where .data/pglite is the default PGLITE_DIR: the database an
    // earlier version (migrations 001-009, no definitions yet) made there.
    const cwd = await scratchDir("test-embedded");
    const shipped = await loadMigrations();
    await inProcess(
      `${cwd}/.data/pglite`,
      (db) => migrate(db, { migrations: shipped.filter((m) => m.version <= 9), definitions: [] }),
      newPgliteWithPostgis, // as initdb and `create extension postgis` leave it
    );
    await writeFiles(`${cwd}/bucket`, generateStream({ tickets: 20, deltas: 0, seed: 5 }).files);
    const definitions = (await loadDefinitions()).map((d) => d.name);
    const pending = `7 pending migration(s) and ${definitions.length} definition(s) (views, ` +
      `functions) to install (010_capture_marks.sql, 011_geometry_marks.sql, 012_run_key.sql, ` +
      `013_run_start.sql, 014_edited_migrations.sql, 015_name_keys.sql, 016_name_keys_nfc.sql, ${
        definitions.join(", ")
      })`;
    const run = (args: string[]) => cli(args, {}, { cwd });
    for (
      const args of [
        ["status"],
        ["report"],
        ["capture"],
        ["ingest", "--from-dir", "bucket", "--log-format", "text"], // a dry run writes nothing
        ["serve", "--port", "0"], // refused before it listens
        ["db", "export", "move.sql"], // before, it migrated the database without a word
      ]
    ) {
      const r = await run(args);
      const name = args[0] === "db" ? "db export" : args[0];
      assert.equal(r.code, 2, `${name}: ${r.stdout}${r.stderr}`);
      assert.equal(
        r.stderr,
        `Cannot run ${name}: the database has ${pending}; run "deno task migrate" first\n`,
        name,
      );
    }
    await assert.rejects(Deno.stat(`${cwd}/.data/move.sql`), Deno.errors.NotFound);
    // sql runs on the schema as it is, and says it is not this version's.
    const sql = await run(["sql", "select count(*)::int as n from tickets.schema_migrations"]);
    assert.equal(sql.code, 0, sql.stderr);
    assert.match(sql.stdout, /^n\n-\n9\n\(1 row\)\n$/);
    assert.equal(
      sql.stderr,
      `Note: the database has ${pending}; run "deno task migrate" first ` +
        `(sql runs on the schema as it is)\n`,
    );

    // The demo's database of an earlier version: rebuilt by the demo, not by migrate (which
    // upgrades PGLITE_DIR's).
    const other = await scratchDir("test-embedded");
    await Deno.mkdir(`${other}/.data/demo`, { recursive: true });
    const copy = await new Deno.Command("cp", {
      args: ["-r", `${cwd}/.data/pglite`, `${other}/.data/demo/pglite`],
    }).output();
    assert.equal(copy.code, 0);
    const demo = await cli(["status"], {}, { cwd: other });
    assert.equal(demo.code, 2, demo.stdout + demo.stderr);
    assert.match(
      demo.stderr,
      /\nCannot run status: the database has 7 pending migration\(s\) .*; run "deno task demo" again to rebuild the demo's database at this version\n$/,
    );
    // doctor gives the same remedy (before: run "deno task migrate", which makes an empty
    // database in PGLITE_DIR that every command then reads instead of the demo's).
    const doctor = await cli(["doctor"], {}, { cwd: other });
    assert.equal(doctor.code, 1, doctor.stdout + doctor.stderr);
    assert.match(
      doctor.stdout,
      /\nfail +migrations +the database has 7 pending migration\(s\) [^\n]*\n +→ run "deno task demo" again to rebuild the demo's database at this version\n/,
    );

    const migrated = await run(["migrate"]);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(
      migrated.stdout,
      /^Applied 7 migration\(s\): 010_capture_marks\.sql, 011_geometry_marks\.sql, 012_run_key\.sql, 013_run_start\.sql, 014_edited_migrations\.sql, 015_name_keys\.sql, 016_name_keys_nfc\.sql\nApplied \d+ definition\(s\): /,
    );
    const status = await run(["status", "--json"]);
    assert.equal(status.stderr, "");
    assert.deepEqual(
      JSON.parse(status.stdout).datasets.map((d: { dataset: string }) => d.dataset),
      [
        "inc",
        "crq",
      ],
    );
  },
});

Deno.test({
  name: "embedded: a database a later version migrated is refused by every command, " +
    "migrate included, which changes nothing; sql looks and says so",
  sanitizeResources: false,
  fn: async () => {
    const dir = await scratchDir("test-embedded");
    const env = { PGLITE_DIR: `${dir}/pglite` };
    await writeFiles(`${dir}/bucket`, generateStream({ tickets: 20, deltas: 0, seed: 5 }).files);
    const ledgers = (db: Database) =>
      db.query(
        `select name, checksum, applied_at::text from tickets.schema_definitions
         union all select name, checksum, applied_at::text from tickets.schema_migrations
         order by 1`,
      );
    // This version's database, and the row a later release's migration 999 leaves.
    await copyMigratedPglite(env.PGLITE_DIR);
    const before = await inProcess(env.PGLITE_DIR, async (db) => {
      await migrate(db);
      await db.query(
        `insert into tickets.schema_migrations (version, name, checksum)
         values (999, '999_later_release.sql', 'later')`,
      );
      return await ledgers(db);
    });
    const refusal = "the database holds 1 migration(s) this version does not know " +
      "(999_later_release.sql): a later release migrated it; run the release that migrated it, " +
      "or restore the backup taken before that upgrade";
    for (
      const args of [
        ["migrate"],
        ["status"],
        ["report"],
        ["ingest", "--from-dir", `${dir}/bucket`, "--apply", "--log-format", "text"],
      ]
    ) {
      const r = await cli(args, env);
      assert.equal(r.code, 2, `${args[0]}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stderr, `Cannot run ${args[0]}: ${refusal}\n`, args[0]);
    }
    const sql = await cli(["sql", "select max(version) as v from tickets.schema_migrations"], env);
    assert.equal(sql.code, 0, sql.stderr);
    assert.equal(sql.stderr, `Note: ${refusal} (sql runs on the schema as it is)\n`);
    assert.deepEqual(await inProcess(env.PGLITE_DIR, ledgers), before);
  },
});

Deno.test({
  name: "embedded: `sql` runs the README's queries on the embedded default, as a table or JSON",
  sanitizeResources: false,
  fn: async () => {
    const env = await embeddedWithTickets();
    const table = await cli([
      "sql",
      "select dataset, watermark, files_applied from tickets.import_meta order by dataset",
    ], env);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^dataset \| watermark\s+\| files_applied$/);
    assert.match(lines[2]!, /^crq\s+\| \d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.csv \| 2$/);
    assert.match(lines[3]!, /^inc\s+\| .*\| 3$/);
    assert.equal(lines.at(-1), "(2 rows)");

    const json = await cli([
      "sql",
      "select max(last_applied_at) as at from tickets.import_meta",
      "--json",
    ], env);
    assert.match(JSON.parse(json.stdout)[0].at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+03:00$/);

    // Flags before the SQL work as well as after it; two words of SQL without quotes do not.
    const first = await cli(["sql", "--json", "--max-rows", "1", "select 1 as n"], env);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout.trim(), '[{"n":1}]');
    const cut = await cli(
      ["sql", "--json", "--max-rows", "2", "select generate_series(1, 3) as n"],
      env,
    );
    assert.equal(cut.code, 0, cut.stderr);
    assert.equal(cut.stdout.trim(), '[{"n":1},{"n":2}]');
    assert.match(cut.stderr, /^Note: the statement returned 3 rows; --json printed the first 2 /m);
    const unquoted = await cli(["sql", "select", "1"], env);
    assert.equal(unquoted.code, 2);
    assert.match(
      unquoted.stderr,
      /^Give the SQL as one argument, in quotes: deno task sql "select 1"/,
    );

    const bad = await cli(["sql", "select * from tickets.nope"], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^Cannot run sql: relation "tickets.nope" does not exist/);
  },
});

/** A running `serve --port 0` (listening once this resolves) and how to stop it. */
async function startServe(
  env: Record<string, string>,
  options: CliOptions = {},
): Promise<{ pid: number; url: string; stop(): Promise<void> }> {
  const serve = spawnCli(["serve", "--port", "0"], env, options);
  const stderr = new Response(serve.stderr).text();
  const lines = serve.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let head = "";
  while (!/"url":"/.test(head)) {
    const { value, done } = await lines.read();
    if (done) assert.fail(`serve exited: ${await stderr}`);
    head += value;
  }
  return {
    pid: serve.pid,
    url: /"url":"([^"]+)"/.exec(head)![1]!,
    stop: async () => {
      serve.kill("SIGTERM");
      await serve.status;
      await lines.cancel();
      await stderr;
    },
  };
}

Deno.test({
  name:
    "embedded: ingest beside a running serve fails naming serve and its process (exit 1); with serve stopped it applies",
  sanitizeResources: false,
  fn: async () => {
    const env = await embeddedWithTickets();
    const serve = await startServe(env);
    const bucket = `${env.PGLITE_DIR!.slice(0, -"/pglite".length)}/more`;
    await writeFiles(bucket, generateStream({ tickets: 150, deltas: 3, seed: 21 }).files.slice(3));
    const ingest = ["ingest", "--from-dir", bucket, "--apply", "--log-format", "text"];
    try {
      // Before: "Another run holds the lock …; nothing was applied", exit 0, on every run while
      // serve ran, and the file waited for good (a tester's).
      const beside = await cli(ingest, env);
      assert.equal(beside.code, 1, beside.stdout + beside.stderr);
      assert.match(
        beside.stderr,
        new RegExp(
          `^Cannot run ingest: a running "serve" \\(process ${serve.pid}, since .*\\) holds the ` +
            `embedded database ".*", and keeps it until stopped; stop it \\(kill ${serve.pid}\\)`,
        ),
      );
    } finally {
      await serve.stop();
    }
    const after = await cli(ingest, env);
    assert.equal(after.code, 0, after.stdout + after.stderr);
    assert.match(after.stdout, /applied/);
  },
});

Deno.test({
  name: "embedded: ingest --apply into the default folder while serve shows the demo's database " +
    "says that serve shows the demo until restarted",
  sanitizeResources: false,
  fn: async () => {
    // A folder of its own, where .data/pglite (the default) has no database and the demo's has.
    const cwd = await scratchDir("test-embedded");
    await copyMigratedPglite(`${cwd}/.data/demo/pglite`);
    await writeFiles(`${cwd}/bucket`, generateStream({ tickets: 20, deltas: 0, seed: 5 }).files);
    const serve = await startServe({}, { cwd });
    try {
      // The page is told, for its stale banner (no ingest writes the demo's database).
      const config = await (await fetch(`${serve.url}api/config`)).json();
      assert.deepEqual([config.embedded, config.demo], [true, true]);
      // Before: applied in silence, and the page went on showing the demo (a newcomer's).
      const r = await cli(
        ["ingest", "--from-dir", "bucket", "--apply", "--log-format", "text"],
        {},
        {
          cwd,
        },
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /applied/);
      assert.match(
        r.stderr,
        new RegExp(
          `^Note: a running "serve" \\(process ${serve.pid}\\) shows the demo's database ` +
            `".data/demo/pglite", not ".data/pglite", which this run writes: restart serve ` +
            `\\(kill ${serve.pid}, then "deno task serve"\\) to show this data$`,
          "m",
        ),
      );
    } finally {
      await serve.stop();
    }
  },
});

Deno.test({
  name:
    "embedded: `db export` stopped by Ctrl-C leaves no .partial file and an earlier export whole",
  sanitizeResources: false,
  fn: async () => {
    const env = await embeddedWithTickets();
    const file = `${env.PGLITE_DIR!.slice(".data/".length, -"/pglite".length)}/stopped.sql`;
    await Deno.writeTextFile(`.data/${file}`, "-- an earlier export\n");
    const child = spawnCli(["db", "export", file], env);
    const stderr = new Response(child.stderr).text();
    // Stopped once it writes: it left `stopped.sql.partial` behind, a cut-off script.
    const partial = `.data/${file}.partial`;
    const deadline = performance.now() + 60_000;
    while (!(await Deno.stat(partial).then(() => true, () => false))) {
      assert.ok(performance.now() < deadline, "the export never started writing");
      await new Promise((r) => setTimeout(r, 2));
    }
    child.kill("SIGINT");
    const status = await child.status;
    await child.stdout.cancel();
    if (status.code === 0) return; // it finished first: nothing to stop (rare on this machine)
    assert.equal(status.code, 130, await stderr);
    assert.match(
      await stderr,
      /^Interrupted by SIGINT: the export was not written \(".*stopped\.sql" is as it was\)/,
    );
    await assert.rejects(Deno.stat(partial), Deno.errors.NotFound);
    assert.equal(await Deno.readTextFile(`.data/${file}`), "-- an earlier export\n");
  },
});

Deno.test({
  name:
    "embedded: `db export` over an earlier export keeps that file's permissions (600 stays 600)",
  sanitizeResources: false,
  fn: async () => {
    const env = await embeddedWithTickets();
    const file = `${env.PGLITE_DIR!.slice(".data/".length, -"/pglite".length)}/private.sql`;
    await Deno.writeTextFile(`.data/${file}`, "-- an earlier export\n", { mode: 0o600 });
    await Deno.chmod(`.data/${file}`, 0o600);
    const exported = await cli(["db", "export", file], env);
    assert.equal(exported.code, 0, exported.stderr);
    const info = await Deno.stat(`.data/${file}`);
    assert.match(await Deno.readTextFile(`.data/${file}`), /^--/);
    assert.ok(info.size > 1000);
    // Before: 644, the new file's default, whatever the one it replaced had.
    assert.equal((info.mode! & 0o777).toString(8), "600");
  },
});

Deno.test({
  name: "embedded: `db export -` to a reader that stops early (| head) ends quietly, exit 141",
  sanitizeResources: false,
  fn: async () => {
    const env = await embeddedWithTickets();
    const child = spawnCli(["db", "export", "-"], env);
    const reader = child.stdout.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /^--/);
    await reader.cancel();
    const [status, stderr] = await Promise.all([child.status, new Response(child.stderr).text()]);
    assert.equal(stderr, "");
    assert.equal(status.code, 141);
  },
});

Deno.test({
  name: "embedded: a PGLITE_DIR under a file or in a folder this user may not write is a setting " +
    "to fix, said by every command and by doctor",
  sanitizeResources: false,
  fn: async () => {
    const dir = await scratchDir("test-embedded");
    await Deno.writeTextFile(`${dir}/afile`, "not a folder");
    const cases: [string, RegExp][] = [
      // Before: "not a directory (os error 20): realpath …", exit 1; doctor passed.
      [
        `${dir}/afile/pglite`,
        /": "[^"]*afile" is a file, not a folder; set PGLITE_DIR to a folder/,
      ],
    ];
    // Immutable (as root, chmod is no bar): before, "Cannot run migrate: [object Object]".
    const locked = `${dir}/locked`;
    await Deno.mkdir(locked);
    const chattr = await new Deno.Command("chattr", { args: ["+i", locked] }).output()
      .catch(() => undefined);
    // A folder this user may write whose lock file beside it it may not: before, "Permission
    // denied (os error 13): open '….lock'" alone.
    const lockless = `${dir}/lockless`;
    await Deno.mkdir(lockless);
    await Deno.writeTextFile(`${lockless}.lock`, "");
    const chattrLock = await new Deno.Command("chattr", { args: ["+i", `${lockless}.lock`] })
      .output().catch(() => undefined);
    if (chattr?.success) {
      cases.push([
        locked,
        /: this user may not write in "[^"]*locked" \(operation not permitted\)/,
      ]);
    } else console.warn("chattr +i is not available here: the read-only case is not run");
    if (chattrLock?.success) {
      cases.push([
        lockless,
        /: this user may not write its lock file "[^"]*lockless\.lock" \(operation not permitted\); make it \(or "[^"]*"\) writable/,
      ]);
    }
    try {
      for (const [path, why] of cases) {
        for (const command of ["migrate", "status"]) {
          const r = await cli([command], { PGLITE_DIR: path });
          assert.equal(r.code, 2, `${command} ${path}: ${r.stdout}${r.stderr}`);
          assert.match(r.stderr, /^Cannot open the embedded database "/);
          assert.match(r.stderr, why);
        }
        const doctor = await cli(["doctor"], { PGLITE_DIR: path });
        assert.equal(doctor.code, 1, doctor.stdout);
        assert.match(doctor.stdout, /fail +embedded directory +Cannot open the embedded database/);
        assert.doesNotMatch(doctor.stdout, /ok +embedded directory/);
      }
    } finally {
      if (chattr?.success) await new Deno.Command("chattr", { args: ["-i", locked] }).output();
      if (chattrLock?.success) {
        await new Deno.Command("chattr", { args: ["-i", `${lockless}.lock`] }).output();
      }
    }
  },
});

Deno.test({
  name: "embedded: a PGLITE_DIR that is a link inside ./.data to a database there opens it; one " +
    "whose files are read-only is a setting to fix, said once by doctor",
  sanitizeResources: false,
  fn: async () => {
    const env = await embeddedWithTickets();
    const dir = env.PGLITE_DIR!;
    const link = `${dir}-link`;
    await Deno.symlink("pglite", link); // relative, beside it
    // Before: every command, exit 1: "its file system refused it (errno 20)".
    const status = await cli(["status"], { PGLITE_DIR: link });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /\n {2}160 tickets, 12 open/);
    const chattr = await new Deno.Command("chattr", { args: ["-R", "+i", dir] }).output()
      .catch(() => undefined);
    if (!chattr?.success) {
      console.warn("chattr +i is not available here: the read-only case is not run");
      return;
    }
    try {
      await new Deno.Command("chattr", { args: ["-i", dir] }).output(); // the folder writable
      const refused = await cli(["status"], env);
      // Before: exit 1 ("Aborted()", no folder named; transient under cron).
      assert.equal(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /^Cannot open the embedded database "[^"]*pglite": /);
      const doctor = await cli(["doctor"], env);
      assert.equal(doctor.code, 1, doctor.stdout);
      assert.match(doctor.stdout, /^ok +embedded directory /m);
      assert.match(doctor.stdout, /^fail +database +Cannot open the embedded database /m);
      // Before: a second "embedded directory" line, failed, under the first.
      assert.equal(doctor.stdout.match(/embedded directory/g)?.length, 1, doctor.stdout);
    } finally {
      await new Deno.Command("chattr", { args: ["-R", "-i", dir] }).output();
    }
  },
});

Deno.test({
  name: "embedded: `db export` refuses a name inside the database's folder, its lock file or a " +
    "folder, before writing anything, and the database still opens",
  sanitizeResources: false,
  fn: async () => {
    const env = await embeddedWithTickets();
    const dir = env.PGLITE_DIR!; // .data/test-embedded/<id>/pglite
    const besides = dir.slice(".data/".length, -"/pglite".length);
    const cases: [string, RegExp][] = [
      // Before: exit 0, and the database no longer opened ("PGlite failed to initialize").
      [`${dir}/PG_VERSION`, /it is inside the embedded database's folder/],
      [`${besides}/pglite/base/backup.sql`, /it is inside the embedded database's folder/],
      [`${besides}/pglite.lock`, /it is the lock file of the embedded database's folder/],
      // Before: a 2 s export, then "is a directory (os error 21): rename …", exit 1.
      [besides, /it names a folder; name a file, such as /],
      ["x.sql/", /it names a folder; name a file, such as "x\.sql\/export\.sql"/],
      // Another embedded database's folder, and a link out of ./.data (second tester: both were
      // written, the second in /tmp, each "Wrote …", exit 0).
      [`${besides}/other/base.sql`, /it is inside the embedded database's folder "[^"]*other"/],
      [
        `${besides}/out/x.sql`,
        /\(it leads to "[^"]*"\): the worker may write only under \.\/\.data/,
      ],
    ];
    await Deno.mkdir(`.data/${besides}/other`);
    await Deno.writeTextFile(`.data/${besides}/other/PG_VERSION`, "17\n");
    const outside = await Deno.makeTempDir();
    await Deno.symlink(outside, `.data/${besides}/out`);
    for (const [name, why] of cases) {
      const refused = await cli(["db", "export", name], env);
      assert.equal(refused.code, 2, `${name}: ${refused.stdout}${refused.stderr}`);
      assert.match(refused.stderr, /^Cannot write /);
      assert.match(refused.stderr, why);
    }
    assert.deepEqual([...Deno.readDirSync(outside)], [], "nothing written through the link");
    await Deno.remove(outside, { recursive: true });
    const status = await cli(["status"], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stdout,
      /HEALTHY\ndatabase: the embedded database .*\n.*\n {2}160 tickets, 12 open/,
    );
  },
});

Deno.test({
  name: "embedded: `db export` → psql → PostgreSQL gives a healthy status and the same rows " +
    "[PostgreSQL: set TEST_DATABASE_URL]",
  ignore: base === undefined,
  sanitizeResources: false,
  fn: async () => {
    const env = await embeddedWithTickets();
    const file = `${env.PGLITE_DIR!.slice(".data/".length, -"/pglite".length)}/export.sql`;
    const exported = await cli(["db", "export", file], env);
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(
      exported.stdout,
      new RegExp(`^Wrote \\.data/${file}: ${MIGRATIONS} migrations and `),
    );

    const url = await createScratchDatabase(base!);
    // As the README loads it.
    const loadScript = () =>
      new Deno.Command(PSQL, {
        args: [
          url,
          "-X",
          "-q",
          "-v",
          "ON_ERROR_STOP=1",
          "--single-transaction",
          "-f",
          `.data/${file}`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const load = await loadScript();
    assert.equal(load.code, 0, new TextDecoder().decode(load.stderr));
    // Loaded twice (or after a migrate): said in words, nothing changed (before: PostgreSQL's
    // `relation "inc" already exists`).
    const again = await loadScript();
    assert.equal(again.code, 3);
    assert.match(
      new TextDecoder().decode(again.stderr),
      /ERROR: {2}Cannot load this export: the database already holds fleettickets tables \(tickets\.inc\); load it into an empty database \(createdb NAME\), not one that "deno task migrate" or an earlier load made/,
    );

    const server = { DATABASE_URL: url };
    const query = "select ticket_id, raw, source_file, geo_source from tickets.inc " +
      "union all select ticket_id, raw, source_file, geo_source from tickets.crq order by 1";
    const [before, after] = await Promise.all([
      cli(["sql", query, "--json", "--max-rows", "100000"], env),
      cli(["sql", query, "--json", "--max-rows", "100000"], server),
    ]);
    assert.ok(JSON.parse(before.stdout).length > 150);
    assert.deepEqual(JSON.parse(after.stdout), JSON.parse(before.stdout));

    // The server takes over: migrations up to date, status reads the same ledger and runs.
    assert.match(
      (await cli(["migrate"], server)).stdout,
      new RegExp(`^Schema is up to date \\(${MIGRATIONS} migrations\\)`),
    );
    const [was, now] = await Promise.all([
      cli(["status", "--json", "--max-age", "100000"], env),
      cli(["status", "--json", "--max-age", "100000"], server),
    ]);
    assert.equal(now.code, 0, now.stdout + now.stderr);
    const strip = (text: string) =>
      JSON.parse(text).datasets.map((d: Record<string, unknown>) => ({ ...d, contentLagHours: 0 }));
    assert.deepEqual(strip(now.stdout), strip(was.stdout));
    assert.equal(JSON.parse(now.stdout).healthy, true);

    // New runs on the server keep numbering after the exported ones.
    const ids = await cli([
      "sql",
      "select count(*)::int as n, max(id)::int as max from tickets.runs",
      "--json",
    ], server);
    const [{ n, max }] = JSON.parse(ids.stdout);
    assert.equal(n, max);
  },
});

cleanUpScratchDirsAtEnd();

removeTestDataAtEnd();
