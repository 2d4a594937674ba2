// The CLI as an operator runs it: a subprocess under `deno run -P=worker` (the exact permission
// set `deno task ingest` and `deno task compile` use), checking output, exit codes and effects.

import assert from "node:assert/strict";
import { generateStream } from "../demo/generate_stream.ts";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { createScratchDatabase, listNames, removeTestDataAtEnd, writeFiles } from "./_harness.ts";
import { createS3Client, startS3TestServer } from "./_s3_test_server.ts";
import { cleanUpScratchDirsAtEnd, cli, scratchDir, spawnCli } from "./_cli.ts";
import { copyMigratedPglite } from "./_pglite_cache.ts";
import { startFakeGeocoder } from "./_fake_geocoder.ts";
import { runDemo } from "../cli/run_demo.ts";

const stream = generateStream({ tickets: 120, deltas: 3, seed: 11 });
const CHANGES = "automations/inc/changes/";

function scratch(): Promise<string> {
  // Under .data/: the worker's permission set may write only there. Removed when the file ends.
  return scratchDir("test-cli");
}

/**
 * An embedded database folder another process holds, as a running serve or ingest does (the OS
 * lock on <dir>.lock); closing the returned file releases it.
 */
async function heldDatabase(dir: string, holder?: object): Promise<Deno.FsFile> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/PG_VERSION`, "17\n");
  const lock = await Deno.open(`${dir}.lock`, { write: true, create: true });
  await lock.lock(true);
  // What a holder of this version writes into the lock file.
  if (holder !== undefined) await lock.write(new TextEncoder().encode(JSON.stringify(holder)));
  return lock;
}

Deno.test("cli: ingest without a source is a usage error (exit 2)", async () => {
  const r = await cli(["ingest"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Choose exactly one source: --from-bucket, --from-dir DIR or --csv FILE/);
});

Deno.test("cli: --from-bucket without credentials names the variables (exit 2)", async () => {
  const r = await cli(["ingest", "--from-bucket", "--log-format", "text"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /set RUSTFS_ACCESS_KEY and RUSTFS_SECRET_KEY/);
  // One of the pair: the other is named (before: both, as if neither were set).
  const half = await cli(["ingest", "--from-bucket", "--log-format", "text"], {
    RUSTFS_ACCESS_KEY: "fleet",
  });
  assert.equal(half.code, 2);
  assert.match(
    half.stderr,
    /Cannot read the bucket: set RUSTFS_SECRET_KEY \(or AWS_SECRET_ACCESS_KEY\); its pair is set/,
  );
});

Deno.test("cli: a malformed DATABASE_URL is a configuration error (exit 2)", async () => {
  const r = await cli(["ingest", "--from-dir", "x", "--log-format", "text"], {
    DATABASE_URL: "mysql://a:b@c/d",
  });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Cannot read DATABASE_URL/);
  // Under cron: the run's JSON line, the same words.
  const cron = await cli(["ingest", "--from-dir", "x"], { DATABASE_URL: "mysql://a:b@c/d" });
  assert.equal(cron.code, 2);
  assert.match(JSON.parse(cron.stdout).error, /^Cannot read DATABASE_URL/);
  assert.doesNotMatch(cron.stdout + cron.stderr, /:b@/);
});

Deno.test("cli: serve on a port in use exits 2 naming the port and --port, before opening the database", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    const started = performance.now();
    // An embedded folder that does not exist: the check comes before the database would open.
    const r = await cli(["serve", "--port", String(port)], { PGLITE_DIR: ".data/no-such-db" });
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr.trim(),
      `Cannot listen on 127.0.0.1:${port}: the port is in use; stop what holds it or choose another with --port`,
    );
    assert.ok(performance.now() - started < 5000, "no database was opened first");
  } finally {
    taken.close();
  }
});

Deno.test("cli: an empty or missing path names the flag or the file (exit 2), before any database opens", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["ingest", "--from-dir", "", "--log-format", "text"],
      /^Cannot read --from-dir "": name a folder/,
    ],
    [["ingest", "--csv", "", "--log-format", "text"], /^Cannot read --csv "": name a change file/],
    [
      ["gazetteer", "import", ".data/no-such-sheet.csv"],
      /^Cannot read the gazetteer sheet ".data\/no-such-sheet.csv": it does not exist/,
    ],
    [["gazetteer", "import", "demo"], /^Cannot read the gazetteer sheet "demo": it is not a file/],
    [["db", "exprot", "x.sql"], /^Unknown db action "exprot": did you mean "export"\?/],
    [
      ["db", "import", "x.sql"],
      /^Unknown db action "import": an export is loaded with psql \(psql "\$DATABASE_URL" -f FILE\.sql\)/,
    ],
    [
      ["gazetteer", "imprt", "review.csv"],
      /^Unknown gazetteer action "imprt": did you mean "import"\?/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = await cli(args, { PGLITE_DIR: ".data/no-such-db" });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

Deno.test("cli: serve, status, sql, report, gazetteer, geocode and capture on an embedded folder without a database refuse it (exit 2) and create nothing", async () => {
  const dir = `${await scratch()}/none`;
  const commands = [
    ["serve", "--port", "0"],
    ["status"],
    ["sql", "select 1"],
    ["report"],
    ["report", "--by", "team"],
    ["gazetteer", "export", "-"],
    ["geocode", "--clusters"],
    ["geocode", "--locations"],
    ["capture"],
  ];
  for (const args of commands) {
    const r = await cli(args, { PGLITE_DIR: dir });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(
        `^Cannot open the embedded database "${dir}": there is none there yet; run "deno task demo"`,
      ),
    );
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound, `${args[0]} created "${dir}"`);
  }
});

Deno.test({
  name:
    "cli: after the demo alone, gazetteer, geocode and capture use the demo's database, say so " +
    "on stderr, and never make an empty one in .data/pglite",
  sanitizeResources: false,
  fn: async () => {
    // A folder of its own: there .data/pglite and .data/demo/pglite are the default folders.
    const cwd = await scratch();
    const run = (args: string[], env: Record<string, string> = {}) => cli(args, env, { cwd });
    const noDefault = async (after: string) =>
      await assert.rejects(
        Deno.stat(`${cwd}/.data/pglite`),
        Deno.errors.NotFound,
        `${after} created .data/pglite`,
      );
    // No database at all: refused as status refuses, before anything is made.
    for (const args of [["gazetteer", "export", "review.csv"], ["geocode", "--clusters"]]) {
      const r = await run(args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.match(
        r.stderr,
        /^Cannot open the embedded database ".data\/pglite": there is none there yet; run "deno task demo"/,
      );
      await noDefault(args.join(" "));
    }
    // A database where `deno task demo` keeps its own.
    await writeFiles(`${cwd}/bucket`, stream.files);
    await copyMigratedPglite(`${cwd}/.data/demo/pglite`);
    const demo = await run(["ingest", "--from-dir", "bucket", "--apply", "--log-format", "text"], {
      PGLITE_DIR: ".data/demo/pglite",
    });
    assert.equal(demo.code, 0, demo.stdout + demo.stderr);
    // PGLITE_DIR one level too high: the folder in it that holds the database is named (before:
    // "there is none there yet", and run the demo; a newcomer's).
    const high = await run(["status"], { PGLITE_DIR: ".data/demo" });
    assert.equal(high.code, 2, high.stdout + high.stderr);
    assert.equal(
      high.stderr,
      'Cannot open the embedded database ".data/demo": there is none there, but ' +
        '".data/demo/pglite" holds one: set PGLITE_DIR=.data/demo/pglite\n',
    );
    await Deno.writeTextFile(
      `${cwd}/sheet.csv`,
      "kind,cluster,place,lat,lon,verified\ncluster,Quarry Road,,-1.2780,36.8390,true\n",
    );
    const fake = startFakeGeocoder(() => ({ lat: -1.2833, lon: 36.8167 }));
    const geocoder = {
      GEOCODER_BASE_URL: fake.baseUrl,
      GEOCODER_API_KEY: "good-key",
      GEOCODER_RATE: "100",
    };
    const steps: [string[], Record<string, string>, string, RegExp][] = [
      [["gazetteer", "import", "sheet.csv"], {}, "Writing to", /^Imported sheet\.csv: .* 1 new;/],
      [["geocode", "--clusters"], {}, "Reading", /to look up \(dry run: --apply looks them up\)$/],
      [
        ["geocode", "--clusters", "--apply", "--budget", "2"],
        geocoder,
        "Writing to",
        /; 2 calls to .*: 2 hits,/,
      ],
      [["capture"], {}, "Writing to", /^history: .* snapshot \S+ updated: \d+ open/],
      // What the import and the apply wrote is in the demo's database: 1 + 2 entries.
      [["gazetteer", "export", "review.csv"], {}, "Reading", /^Wrote 3 gazetteer entries to /],
    ];
    try {
      for (const [args, env, verb, stdout] of steps) {
        const r = await run(args, env);
        assert.equal(r.code, 0, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
        assert.equal(
          r.stderr,
          `${verb} the demo's database ".data/demo/pglite": ".data/pglite" (PGLITE_DIR) has ` +
            `none yet; "deno task ingest" fills it\n`,
          args.join(" "),
        );
        assert.match(r.stdout.trimEnd(), stdout, `${args.join(" ")}: ${r.stdout}`);
        await noDefault(args.join(" "));
      }
    } finally {
      await fake.close();
    }
  },
});

Deno.test("cli: status waits for an embedded database whose first boot holds the lock, rather than call it missing", async () => {
  const dir = `${await scratch()}/booting`;
  await Deno.mkdir(dir); // no PG_VERSION yet: what a first boot in progress looks like
  using lock = await Deno.open(`${dir}.lock`, { write: true, create: true });
  await lock.lock(true);
  const started = performance.now();
  const r = await cli(["status", "--wait-lock", "1"], { PGLITE_DIR: dir });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(
    r.stdout,
    /holds the lock on the embedded database .* for over 1 s \(another run, or a running "deno task serve"\): health not checked/,
  );
  // It says at once that it waits, and for what: nothing on screen would look like a hang.
  assert.match(
    r.stderr,
    /^Waiting up to 1 s for the process that holds the embedded database ".*\/booting" \(a run, or a running "deno task serve"; --wait-lock SECS\)\n/,
  );
  assert.ok(performance.now() - started >= 1000, "it waited");
  // A dry run there is locked out too: it does not plan against an empty database in memory
  // while the real one is being made.
  const bucket = `${dir}-bucket`;
  await Deno.mkdir(`${bucket}/${CHANGES}`, { recursive: true });
  const plan = await cli(["ingest", "--from-dir", bucket], { PGLITE_DIR: dir });
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /Another run holds the lock on the embedded database/);
  assert.doesNotMatch(plan.stderr, /in memory/);
  // With --wait-lock it says at once that it waits, as status does (before: silence), and what
  // it found after the wait.
  const waited = await cli(
    ["ingest", "--from-dir", bucket, "--wait-lock", "1", "--log-format", "text"],
    { PGLITE_DIR: dir },
  );
  assert.equal(waited.code, 0, waited.stderr);
  assert.match(
    waited.stderr,
    /^Waiting up to 1 s for the process that holds the embedded database ".*\/booting" \(another run, or a running "deno task serve"\)\n/,
  );
  assert.match(waited.stdout, /Another run holds the lock on the embedded database/);
  const logged = await cli(["ingest", "--from-dir", bucket, "--wait-lock", "1", "--json"], {
    PGLITE_DIR: dir,
  });
  assert.match(logged.stderr, /"event":"database_wait","waitS":1,"database":"[^"]*booting"/);
});

Deno.test("cli: demo refuses to rebuild under a process that holds the demo's database", async () => {
  const dir = `${await scratch()}/demo`;
  using _lock = await heldDatabase(`${dir}/pglite`);
  const lines: string[] = [];
  await assert.rejects(
    runDemo({ out: (text) => lines.push(text), dir }),
    /^Error: Cannot rebuild the demo in ".*": another process holds its database/,
  );
  await Deno.stat(`${dir}/pglite/PG_VERSION`); // left alone
  assert.deepEqual(lines, []);
  // A holder that wrote its name is named, with its process (before: "a serve of the demo, or
  // a run", where every other command names it; a newcomer's).
  await _lock.unlock();
  using _serve = await heldDatabase(`${dir}/pglite`, {
    pid: 4242,
    command: "serve",
    since: "2026-12-03T19:39:48Z",
  });
  await assert.rejects(
    runDemo({ out: () => {}, dir }),
    /^Error: Cannot rebuild the demo in ".*": a running "serve" \(process 4242\) holds its database; stop it first \(kill 4242\)$/,
  );
});

Deno.test("cli: a demo stopped before it finished is refused by every command, saying to run the demo again (exit 2)", async () => {
  const dir = `${await scratch()}/demo`;
  const stop = new Error("stopped (Ctrl-C)");
  await assert.rejects(
    runDemo({
      // Stopped as it starts the embedded database: its bucket is written, no database yet.
      out: (text) => {
        if (text.includes("opening embedded PostgreSQL")) throw stop;
      },
      dir,
    }),
    (error) => error === stop,
  );
  const stopped = "stopped before it finished";
  for (
    const command of [
      ["status"],
      ["serve", "--port", "0"],
      ["report"],
      ["ingest", "--from-dir", `${dir}/bucket`, "--log-format", "text"],
      ["db", "export", `${dir}/export.sql`], // before, it exported the half-built one
    ]
  ) {
    const r = await cli(command, { PGLITE_DIR: `${dir}/pglite` });
    assert.equal(r.code, 2, `${command[0]}: ${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(
        `Cannot open the embedded database ".*/demo/pglite": "deno task demo" ${stopped} ` +
          `building it; run "deno task demo" again`,
      ),
      command[0],
    );
  }
  await assert.rejects(Deno.stat(`${dir}/export.sql`), Deno.errors.NotFound);
  // Rebuilt whole, it opens again.
  assert.equal(await runDemo({ out: () => {}, dir }), 0);
  await assert.rejects(Deno.stat(`${dir}/pglite.incomplete`), Deno.errors.NotFound);
  const status = await cli(["status", "--max-age", "100000"], { PGLITE_DIR: `${dir}/pglite` });
  assert.doesNotMatch(status.stderr, new RegExp(stopped));
});

Deno.test("cli: a command other than ingest on an embedded database another process holds fails (exit 1) and leaves an earlier export whole", async () => {
  const dir = `${await scratch()}/held`;
  using _lock = await heldDatabase(dir);
  const earlier = `${dir}-export.sql`;
  await Deno.writeTextFile(earlier, "-- an earlier export\n");
  const commands = [["migrate"], ["sql", "select 1"], ["report"], ["capture"], [
    "db",
    "export",
    earlier,
  ]];
  for (const args of commands) {
    const r = await cli(args, { PGLITE_DIR: dir });
    assert.equal(r.code, 1, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stdout, "", args.join(" "));
    assert.match(
      r.stderr,
      new RegExp(
        `^Cannot run ${
          args[0] === "db" ? "db export" : args[0]
        }: another run holds the lock on the embedded database "${dir}"; try again`,
      ),
    );
  }
  assert.equal(await Deno.readTextFile(earlier), "-- an earlier export\n");
  await assert.rejects(Deno.stat(`${earlier}.partial`), Deno.errors.NotFound);
  // The scheduled ingest has nothing to do while another run works: exit 0, as documented;
  // under cron its JSON run line says "locked" at level info, as for a dataset's run lock.
  const bucket = `${dir}-bucket`;
  await Deno.mkdir(`${bucket}/${CHANGES}`, { recursive: true });
  const held =
    /^Another run holds the lock on the embedded database ".*" \(another run, or a running "deno task serve": the embedded database takes one process at a time\); nothing was applied$/;
  const ingest = await cli(["ingest", "--from-dir", bucket, "--apply"], { PGLITE_DIR: dir });
  assert.equal(ingest.code, 0, ingest.stderr);
  assert.equal(ingest.stderr, "");
  const line = JSON.parse(ingest.stdout);
  assert.deepEqual(
    [line.level, line.event, line.dataset, line.mode, line.status, line.transient],
    ["info", "run", "inc", "apply", "locked", undefined],
  );
  assert.match(line.error, held);
  const text = await cli(["ingest", "--from-dir", bucket, "--log-format", "text"], {
    PGLITE_DIR: dir,
  });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout.trimEnd(), held);
});

Deno.test("cli: with a running serve holding the embedded database, ingest fails at once naming it (exit 1), and so do status and sql", async () => {
  const dir = `${await scratch()}/served`;
  const serve = { pid: 4242, command: "serve", since: "2026-12-01T04:50:00Z" };
  using _lock = await heldDatabase(dir, serve);
  const bucket = `${dir}-bucket`;
  await Deno.mkdir(`${bucket}/${CHANGES}`, { recursive: true });
  const held = `A running "serve" \\(process 4242, since 2026-12-01T04:50:00Z\\) holds the ` +
    `embedded database "${dir}"`;
  // Before: a skip at level info, exit 0, every 20 minutes, while the files waited (a tester's).
  const started = Date.now();
  const ingest = await cli(["ingest", "--from-dir", bucket, "--apply", "--wait-lock", "60"], {
    PGLITE_DIR: dir,
  });
  assert.equal(ingest.code, 1, ingest.stdout + ingest.stderr);
  assert.ok(Date.now() - started < 30_000, "a serve is not waited for");
  const line = JSON.parse(ingest.stdout.trim().split("\n").at(-1)!);
  assert.deepEqual(
    [line.level, line.event, line.status, line.transient],
    ["error", "run", "failed", false],
  );
  assert.match(
    line.error,
    new RegExp(
      `^${held}, and keeps it until stopped: ingest cannot run beside it .*; nothing was ` +
        `applied; stop it \\(kill 4242\\), run ingest, then start serve again; or keep the ` +
        `data in PostgreSQL \\(DATABASE_URL\\)`,
    ),
  );
  const text = await cli(["ingest", "--from-dir", bucket, "--log-format", "text"], {
    PGLITE_DIR: dir,
  });
  assert.equal(text.code, 1, text.stdout + text.stderr);
  assert.match(text.stderr, new RegExp(`^Cannot run ingest: a running "serve" \\(process 4242`));
  // status does not wait 120 s for it (before: it did, then said the same).
  const status = await cli(["status"], { PGLITE_DIR: dir });
  assert.equal(status.code, 1, status.stdout + status.stderr);
  assert.match(status.stdout, new RegExp(`^${held}: health not checked .*GET /api/health`));
  const sql = await cli(["sql", "select 1"], { PGLITE_DIR: dir });
  assert.equal(sql.code, 1);
  assert.match(
    sql.stderr,
    /^Cannot run sql: a running "serve" \(process 4242, .*, and keeps it until stopped; stop it \(kill 4242\), run sql/,
  );
  // report and capture --json print a document on stdout too (before: nothing there).
  for (const command of ["report", "capture"]) {
    const json = await cli([command, "--json"], { PGLITE_DIR: dir });
    assert.equal(json.code, 1, json.stderr);
    assert.match(
      JSON.parse(json.stdout).error,
      new RegExp(`^Cannot run ${command}: a running "serve" \\(process 4242`),
    );
  }
  const second = await cli(["serve", "--port", "0"], { PGLITE_DIR: dir });
  assert.equal(second.code, 1);
  assert.match(
    second.stderr,
    /: a running "serve" \(process 4242, since .*\) holds it; stop that one/,
  );
});

Deno.test("cli: serve --port takes decimal digits only, and -p suggests --port (exit 2)", async () => {
  for (const port of ["0x1F90", "8080.0", "1e3", "", "65536", "-1"]) {
    const r = await cli(["serve", `--port=${port}`], { PGLITE_DIR: ".data/no-such-db" });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`^Cannot read --port "${port}": expected 0 to 65535 in decimal digits\n`),
    );
  }
  const short = await cli(["serve", "-p", "8097"], { PGLITE_DIR: ".data/no-such-db" });
  assert.equal(short.code, 2, short.stdout + short.stderr);
  assert.match(short.stderr, /^Unknown flag "-p": did you mean "--port"\?\n/);
});

Deno.test("cli: sql with empty SQL is a usage error (exit 2), not a blank line", async () => {
  // Before: a blank line and exit 0, as if something ran (a tester's).
  for (const sql of ["", "  \n "]) {
    const r = await cli(["sql", sql], { PGLITE_DIR: ".data/no-such-db" });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /^Give the SQL to run: the SQL given is empty \(/);
  }
});

Deno.test("cli: sql --max-rows takes decimal digits only (exit 2)", async () => {
  for (const rows of ["0x10", "1e3", "-1"]) {
    const r = await cli(["sql", "--max-rows", rows, "select 1"], {
      PGLITE_DIR: ".data/no-such-db",
    });
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`^Cannot read --max-rows "${rows}": expected a whole number\n`),
    );
  }
});

Deno.test("cli: serve with MAP_PMTILES naming a missing file exits 2 naming it, before opening the database", async () => {
  const dir = `${await scratch()}/none`;
  const r = await cli(["serve", "--port", "0"], {
    MAP_PMTILES: ".data/no-such-tiles.pmtiles",
    PGLITE_DIR: dir,
  });
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(
    r.stderr,
    /^Cannot read the tiles file MAP_PMTILES ".data\/no-such-tiles.pmtiles": it does not exist/,
  );
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
});

Deno.test("cli: serve with MAP_PMTILES outside the checkout exits 2 naming MAP_PMTILES, before opening the database", async () => {
  const dir = `${await scratch()}/none`;
  const r = await cli(["serve", "--port", "0"], { MAP_PMTILES: "/nope.pmtiles", PGLITE_DIR: dir });
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(
    r.stderr,
    /^Cannot read the tiles file MAP_PMTILES "\/nope.pmtiles": fleettickets may read files inside this checkout/,
  );
  assert.doesNotMatch(r.stderr, /--allow-/);
  await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
});

Deno.test("cli: PGLITE_DIR naming a file is refused naming it (exit 2)", async () => {
  const file = `${await scratch()}/a-file`;
  await Deno.writeTextFile(file, "x");
  for (const args of [["serve", "--port", "0"], ["status"], ["capture"]]) {
    const r = await cli(args, { PGLITE_DIR: file });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /PGLITE_DIR names a file, not a folder/);
  }
});

Deno.test("cli: PGLITE_DIR naming a folder of other files is refused (exit 2) and no database is written among them", async () => {
  const dir = `${await scratch()}/feed`;
  await writeFiles(dir, stream.files.slice(0, 1)); // a bucket folder: automations/inc/changes/…
  const ingest = ["ingest", "--from-dir", dir, "--apply", "--log-format", "text"];
  // The commands that make a database (capture, like the other commands, needs one there).
  for (const args of [["migrate"], ingest]) {
    const r = await cli(args, { PGLITE_DIR: dir });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(
        `Cannot make the embedded database in "${dir}": the folder holds other files \\("automations"\\) and no database; set PGLITE_DIR to a new or empty folder`,
      ),
    );
  }
  const names = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  assert.deepEqual(names, ["automations"]);
});

Deno.test("cli: serve on an embedded database another process holds exits 1 saying so, on stderr", async () => {
  const dir = `${await scratch()}/pglite`;
  using _lock = await heldDatabase(dir);
  const r = await cli(["serve", "--port", "0"], { PGLITE_DIR: dir });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    new RegExp(`Cannot serve the embedded database "${dir}": another process holds it`),
  );
});

Deno.test("cli: a database password never appears in output when the connection fails", async () => {
  const secret = "s3cr3t-Pa55word";
  const r = await cli(["migrate"], {
    DATABASE_URL: `postgres://fleet:${secret}@127.0.0.1:9/tickets`,
  });
  assert.equal(r.code, 1);
  assert.ok(!(r.stdout + r.stderr).includes(secret), r.stdout + r.stderr);
  assert.match(r.stderr, /^Cannot connect to PostgreSQL at 127\.0\.0\.1:9 /);
});

Deno.test({
  name: "cli: ingest is a dry run by default, --apply writes and archives, --json reports",
  sanitizeResources: false,
  fn: async () => {
    const dir = await scratch();
    const bucket = `${dir}/bucket`;
    await writeFiles(bucket, stream.files);
    const base = Deno.env.get("TEST_DATABASE_URL");
    const env: Record<string, string> = base
      ? { DATABASE_URL: await createScratchDatabase(base) }
      : { PGLITE_DIR: `${dir}/pglite` };
    if (base) assert.equal((await cli(["migrate"], env)).code, 0);

    const dry = await cli(["ingest", "--from-dir", bucket, "--log-format", "text"], env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /dry run \(nothing written; --apply writes\)/);
    assert.match(dry.stdout, new RegExp(`\\+${stream.expected.size} new`));
    assert.equal((await listNames(bucket, CHANGES)).length, stream.files.length);

    const applied = await cli(["ingest", "--from-dir", bucket, "--apply", "--json"], env);
    assert.equal(applied.code, 0, applied.stderr);
    const report = JSON.parse(applied.stdout);
    assert.equal(report.status, "ok");
    assert.equal(report.mode, "apply");
    assert.equal(report.totals.inserted, stream.expected.size);
    assert.equal(report.files.length, stream.files.length);
    assert.deepEqual(await listNames(bucket, CHANGES), []);

    // A file with no usable header fails the run with exit code 1, naming file, line and reason.
    await writeFiles(bucket, [{ name: "2026-07-01T06-00-00.csv", text: '"WOT1","open"\n' }]);
    const broken = await cli(
      ["ingest", "--from-dir", bucket, "--apply", "--log-format", "text"],
      env,
    );
    assert.equal(broken.code, 1);
    assert.match(
      broken.stdout,
      /failed\s+error: Cannot apply change file "automations\/inc\/changes\/2026-07-01T06-00-00.csv": line 1 has no "ticket_id" column in its header/,
    );
    assert.deepEqual(await listNames(bucket, CHANGES), ["2026-07-01T06-00-00.csv"]);
  },
});

Deno.test({
  name: "cli: ingest on PostgreSQL with pending migrations stops and says to migrate (exit 2), " +
    "under cron in a JSON run line " +
    "[PostgreSQL: set TEST_DATABASE_URL]",
  ignore: Deno.env.get("TEST_DATABASE_URL") === undefined,
  sanitizeResources: false,
  fn: async () => {
    const url = await createScratchDatabase(Deno.env.get("TEST_DATABASE_URL")!);
    const bucket = await scratch();
    await Deno.mkdir(`${bucket}/automations/inc/changes`, { recursive: true });
    const pending =
      /\d+ pending migration\(s\) and \d+ definition\(s\) \(views, functions\) to install \(001_tickets_schema.sql.*\); run "deno task migrate" first/;
    const args = ["ingest", "--from-dir", bucket];
    const r = await cli([...args, "--log-format", "text"], { DATABASE_URL: url });
    assert.equal(r.code, 2);
    assert.match(r.stderr, pending);
    // Which database: a URL naming none reaches the user's, maybe not the one meant.
    const name = new URL(url).pathname.slice(1);
    assert.match(
      r.stderr,
      new RegExp(`^Cannot run ingest: the database at \\S+ \\(database "${name}"\\) has `),
    );
    // Under cron: the JSON run line of any run, at level error, not transient.
    const cron = await cli(args, { DATABASE_URL: url });
    assert.equal(cron.code, 2, cron.stdout + cron.stderr);
    assert.equal(cron.stderr, "");
    const line = JSON.parse(cron.stdout);
    assert.deepEqual(
      [line.level, line.event, line.dataset, line.status, line.transient],
      ["error", "run", "inc", "failed", false],
    );
    assert.match(line.error, pending);
  },
});

Deno.test({
  name: "cli: a PostgreSQL database a later version migrated is refused by migrate, ingest, " +
    "status, report, serve and the rest, naming what this version does not know (exit 2); " +
    "migrate changes nothing [PostgreSQL: set TEST_DATABASE_URL]",
  ignore: Deno.env.get("TEST_DATABASE_URL") === undefined,
  sanitizeResources: false,
  fn: async () => {
    const url = await createScratchDatabase(Deno.env.get("TEST_DATABASE_URL")!);
    const env = { DATABASE_URL: url };
    assert.equal((await cli(["migrate"], env)).code, 0);
    // What a later release leaves: its migration 012 and its text of a definition.
    const later = `insert into tickets.schema_migrations (version, name, checksum)
      values (999, '999_later_release.sql', 'later');
      update tickets.schema_definitions set checksum = 'later' where name = '30_inc_open_sla.sql'`;
    assert.equal((await cli(["sql", later], env)).code, 0);
    const ledgers = "select name, checksum, applied_at from tickets.schema_definitions " +
      "union all select name, checksum, applied_at from tickets.schema_migrations order by 1";
    const before = await cli(["sql", ledgers, "--json"], env);
    // Named, as the pending-migrations refusal names it (before: "the database holds …").
    const database = new URL(url).pathname.slice(1);
    const at = new URL(url).host;
    const refusal = `the database at ${at} (database "${database}") holds 1 migration(s) and 1 ` +
      "definition text(s) this version does not know (999_later_release.sql, 30_inc_open_sla.sql): " +
      "a later release migrated it; run the release that migrated it, or restore the backup " +
      "taken before that upgrade";
    const bucket = await scratch();
    await Deno.mkdir(`${bucket}/${CHANGES}`, { recursive: true });
    for (
      const args of [
        ["migrate"],
        ["ingest", "--from-dir", bucket, "--apply", "--log-format", "text"],
        ["status"],
        ["report"],
        ["capture"],
        ["geocode", "--clusters"],
        ["gazetteer", "export", "-"],
        ["serve", "--port", "0"],
      ]
    ) {
      const child = spawnCli(args, env);
      // A serve that started would never end: stop it, and the assertion below says why.
      const timer = setTimeout(() => child.kill(), 30_000);
      const output = await child.output().finally(() => clearTimeout(timer));
      const stderr = new TextDecoder().decode(output.stderr);
      assert.equal(output.code, 2, `${args.join(" ")}: ${stderr}`);
      assert.equal(stderr, `Cannot run ${args[0]}: ${refusal}\n`, args.join(" "));
    }
    // sql looks (how an operator reads the ledgers then), and says so.
    const after = await cli(["sql", ledgers, "--json"], env);
    assert.equal(after.stderr, `Note: ${refusal} (sql runs on the schema as it is)\n`);
    assert.equal(after.stdout, before.stdout, "migrate changed nothing");
  },
});

Deno.test({
  name: "cli: ingest --from-bucket drains an S3 bucket under the worker permission set",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const server = await startS3TestServer();
    try {
      const client = createS3Client(server);
      for (const file of stream.files) {
        await client.send(
          new PutObjectCommand({
            Bucket: server.bucket,
            Key: CHANGES + file.name,
            Body: file.text,
          }),
        );
      }
      client.destroy();
      const base = Deno.env.get("TEST_DATABASE_URL");
      const env: Record<string, string> = base
        ? { DATABASE_URL: await createScratchDatabase(base) }
        : { PGLITE_DIR: `${await scratch()}/pglite` };
      if (base) assert.equal((await cli(["migrate"], env)).code, 0);
      Object.assign(env, {
        RUSTFS_ENDPOINT: server.endpoint,
        RUSTFS_ACCESS_KEY: server.accessKeyId,
        RUSTFS_SECRET_KEY: server.secretAccessKey,
        TICKETS_BUCKET: server.bucket,
      });
      const r = await cli(["ingest", "--from-bucket", "--apply", "--json"], env);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const report = JSON.parse(r.stdout);
      assert.equal(report.status, "ok");
      assert.equal(report.files.length, stream.files.length);
      assert.equal(report.totals.inserted, stream.expected.size);
      assert.match(report.source, /^s3:\/\/[^@]+ at 127\.0\.0\.1:\d+$/);
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "cli: ingest --dataset all drains INC then CRQ into one report; one failure makes exit 1",
  sanitizeResources: false,
  fn: async () => {
    const dir = await scratch();
    const bucket = `${dir}/bucket`;
    await writeFiles(bucket, stream.files);
    await writeFiles(
      bucket,
      [{ name: "2026-06-15T05-00-00.csv", text: 'id\n"CRQ1"\n' }],
      "automations/crq/changes/",
    );
    const base = Deno.env.get("TEST_DATABASE_URL");
    const env: Record<string, string> = base
      ? { DATABASE_URL: await createScratchDatabase(base) }
      : { PGLITE_DIR: `${dir}/pglite` };
    if (base) assert.equal((await cli(["migrate"], env)).code, 0);
    const r = await cli(
      ["ingest", "--from-dir", bucket, "--dataset", "all", "--apply", "--json"],
      env,
    );
    assert.equal(r.code, 1);
    const { datasets } = JSON.parse(r.stdout);
    assert.deepEqual(
      datasets.map((d: { dataset: string; status: string }) => [d.dataset, d.status]),
      [
        ["inc", "ok"],
        ["crq", "failed"],
      ],
    );
    assert.equal(datasets[0].totals.inserted, stream.expected.size);
  },
});

for (const kind of ["pglite", "postgres"] as const) {
  const base = Deno.env.get("TEST_DATABASE_URL");
  Deno.test({
    name: `cli: sql says what a statement that returns no rows did, as psql does ("INSERT 0 2"), ` +
      `not "(0 rows)"; --json stays the rows [${kind}]`,
    ignore: kind === "postgres" && base === undefined,
    sanitizeResources: false,
    fn: async () => {
      // Each statement and its output on both databases: tests/run_statement_test.ts.
      const env: Record<string, string> = kind === "pglite"
        ? { PGLITE_DIR: `${await scratch()}/pglite` }
        : { DATABASE_URL: await createScratchDatabase(base!) };
      if (kind === "pglite") await copyMigratedPglite(env.PGLITE_DIR!);
      assert.equal((await cli(["migrate"], env)).code, 0);
      const sql = async (...args: string[]) => {
        const r = await cli(["sql", ...args], env);
        assert.equal(r.code, 0, r.stderr);
        return r.stdout.trimEnd();
      };
      const insert = "insert into tickets.import_meta (dataset) values ('x'), ('y')";
      assert.equal(await sql(insert), "INSERT 0 2");
      assert.equal(await sql("--json", "delete from tickets.import_meta"), "[]");
      // Once, on PostgreSQL when it is set (each run opens the database, and the embedded one
      // boots in seconds): the arguments are read before it opens, and both databases answer
      // comments alone alike (no command, no columns).
      if (kind === "pglite" && base !== undefined) return;
      // SQL whose first line is a comment is SQL, not a flag (before: `Unknown flag "-- …"`).
      assert.equal(await sql("-- open tickets\nselect 1 as n"), "n\n-\n1\n(1 row)");
      assert.equal(await sql("--json", "-- the same\nselect 2 as n"), '[{"n":2}]');
      // Comments alone run nothing: said, exit 2 (before: a blank line, exit 0).
      const comment = await cli(["sql", "-- just a comment"], env);
      assert.equal(comment.code, 2, comment.stdout + comment.stderr);
      assert.match(comment.stderr, /^Give the SQL to run: the SQL given holds only comments\n/);
      // A flag with a stray space stays a flag (refused as unknown), not a comment run as SQL.
      const spaced = await cli(["sql", "--json ", "select 1"], env);
      assert.equal(spaced.code, 2, spaced.stdout + spaced.stderr);
      assert.match(spaced.stderr, /^Unknown flag "--json "/);
    },
  });
}

Deno.test("a command on the embedded database says first that .env sets DATABASE_URL the environment lacks", async () => {
  const cwd = await scratch();
  await Deno.writeTextFile(`${cwd}/.env`, "DATABASE_URL=postgres://fleet:pw@db.internal/tickets\n");
  const r = await cli(["status"], {}, { cwd });
  // Before: only doctor said so; migrate made a new embedded database without a word of .env.
  assert.match(
    r.stderr,
    /^Warning: \.env sets DATABASE_URL but the environment has none: status uses the embedded database "\.data\/pglite"/,
  );
  assert.doesNotMatch(r.stderr + r.stdout, /pw@/, "the URL is not echoed");
  const loaded = await cli(["status"], { DATABASE_URL: "postgres://fleet@127.0.0.1:1/x" }, { cwd });
  assert.doesNotMatch(loaded.stderr, /Warning: \.env/);
  // With only the demo's database there, the warning names it, as the next line does (before:
  // ".data/pglite", then "Reading the demo's database"; an operator's).
  await copyMigratedPglite(`${cwd}/.data/demo/pglite`);
  const demo = await cli(["status"], {}, { cwd });
  assert.match(
    demo.stderr,
    /^Warning: \.env sets DATABASE_URL but the environment has none: status uses the embedded database "\.data\/demo\/pglite" .*\nReading the demo's database "\.data\/demo\/pglite"/,
  );
});

Deno.test("under cron, ingest's warning that .env was not loaded is a JSON line of its log", async () => {
  const cwd = await scratch();
  await Deno.writeTextFile(`${cwd}/.env`, "DATABASE_URL=postgres://fleet:pw@db.internal/tickets\n");
  const r = await cli(["ingest", "--from-dir", "nowhere"], {}, { cwd });
  // Before: a plain "Warning: …" line on stderr, the only line of the log that was not JSON.
  const lines = r.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(lines.map((line) => [line.level, line.event]), [
    ["warn", "env_not_loaded"],
    ["error", "run"],
  ]);
  assert.match(
    lines[0].error,
    /^\.env sets DATABASE_URL but the environment has none: ingest/,
  );
  assert.doesNotMatch(r.stderr, /Warning: \.env/);
  assert.doesNotMatch(r.stderr + r.stdout, /pw@/, "the URL is not echoed");
  const text = await cli(["ingest", "--from-dir", "nowhere", "--log-format", "text"], {}, { cwd });
  assert.match(
    text.stderr,
    /^Warning: \.env sets DATABASE_URL but the environment has none: ingest/,
  );
});

// Last: a test registered after these would leave its scratch folder (before: the two .env
// tests' folders, each with its .env, stayed under .data/test-cli).
cleanUpScratchDirsAtEnd();

removeTestDataAtEnd();
