// `doctor`, the first command of the runbook: each check ok / warn / fail with one line of
// remedy; exit 0 when nothing fails, 1 otherwise.

import assert from "node:assert/strict";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { cleanUpScratchDirsAtEnd, cli, scratchDir } from "./_cli.ts";
import { createScratchDatabase, removeTestDataAtEnd, writeFiles } from "./_harness.ts";
import { createS3Client, startS3TestServer } from "./_s3_test_server.ts";
import { createPgliteDatabase } from "../adapters/pglite_database.ts";
import { loadMigrations, migrate } from "../core/migrate.ts";
import postgres from "postgres";
import { copyMigratedPglite } from "./_pglite_cache.ts";
import { generateStream } from "../demo/generate_stream.ts";

const base = Deno.env.get("TEST_DATABASE_URL");

Deno.test({
  name: "doctor: a new embedded folder, a reachable bucket and a keyed geocoder pass (exit 0); " +
    "a missing bucket fails with its remedy (exit 1)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const server = await startS3TestServer();
    try {
      const env = {
        PGLITE_DIR: `${await scratchDir("test-doctor")}/pglite`,
        RUSTFS_ENDPOINT: server.endpoint,
        RUSTFS_ACCESS_KEY: server.accessKeyId,
        RUSTFS_SECRET_KEY: server.secretAccessKey,
        TICKETS_BUCKET: server.bucket,
        GEOCODER_API_KEY: "pk.doctor-test-key",
      };
      const r = await cli(["doctor"], env);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        /^ok +embedded directory +".*\/pglite" is inside \.\/\.data and writable/m,
      );
      // A bucket holding nothing at all: the wrong one, or nothing exported yet.
      assert.match(
        r.stdout,
        /^warn +bucket inc +s3:\/\/.*automations\/inc\/changes\/: no change files; the bucket holds no files at all$/m,
      );
      assert.match(r.stdout, /→ check TICKETS_BUCKET: the exporter writes to another bucket\?/);
      assert.match(r.stdout, /^ok +geocoder +locationiq, key set; not called/m);
      assert.match(r.stdout, /^All checks passed \(2 warning\(s\)\)$/m);
      assert.ok(!r.stdout.includes("pk.doctor-test-key"));

      // A renamed export in changes/ is never applied: a warning naming it, not a failure.
      const client = createS3Client(server);
      await client.send(
        new PutObjectCommand({
          Bucket: server.bucket,
          Key: "automations/inc/changes/export (1).csv",
          Body: "ticket_id\n",
        }),
      );
      client.destroy();
      const renamed = await cli(["doctor"], env);
      assert.equal(renamed.code, 0, renamed.stdout + renamed.stderr);
      assert.match(
        renamed.stdout,
        /^warn +bucket inc +s3:\/\/.*: 0 change files, 1 key\(s\) that are not change files, never applied or moved \("automations\/inc\/changes\/export \(1\)\.csv"\)$/m,
      );
      assert.match(renamed.stdout, /→ rename them YYYY-MM-DDTHH-mm-ss\.csv/);
      assert.match(
        renamed.stdout,
        /^ok +bucket crq +s3:\/\/.*automations\/crq\/changes\/ listable: 0 change file\(s\) waiting$/m,
      );
      assert.match(renamed.stdout, /^All checks passed \(1 warning\(s\)\)$/m);

      const missing = await cli(["doctor", "--json"], { ...env, TICKETS_BUCKET: "no-such-bucket" });
      assert.equal(missing.code, 1, missing.stdout + missing.stderr);
      const report = JSON.parse(missing.stdout);
      assert.equal(report.ok, false);
      const inc = report.checks.find((c: { name: string }) => c.name === "bucket inc");
      assert.equal(inc.result, "fail");
      assert.match(inc.remedy, /create the bucket or set TICKETS_BUCKET \(now "no-such-bucket"\)/);
    } finally {
      await server.close();
    }
  },
});

Deno.test("doctor: a demo's database left incomplete (the demo stopped half-way) fails, saying to run the demo again (exit 1)", async () => {
  const dir = `${await scratchDir("test-doctor")}/demo/pglite`;
  // As a demo stopped during its first boot leaves it: the marker, a folder without a schema.
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/PG_VERSION`, "17\n");
  await Deno.writeTextFile(
    `${dir}.incomplete`,
    '"deno task demo" stopped before it finished building it; run "deno task demo" again\n',
  );
  const r = await cli(["doctor"], { PGLITE_DIR: dir });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(
    r.stdout,
    /^fail +embedded directory +Cannot open the embedded database ".*\/demo\/pglite": "deno task demo" stopped before it finished building it; run "deno task demo" again$/m,
  );
  assert.doesNotMatch(r.stdout, /pending migration/);
});

Deno.test({
  name: "doctor after the demo alone checks the demo's database, which serve and status read",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cwd = await scratchDir("test-doctor");
    const db = await createPgliteDatabase({ dataDir: `${cwd}/.data/demo/pglite` });
    try {
      await migrate(db);
    } finally {
      await db.close();
    }
    const r = await cli(["doctor"], { GEOCODER_PROVIDER: "nominatim" }, { cwd });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // Before: only "embedded directory", bucket and geocoder lines; no database checked at all.
    assert.match(
      r.stdout,
      /^ok +database +PostgreSQL [\d.]+ .*at embedded PGlite in "\.data\/demo\/pglite" \(the demo's\)$/m,
    );
    assert.match(r.stdout, /^ok +PostGIS +version 3/m);
    assert.match(r.stdout, /^ok +migrations +\d+ applied, definitions current$/m);
  },
});

Deno.test("doctor: an embedded folder outside .data fails, naming PGLITE_DIR (exit 1)", async () => {
  const r = await cli(["doctor"], { PGLITE_DIR: "/tmp/elsewhere" });
  assert.equal(r.code, 1);
  assert.match(
    r.stdout,
    /^fail +embedded directory +Cannot open the embedded database "\/tmp\/elsewhere"/m,
  );
  assert.match(r.stdout, /→ set PGLITE_DIR=\.data\/<name>/);
});

Deno.test({
  name: "doctor: a port that answers but is not PostgreSQL fails in bounded time, worded as " +
    "every command words it, without the password",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    (async () => {
      for await (const conn of silent) held.push(conn); // accepts, never answers
    })().catch(() => {});
    try {
      const port = (silent.addr as Deno.NetAddr).port;
      const started = performance.now();
      const r = await cli(["doctor"], {
        DATABASE_URL: `postgres://fleet:s3cretPW@127.0.0.1:${port}/tickets`,
        PGCONNECT_TIMEOUT: "2",
        GEOCODER_PROVIDER: "nominatim",
      });
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        new RegExp(
          `^fail +database +Cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port} \\(database "tickets"\\) ` +
            "within 2 s: the server accepted the connection but never answered: is PostgreSQL " +
            "listening there\\? \\(check the host and port in DATABASE_URL; a busy server may " +
            "need a larger PGCONNECT_TIMEOUT\\)$",
          "m",
        ),
      );
      assert.ok(performance.now() - started < 15_000);
      assert.ok(!(r.stdout + r.stderr).includes("s3cretPW"));
    } finally {
      silent.close();
      for (const conn of held) conn.close();
    }
  },
});

Deno.test({
  name: "doctor: PostgreSQL reachable with its version and PostGIS; pending migrations fail " +
    "until migrate [PostgreSQL: set TEST_DATABASE_URL]",
  ignore: base === undefined,
  sanitizeResources: false,
  fn: async () => {
    const url = await createScratchDatabase(base!);
    const env = { DATABASE_URL: url, GEOCODER_PROVIDER: "nominatim" };
    const before = await cli(["doctor"], env);
    assert.equal(before.code, 1, before.stdout + before.stderr);
    const { hostname, port, pathname } = new URL(url);
    assert.match(
      before.stdout,
      new RegExp(
        `^ok +database +PostgreSQL \\d+\\.\\d+.* at ${hostname}:${port} \\(database "${
          pathname.slice(1)
        }"\\)$`,
        "m",
      ),
    );
    assert.match(
      before.stdout,
      /^fail +migrations +the database has \d+ pending migration\(s\) and \d+ definition\(s\) \(views, functions\) to install \(001_tickets_schema\.sql … \d+_\w+\.sql\)$/m,
    );
    assert.match(before.stdout, /→ run "deno task migrate"/);

    assert.equal((await cli(["migrate"], env)).code, 0);
    const after = await cli(["doctor"], env);
    assert.equal(after.code, 0, after.stdout);
    assert.match(after.stdout, /^ok +PostGIS +version 3\./m);
    assert.match(after.stdout, /^ok +migrations +\d+ applied, definitions current/m);
    assert.match(after.stdout, /^ok +EAT +feed times read as UTC\+3/m);
    assert.match(after.stdout, /^warn +bucket +no S3 credentials set/m);
    assert.match(after.stdout, /^ok +geocoder +nominatim, no key/m);
  },
});

Deno.test({
  name: "doctor: a role that owns the database but may not use the schema is told so, not that " +
    "the schema is missing [PostgreSQL: set TEST_DATABASE_URL]",
  ignore: base === undefined,
  sanitizeResources: false,
  fn: async () => {
    const url = await createScratchDatabase(base!);
    assert.equal((await cli(["migrate"], { DATABASE_URL: url })).code, 0);
    const role = `ft_test_owner_${crypto.randomUUID().slice(0, 8)}`;
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`create role ${role} login`);
      const as = new URL(url);
      as.username = role;
      const doctor = await cli(["doctor"], {
        DATABASE_URL: as.href,
        GEOCODER_PROVIDER: "nominatim",
      });
      assert.equal(doctor.code, 1, doctor.stdout);
      // Before: "warn writes not checked: the schema tickets is not there yet → run migrate",
      // and that migrate failed on the same refusal.
      assert.match(
        doctor.stdout,
        new RegExp(
          `^fail +writes +the database role "${role}" cannot be checked: permission denied for schema tickets$`,
          "m",
        ),
      );
      assert.doesNotMatch(doctor.stdout, /not there yet/);
    } finally {
      await admin.end();
      const cleanup = postgres(base!, { max: 1, onnotice: () => {} });
      await cleanup.unsafe(`drop role if exists ${role}`);
      await cleanup.end();
    }
  },
});

Deno.test({
  name: "doctor: an embedded database of an earlier version fails migrations in the words of " +
    "every command; one a later version migrated fails naming what this version does not know",
  sanitizeResources: false,
  fn: async () => {
    const env = { PGLITE_DIR: `${await scratchDir("test-doctor")}/pglite` };
    const open = () => createPgliteDatabase({ dataDir: env.PGLITE_DIR });
    const shipped = await loadMigrations();
    const db = await open();
    await migrate(db, { migrations: shipped.filter((m) => m.version <= 9), definitions: [] });
    await db.close();
    const older = await cli(["doctor"], env);
    assert.equal(older.code, 1, older.stdout + older.stderr);
    assert.match(
      older.stdout,
      /^fail +migrations +the database has 7 pending migration\(s\) and \d+ definition\(s\) \(views, functions\) to install \(010_capture_marks\.sql … 95_data_changed_notify\.sql\)$/m,
    );

    // What a later release's migrate leaves: a migration this version does not ship.
    const later = await open();
    await later.query(
      `insert into tickets.schema_migrations (version, name, checksum)
       values (999, '999_later_release.sql', 'later')`,
    );
    await later.close();
    const newer = await cli(["doctor"], env);
    assert.equal(newer.code, 1, newer.stdout + newer.stderr);
    assert.match(
      newer.stdout,
      /^fail +migrations +the database holds 1 migration\(s\) this version does not know \(999_later_release\.sql\): a later release migrated it\n +→ run the release that migrated it, or restore the backup taken before that upgrade$/m,
    );
  },
});

Deno.test("doctor --from-dir checks a folder deployment's folder in the bucket's place: the change files waiting, a dataset's folder not there yet; a folder that is none fails (exit 1)", async () => {
  const dir = await scratchDir("test-doctor");
  const env = { PGLITE_DIR: `${dir}/pglite` };
  await copyMigratedPglite(env.PGLITE_DIR);
  await writeFiles(`${dir}/feed`, generateStream({ tickets: 30, deltas: 2, seed: 8 }).files);
  const r = await cli(["doctor", "--from-dir", `${dir}/feed/`], env);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(
    r.stdout,
    /^ok +folder inc +.*\/feed\/automations\/inc\/changes\/ listable: 3 change file\(s\) waiting$/m,
  );
  assert.match(
    r.stdout,
    /^warn +folder crq +No folder ".*\/feed\/automations\/crq\/changes\/": nothing to read for CRQ \(its change files go in DIR\/automations\/crq\/changes\/\)$/m,
  );
  // Before: the bucket alone, warned as unset, whatever the deployment drains.
  assert.doesNotMatch(r.stdout, /bucket/);

  const missing = await cli(["doctor", "--from-dir", `${dir}/nope`], env);
  assert.equal(missing.code, 1, missing.stdout + missing.stderr);
  assert.match(
    missing.stdout,
    /^fail +folder +Cannot read the folder ".*\/nope": it does not exist\n +→ name the folder ingest --from-dir reads/m,
  );
  // A refusal that names its own fix keeps it, without the remedy of naming another folder.
  const outside = await cli(["doctor", "--from-dir", "/"], env);
  assert.equal(outside.code, 1, outside.stdout + outside.stderr);
  assert.match(
    outside.stdout,
    /^fail +folder +Cannot read the folder "\/": .*copy it into the checkout/m,
  );
  assert.doesNotMatch(outside.stdout, /name the folder ingest --from-dir reads/);
});

cleanUpScratchDirsAtEnd();

removeTestDataAtEnd();
