// Sources that are not there, that could not be archived, or that lead outside the permission
// set through a symbolic link (issue 11, items 8, 9 and 12). The CLI runs as an operator runs it:
// a subprocess under `deno run -P=worker`.

import assert from "node:assert/strict";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import postgres from "postgres";
import { COLUMNS, generateStream, renderCsv } from "../demo/generate_stream.ts";
import { createScratchDatabase, listNames, removeTestDataAtEnd, writeFiles } from "./_harness.ts";
import { createS3Client, type S3TestServer, startS3TestServer } from "./_s3_test_server.ts";
import { startS3FaultProxy } from "./_s3_fault_proxy.ts";
import { cli as runCli } from "./_cli.ts";
import { copyMigratedPglite } from "./_pglite_cache.ts";

const stream = generateStream({ tickets: 40, deltas: 1, seed: 5 });
const CHANGES = "automations/inc/changes/";

/** The CLI's exit code, stdout, and everything it printed (`text`). */
async function cli(args: string[], env: Record<string, string> = {}) {
  const { code, stdout, stderr } = await runCli(args, env);
  return { code, stdout, text: stdout + stderr };
}

/** A scratch folder (under .data/, where the worker may write), removed after `fn`. */
async function withScratch(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = `.data/test-sources/${crypto.randomUUID()}`;
  await Deno.mkdir(dir, { recursive: true });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(dir.slice(0, dir.lastIndexOf("/"))).catch(() => {}); // the area, once empty
  }
}

/** A database for one test: a scratch PostgreSQL database, else PGlite in `dir`. */
async function database(dir: string): Promise<Record<string, string>> {
  const base = Deno.env.get("TEST_DATABASE_URL");
  if (!base) return { PGLITE_DIR: `${dir}/pglite` };
  const env = { DATABASE_URL: await createScratchDatabase(base) };
  assert.equal((await cli(["migrate"], env)).code, 0);
  return env;
}

/** A bucket on `server`, configured as an operator does, beside `dir`'s database. */
async function bucketEnv(dir: string, server: S3TestServer): Promise<Record<string, string>> {
  return {
    ...await database(dir),
    RUSTFS_ENDPOINT: server.endpoint,
    RUSTFS_ACCESS_KEY: server.accessKeyId,
    RUSTFS_SECRET_KEY: server.secretAccessKey,
    TICKETS_BUCKET: server.bucket,
    GEOCODER_PROVIDER: "nominatim",
  };
}

/** The `run` line among a run's JSON log lines on stderr. */
function runLine(stderr: string): Record<string, unknown> | undefined {
  return stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
    .find((l) => l.event === "run");
}

Deno.test({
  name: "a --from-dir folder that does not exist, or has no automations/, is an error naming it",
  sanitizeResources: false,
  fn: () =>
    withScratch(async (dir) => {
      const env = { PGLITE_DIR: `${dir}/pglite` };
      // On a terminal (--log-format text): the plain message; under cron a JSON run line says it.
      const text = ["--log-format", "text"];
      for (const args of [["ingest", "--apply", ...text], ["ingest", ...text], ["status"]]) {
        const r = await cli([...args, "--from-dir", `${dir}/typo`], env);
        assert.equal(r.code, 2, r.text);
        assert.match(r.text, new RegExp(`Cannot read the folder "${dir}/typo": it does not exist`));
      }
      await Deno.mkdir(`${dir}/empty`);
      const r = await cli(["ingest", "--apply", "--from-dir", `${dir}/empty`, ...text], env);
      assert.equal(r.code, 2, r.text);
      assert.match(r.text, /it has no "automations\/" folder/);
      assert.doesNotMatch(r.text, /Usage:/, "no usage block after a typo");
      // Files one level up from changes/: nothing to drain, and it says where files go.
      await Deno.mkdir(`${dir}/misplaced/automations/inc`, { recursive: true });
      await Deno.writeTextFile(
        `${dir}/misplaced/automations/inc/${stream.files[0]!.name}`,
        stream.files[0]!.text,
      );
      // On a migrated database (a copy), not the empty one a dry run migrates in memory: ~17 s.
      await copyMigratedPglite(env.PGLITE_DIR);
      const misplaced = await cli(["ingest", "--from-dir", `${dir}/misplaced`], env);
      assert.equal(misplaced.code, 0, misplaced.text);
      // No terminal, as under cron: a JSON warning, as the rest of the log.
      const warned = misplaced.text.split("\n").filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line)).find((line) => line.event === "no_changes_folder");
      assert.equal(warned?.level, "warn", misplaced.text);
      assert.match(
        warned.error,
        /^No folder ".*\/misplaced\/automations\/inc\/changes\/": nothing to read for INC \(its change files go in DIR\/automations\/inc\/changes\/\)$/,
      );
    }),
});

Deno.test({
  name: "a --csv file that does not exist is an error naming it",
  sanitizeResources: false,
  fn: async () => {
    const r = await cli([
      "ingest",
      "--csv",
      "nowhere/2026-06-15T17-00-00.csv",
      "--apply",
      "--log-format",
      "text",
    ]);
    assert.equal(r.code, 2, r.text);
    assert.match(
      r.text,
      /Cannot read the change file "nowhere\/2026-06-15T17-00-00.csv": it does not exist/,
    );
  },
});

Deno.test({
  name:
    "a --csv file whose name is no export time (a mis-shaped name, 30 February) is a usage error naming it",
  sanitizeResources: false,
  fn: () =>
    withScratch(async (dir) => {
      for (const name of ["export.csv", "2026-02-30T00-00-00.csv", "2026-06-15T25-00-00.csv"]) {
        const file = `${dir}/${name}`;
        await Deno.writeTextFile(file, "ticket_id\n");
        const r = await cli(["ingest", "--csv", file, "--apply"], { PGLITE_DIR: `${dir}/db` });
        assert.equal(r.code, 2, r.text);
        assert.match(r.text, new RegExp(`^Cannot tell when "${file}" was exported`));
        assert.match(r.text, /name it YYYY-MM-DDTHH-mm-ss\.csv \(EAT\)/);
        assert.doesNotMatch(r.text, /no new change files/);
      }
    }),
});

Deno.test({
  name: "--csv applies a file once; again it is skipped, never moved, and the report says so",
  sanitizeResources: false,
  fn: () =>
    withScratch(async (dir) => {
      const env = await database(dir);
      const file = `${dir}/${stream.files[0]!.name}`;
      await Deno.writeTextFile(file, stream.files[0]!.text);
      const first = await cli(["ingest", "--csv", file, "--apply", "--json"], env);
      assert.equal(first.code, 0, first.text);
      assert.equal(JSON.parse(first.stdout).files[0].status, "applied");
      const again = await cli(["ingest", "--csv", file, "--apply", "--json"], env);
      assert.equal(again.code, 0, again.text);
      assert.equal(JSON.parse(again.stdout).files[0].status, "skipped");
      // A dry run says the same: nothing to do, the file is not moved.
      const plan = await cli(["ingest", "--csv", file, "--log-format", "text"], env);
      assert.match(
        plan.stdout,
        /skipped +already applied, nothing to do \(this file is not moved\)/,
      );
      assert.doesNotMatch(plan.stdout, /to be archived/);
      const text = await cli(["ingest", "--csv", file, "--apply", "--log-format", "text"], env);
      assert.match(text.stdout, /already applied, nothing to do \(this file is not moved\)/);
      // Every report says which database it wrote to (a blank DATABASE_URL in a cron
      // environment would otherwise fill the embedded default unnoticed).
      const into =
        /^(the embedded database ".*\/pglite"|PostgreSQL at .*\(database "ft_test_\w+"\))$/;
      assert.match(JSON.parse(first.stdout).database, into);
      assert.match(text.stdout.split("\n")[0]!.split(", into ")[1]!, into);
      assert.doesNotMatch(text.stdout, /archived/);
      await Deno.stat(file); // still where it was
      // A file's problems name it as given, not as a bucket key the user never typed.
      const empty = `${dir}/2026-06-15T09-00-00.csv`;
      await Deno.writeTextFile(empty, "");
      const bad = await cli(["ingest", "--csv", empty, "--apply", "--log-format", "text"], env);
      assert.equal(bad.code, 1, bad.text);
      assert.match(
        bad.text,
        new RegExp(`Cannot apply change file "${empty}": line 1 has no header`),
      );
      assert.doesNotMatch(bad.text, /automations\/inc\/changes/);
    }),
});

Deno.test({
  name:
    "a CRQ file given to --csv without --dataset crq is refused before anything is written (its folder, or its rows' service_type)",
  sanitizeResources: false,
  fn: () =>
    withScratch(async (dir) => {
      const crq = generateStream({ dataset: "crq", tickets: 30, deltas: 0, seed: 7 }).files[0]!;
      const silent = renderCsv(COLUMNS, [{
        ...Object.fromEntries(COLUMNS.map((c) => [c, ""])),
        ticket_id: "CRQ000000001",
      }]);
      const env = { PGLITE_DIR: `${dir}/db` };
      await Deno.mkdir(`${dir}/automations/crq/processed`, { recursive: true });
      const inFolder = `${dir}/automations/crq/processed/${crq.name}`;
      const loose = `${dir}/${crq.name}`;
      await Deno.writeTextFile(inFolder, silent); // rows without service_type: the folder says
      await Deno.writeTextFile(loose, crq.text);
      // The same export saved as "Unicode text" (UTF-16 LE with a byte-order mark).
      const utf16 = `${dir}/utf16-${crq.name}`;
      const text = "\uFEFF" + crq.text;
      const units = Uint16Array.from({ length: text.length }, (_, i) => text.charCodeAt(i));
      await Deno.writeFile(utf16, new Uint8Array(units.buffer));
      const cases: [string, RegExp][] = [
        [inFolder, /it is in a "crq" folder; pass --dataset crq/],
        [loose, /its rows say service_type "crq"; pass --dataset crq/],
        [utf16, /its rows say service_type "crq"; pass --dataset crq/],
      ];
      for (const [file, why] of cases) {
        const r = await cli(["ingest", "--csv", file, "--apply"], env);
        assert.equal(r.code, 2, r.text);
        assert.match(r.text, new RegExp(`^Cannot apply "${file}" to INC: `));
        assert.match(r.text, why);
      }
      // INC rows in a folder that happens to be named crq: the rows decide (a dry run).
      await Deno.mkdir(`${dir}/crq`);
      const inc = `${dir}/crq/${stream.files[0]!.name}`;
      await Deno.writeTextFile(inc, stream.files[0]!.text);
      const rows = await cli(["ingest", "--csv", inc, "--json"], env);
      assert.equal(rows.code, 0, rows.text);
      await assert.rejects(Deno.stat(`${dir}/db`), Deno.errors.NotFound, "no database created");
      // With the right dataset it is planned; a dry run with no database yet plans against an
      // empty one in memory and leaves the folder alone (nothing written).
      const right = await cli(["ingest", "--csv", loose, "--dataset", "crq", "--json"], env);
      assert.equal(right.code, 0, right.text);
      assert.equal(JSON.parse(right.stdout).files[0].status, "planned");
      assert.match(right.text, /No embedded database in ".*\/db" yet: planning against an empty/);
      await assert.rejects(Deno.stat(`${dir}/db`), Deno.errors.NotFound, "a dry run made none");
    }),
});

Deno.test({
  name: "a bucket that does not exist is an error naming it, for ingest and status",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const server = await startS3TestServer();
    try {
      const env = {
        PGLITE_DIR: ".data/test-sources/never-created",
        RUSTFS_ENDPOINT: server.endpoint,
        RUSTFS_ACCESS_KEY: server.accessKeyId,
        RUSTFS_SECRET_KEY: server.secretAccessKey,
        TICKETS_BUCKET: "no-such-bucket",
      };
      const ingest = ["ingest", "--from-bucket", "--apply", "--log-format", "text"];
      for (const args of [ingest, ["status", "--from-bucket"]]) {
        const r = await cli(args, env);
        assert.equal(r.code, 2, r.text);
        assert.match(r.text, /the bucket "no-such-bucket" does not exist \(TICKETS_BUCKET\)/);
        assert.ok(!r.text.includes(server.secretAccessKey));
      }
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "a bucket that holds no file at all (the wrong bucket?) says so: the text report, the " +
    "--json report, the JSON run log line, doctor and status",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withScratch(async (dir) => {
      const server = await startS3TestServer();
      try {
        const env = await bucketEnv(dir, server);
        // Before: only "no new change files", as for a drained bucket.
        const text = await cli(["ingest", "--from-bucket", "--log-format", "text"], env);
        assert.equal(text.code, 0, text.text);
        assert.match(
          text.stdout,
          /^ {2}no change files under "automations\/inc\/changes\/"; the bucket holds no files at all \(is TICKETS_BUCKET the right bucket\?\)$/m,
        );
        const json = await runCli(["ingest", "--from-bucket", "--json"], env);
        assert.equal(json.code, 0, json.stderr);
        assert.equal(JSON.parse(json.stdout).bucketEmpty, true);
        const run = runLine(json.stderr);
        assert.equal(run?.level, "warn", json.stderr);
        assert.equal(run?.bucketEmpty, true);

        const doctor = await cli(["doctor"], env);
        assert.match(
          doctor.stdout,
          /^warn +bucket inc +s3:\/\/.*\/automations\/inc\/changes\/: no change files; the bucket holds no files at all$/m,
        );
        assert.match(doctor.stdout, /→ check TICKETS_BUCKET/);

        assert.equal((await cli(["migrate"], env)).code, 0);
        const status = await cli(["status", "--from-bucket", "--dataset", "inc"], env);
        assert.match(
          status.stdout,
          /^ {2}warning: no change files under "automations\/inc\/changes\/"; the bucket holds no files at all \(is TICKETS_BUCKET the right bucket\?\)$/m,
        );
        const statusJson = await runCli(["status", "--from-bucket", "--json"], env);
        assert.equal(JSON.parse(statusJson.stdout).datasets[0].bucketEmpty, true);
      } finally {
        await server.close();
      }
    }),
});

Deno.test({
  name: "a bucket whose change files sit under another prefix says where: the text report, the " +
    "--json report, the JSON run log line, doctor and status",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withScratch(async (dir) => {
      const server = await startS3TestServer();
      try {
        const client = createS3Client(server);
        for (const file of stream.files) {
          await client.send(
            new PutObjectCommand({
              Bucket: server.bucket,
              Key: `inc/changes/${file.name}`,
              Body: file.text,
            }),
          );
        }
        // And one at the top level, which every message names the same way.
        await client.send(
          new PutObjectCommand({
            Bucket: server.bucket,
            Key: stream.files[0]!.name,
            Body: stream.files[0]!.text,
          }),
        );
        client.destroy();
        const env = await bucketEnv(dir, server);
        const folders = ["", "inc/changes/"];
        const where = `"" \\(the top level\\), "inc\\/changes\\/"`;
        const said = new RegExp(
          `^ {2}no change files under "automations\\/inc\\/changes\\/"; the bucket has CSV ` +
            `files under ${where} \\(is the prefix right\\?\\)$`,
          "m",
        );
        const text = await cli(["ingest", "--from-bucket", "--log-format", "text"], env);
        assert.equal(text.code, 0, text.text);
        assert.match(text.stdout, said);

        const json = await runCli(["ingest", "--from-bucket", "--json"], env);
        assert.equal(json.code, 0, json.stderr);
        assert.deepEqual(JSON.parse(json.stdout).csvElsewhere, folders);
        const run = runLine(json.stderr);
        assert.equal(run?.level, "warn", json.stderr);
        assert.deepEqual(run?.csvElsewhere, folders);

        const doctor = await cli(["doctor"], env);
        assert.match(
          doctor.stdout,
          new RegExp(
            `^warn +bucket inc +s3:\\/\\/.*\\/automations\\/inc\\/changes\\/: no change files; ` +
              `the bucket has CSV files under ${where}$`,
            "m",
          ),
        );
        assert.match(doctor.stdout, /→ put the change files under automations\/inc\/changes\//);
        assert.match(
          doctor.stdout,
          /^warn +bucket crq +.*: no change files; the bucket has CSV files under "" \(the top level\)$/m,
          "another dataset's files are not named",
        );

        // status: the same warning, and the field in --json (a warning: not unhealthy for it).
        assert.equal((await cli(["migrate"], env)).code, 0);
        const status = await cli(["status", "--from-bucket", "--dataset", "inc"], env);
        assert.match(status.stdout, new RegExp(`^ {2}warning: ${said.source.slice(5)}`, "m"));
        const statusJson = await runCli(["status", "--from-bucket", "--json"], env);
        const [inc, crq] = JSON.parse(statusJson.stdout).datasets;
        assert.deepEqual(inc.csvElsewhere, folders);
        assert.deepEqual(crq.csvElsewhere, [""], "another dataset's files are not named");
      } finally {
        await server.close();
      }
    }),
});

Deno.test({
  name: "--apply on a folder the worker may not archive into is refused before anything is applied",
  sanitizeResources: false,
  fn: async () => {
    // Inside the checkout (readable) but outside ./.data (not writable).
    const folder = `.test-outside-data-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await writeFiles(folder, stream.files);
      await withScratch(async (dir) => {
        const env = await database(dir);
        const r = await cli(["ingest", "--from-dir", folder, "--apply", "--json"], env);
        assert.equal(r.code, 2, r.text);
        assert.match(
          JSON.parse(r.stdout).error,
          new RegExp(
            `Cannot archive applied files in the folder "${folder}" .*only under \\./\\.data`,
          ),
        );
        const status = await cli(["status", "--json"], env);
        if ("PGLITE_DIR" in env) {
          // The embedded database was never even created: status says there is none.
          assert.equal(status.code, 2, status.text);
          assert.match(status.text, /there is none there yet/, "nothing was committed");
        } else {
          assert.equal(
            JSON.parse(status.stdout).datasets[0].filesApplied,
            0,
            "nothing was committed",
          );
        }
        // A dry run only reads: allowed.
        const dry = await cli(["ingest", "--from-dir", folder, "--json"], env);
        assert.equal(dry.code, 0, dry.text);
        assert.equal(JSON.parse(dry.stdout).files.length, stream.files.length);
      });
      assert.equal((await listNames(folder, CHANGES)).length, stream.files.length);
    } finally {
      await Deno.remove(folder, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a changes/ folder linked outside the checkout is refused, its files neither read nor moved",
  sanitizeResources: false,
  fn: async () => {
    const outside = await Deno.makeTempDir({ prefix: "fleettickets-outside-" });
    try {
      await writeFiles(outside, stream.files, "changes/");
      await withScratch(async (dir) => {
        const bucket = `${dir}/bucket`;
        await Deno.mkdir(`${bucket}/automations/inc`, { recursive: true });
        await Deno.symlink(`${outside}/changes`, `${bucket}/${CHANGES.slice(0, -1)}`);
        const env = await database(dir);
        const r = await cli(["ingest", "--from-dir", bucket, "--apply", "--json"], env);
        assert.equal(r.code, 1, r.text);
        const report = JSON.parse(r.stdout);
        assert.equal(report.transient, false);
        assert.match(
          report.error,
          /"automations\/inc\/changes\/".* is a link to ".*", outside the folder/,
        );
        assert.equal(report.totals.inserted, 0);
        assert.deepEqual(await listNames(bucket, "automations/inc/processed/"), []);
      });
      assert.equal((await listNames(outside, "changes/")).length, stream.files.length);
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  },
});

Deno.test({
  name: "PGLITE_DIR through a link under .data to elsewhere is refused, nothing written there",
  sanitizeResources: false,
  fn: async () => {
    const outside = await Deno.makeTempDir({ prefix: "fleettickets-outside-" });
    try {
      await withScratch(async (dir) => {
        await Deno.symlink(outside, `${dir}/link`);
        const r = await cli(["status"], { PGLITE_DIR: `${dir}/link/pglite` });
        assert.equal(r.code, 2, r.text);
        assert.match(
          r.text,
          new RegExp(
            `PGLITE_DIR "${dir}/link/pglite" \\(it leads to ".*"\\): the worker may write only under \\./\\.data`,
          ),
        );
      });
      assert.deepEqual([...Deno.readDirSync(outside)], [], "no cluster was written outside .data");
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  },
});

Deno.test({
  name: "gazetteer import through a link to a file outside the checkout is refused",
  sanitizeResources: false,
  fn: async () => {
    const outside = await Deno.makeTempFile({ prefix: "fleettickets-outside-", suffix: ".csv" });
    try {
      await Deno.writeTextFile(outside, "kind,cluster,place,lat,lon\n");
      await withScratch(async (dir) => {
        await Deno.symlink(outside, `${dir}/sheet.csv`);
        const r = await cli(["gazetteer", "import", `${dir}/sheet.csv`], {
          PGLITE_DIR: `${dir}/pglite`,
        });
        assert.equal(r.code, 2, r.text);
        assert.match(
          r.text,
          /Cannot read the gazetteer sheet .* \(it leads to ".*"\): the worker may read only inside its own folder/,
        );
      });
    } finally {
      await Deno.remove(outside);
    }
  },
});

Deno.test({
  name:
    "a symlinked change file is set aside with the reason, never read or moved; the rest goes on",
  sanitizeResources: false,
  fn: async () => {
    const outside = await Deno.makeTempDir({ prefix: "fleettickets-outside-" });
    try {
      await Deno.writeTextFile(`${outside}/secret.csv`, "ticket_id\nWOT_OUTSIDE\n");
      await withScratch(async (dir) => {
        const bucket = `${dir}/bucket`;
        await writeFiles(bucket, stream.files);
        const linked = "2026-06-15T05-00-00.csv";
        await Deno.symlink(`${outside}/secret.csv`, `${bucket}/${CHANGES}${linked}`);
        const env = await database(dir);
        const r = await cli(["ingest", "--from-dir", bucket, "--apply", "--json"], env);
        assert.equal(r.code, 1, r.text);
        const report = JSON.parse(r.stdout);
        assert.deepEqual(report.setAside, [{
          key: CHANGES + linked,
          reason: "is a symbolic link: not read and not moved (put the file itself there)",
        }]);
        assert.equal(report.transient, false);
        assert.equal(report.files.length, stream.files.length, "the other files were applied");
        assert.ok(report.files.every((f: { status: string }) => f.status === "applied"));
        assert.deepEqual(await listNames(bucket, CHANGES), [], "listNames sees files only");
        assert.ok((await Deno.lstat(`${bucket}/${CHANGES}${linked}`)).isSymlink, "left in place");
      });
      assert.equal(await Deno.readTextFile(`${outside}/secret.csv`), "ticket_id\nWOT_OUTSIDE\n");
    } finally {
      await Deno.remove(outside, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "the default run (INC) names the CRQ change files it leaves waiting; --dataset inc, --dataset all and a drained CRQ folder say nothing",
  sanitizeResources: false,
  fn: () =>
    withScratch(async (dir) => {
      const env = await database(dir);
      const crq = generateStream({ dataset: "crq", tickets: 20, deltas: 1, seed: 8 });
      await writeFiles(dir, stream.files);
      await writeFiles(dir, crq.files, "automations/crq/changes/");
      const note = (text: string) => text.split("\n").filter((l) => /not_drained/.test(l));
      // Before: the run ended "ok" and the two CRQ files sat there, unsaid.
      const run = await cli(["ingest", "--from-dir", dir, "--apply", "--json"], env);
      assert.equal(run.code, 0, run.text);
      assert.equal(JSON.parse(run.stdout).status, "ok");
      const [line] = note(run.text).map((l) => JSON.parse(l));
      assert.equal(line.level, "warn");
      assert.equal(line.dataset, "crq");
      assert.equal(line.files, 2);
      assert.equal(
        line.error,
        `2 CRQ change file(s) wait in "${dir}/automations/crq/changes/": this run reads INC only ` +
          "(the default); --dataset crq or --dataset all drains them",
      );
      // A folder written with a trailing slash is named once, not "…//automations".
      const text = await cli(["ingest", "--from-dir", `${dir}/`, "--log-format", "text"], env);
      assert.match(
        text.text,
        new RegExp(`\n2 CRQ change file\\(s\\) wait in "${dir}/automations/crq/changes/"`),
      );
      // A run skipped for the lock, or that failed, keeps that as its last line: no note after it.
      if (env.DATABASE_URL) {
        const holder = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
        try {
          await holder`select pg_advisory_lock(hashtextextended('fleettickets:drain:inc', 0))`;
          const skipped = await cli(["ingest", "--from-dir", dir, "--apply", "--json"], env);
          assert.equal(JSON.parse(skipped.stdout).status, "locked", skipped.text);
          assert.deepEqual(note(skipped.text), []);
        } finally {
          await holder.end();
        }
      }
      await Deno.writeTextFile(`${dir}/automations/inc/changes/2026-07-01T06-00-00.csv`, "");
      const failed = await cli(["ingest", "--from-dir", dir, "--json"], env);
      assert.equal(failed.code, 1, failed.text);
      assert.deepEqual(note(failed.text), []);
      await Deno.remove(`${dir}/automations/inc/changes/2026-07-01T06-00-00.csv`);
      const chosen = await cli(["ingest", "--from-dir", dir, "--dataset", "inc", "--json"], env);
      assert.deepEqual(note(chosen.text), []);
      const all = await cli(
        ["ingest", "--from-dir", dir, "--dataset=all", "--apply", "--json"],
        env,
      );
      assert.equal(all.code, 0, all.text);
      assert.deepEqual(note(all.text), []);
      const after = await cli(["ingest", "--from-dir", dir, "--json"], env);
      assert.deepEqual(note(after.text), [], "the CRQ files were drained and archived");
    }),
});

Deno.test({
  name:
    "the listing of the dataset a default run leaves out is not waited for past 3 s (an S3 server that never answers it)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withScratch(async (dir) => {
      const server = await startS3TestServer();
      const proxy = startS3FaultProxy(server.endpoint);
      try {
        const env = { ...await bucketEnv(dir, server), RUSTFS_ENDPOINT: proxy.endpoint };
        proxy.addRule({
          label: "CRQ listing never answered",
          match: (r) => r.op === "list" && decodeURIComponent(r.target).includes("/crq/"),
          action: { kind: "stall", at: "request" },
          times: Infinity,
        });
        const started = performance.now();
        const run = await runCli(["ingest", "--from-bucket", "--json"], env);
        const seconds = (performance.now() - started) / 1000;
        assert.equal(run.code, 0, run.stderr);
        assert.equal(JSON.parse(run.stdout).status, "ok");
        assert.ok(proxy.injected.get("CRQ listing never answered"), "the CRQ listing was held");
        // Before: 120 s (the S3 client's four 30 s tries) after the report was printed.
        assert.ok(seconds < 30, `ended ${seconds.toFixed(1)} s after it started`);
        assert.doesNotMatch(run.stderr, /not_drained/);
      } finally {
        proxy.releaseAll();
        await proxy.close();
        await server.close();
      }
    }),
});

removeTestDataAtEnd();
