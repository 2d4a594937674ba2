// `status` as an operator and a monitor use it: one dataset at a time, EAT times, a content-lag
// limit, and an answer while another run holds the embedded database.

import assert from "node:assert/strict";
import { generateStream } from "../demo/generate_stream.ts";
import { cleanUpScratchDirsAtEnd, cli, scratchDir } from "./_cli.ts";
import { copyMigratedPglite } from "./_pglite_cache.ts";
import { writeFiles } from "./_harness.ts";

const EAT = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+03:00/;

Deno.test({
  name: "status: --dataset checks one, times are EAT, --max-content-lag flags an old feed, " +
    "and a held lock delays the answer instead of hiding it",
  sanitizeResources: false,
  fn: async () => {
    const dir = await scratchDir("test-status");
    await writeFiles(`${dir}/bucket`, generateStream({ tickets: 80, deltas: 1, seed: 31 }).files);
    const env = { PGLITE_DIR: `${dir}/pglite` };
    await copyMigratedPglite(env.PGLITE_DIR);
    const ingest = await cli(["ingest", "--from-dir", `${dir}/bucket`, "--apply", "--json"], env);
    assert.equal(ingest.code, 0, ingest.stderr);

    // Only INC has data: CRQ's export has not started. Checking INC alone is healthy.
    const inc = await cli(["status", "--dataset", "inc"], env);
    assert.equal(inc.code, 0, inc.stdout + inc.stderr);
    assert.match(inc.stdout, new RegExp(`^fleettickets status at ${EAT.source}.*: HEALTHY\\n`));
    // The database read, named (before: none, so a status of the wrong one passed for the right).
    assert.match(inc.stdout, /^database: (PostgreSQL at |the embedded database ")/m);
    assert.match(inc.stdout, new RegExp(`^inc: OK .*last applied ${EAT.source}`, "m"));
    assert.match(inc.stdout, new RegExp(`last run ${EAT.source}: ok`));
    assert.doesNotMatch(inc.stdout, /^crq:/m);
    const all = JSON.parse((await cli(["status", "--json"], env)).stdout);
    assert.deepEqual(all.datasets.map((d: { dataset: string }) => d.dataset), ["inc", "crq"]);
    if (all.workingHours) assert.equal(all.healthy, false, "CRQ never applied: unhealthy");
    assert.match(all.checkedAt, EAT);

    // The generated feed's newest update is months old: a content-lag limit catches it.
    const lagging = await cli(["status", "--dataset", "inc", "--max-content-lag", "48"], env);
    assert.equal(lagging.code, 1, lagging.stdout);
    assert.match(lagging.stdout, /^inc: STALE/m);
    assert.match(
      lagging.stdout,
      /! The newest ticket update is \d+(\.\d)? h old \(max content lag 48 h\)/,
    );

    // Another process holds the embedded database: status waits and still answers once it is
    // released; with no waiting allowed it says health was not checked (exit 1, valid JSON).
    const lock = await Deno.open(`${env.PGLITE_DIR}.lock`, { write: true, create: true });
    assert.ok(await lock.tryLock(true));
    const refused = await cli(["status", "--dataset", "inc", "--wait-lock", "0", "--json"], env);
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    assert.equal(JSON.parse(refused.stdout).healthy, false);
    assert.match(JSON.parse(refused.stdout).error, /holds the lock .*health not checked/);
    const waiting = cli(["status", "--dataset", "inc", "--json"], env);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    lock.close();
    const waited = await waiting;
    assert.equal(waited.code, 0, waited.stdout + waited.stderr);
    assert.equal(JSON.parse(waited.stdout).datasets[0].health, "ok");
  },
});

Deno.test("status --json answers a monitor in JSON when the database cannot be reached or is not there (and says why on stderr)", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close(); // nothing listens there now
  const none = `${await scratchDir("test-status")}/none`;
  const cases: [Record<string, string>, number, RegExp, string[]][] = [
    [
      { DATABASE_URL: `postgres://fleet:s3cret-pw@127.0.0.1:${port}/fleet` },
      1,
      /Cannot connect/,
      [],
    ],
    [{ PGLITE_DIR: none }, 2, /there is none there yet/, []],
    [{ PGLITE_DIR: none }, 2, /it does not exist/, ["--from-dir", `${none}-bucket`]],
  ];
  for (const [env, code, message, more] of cases) {
    const r = await cli(["status", "--json", ...more], env);
    assert.equal(r.code, code, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.healthy, false);
    assert.deepEqual(report.datasets, []);
    assert.match(report.error, message);
    assert.match(r.stderr, message);
    assert.ok(!/s3cret-pw/.test(r.stdout + r.stderr), "no password");
  }
});

Deno.test({
  name: "status: an applying run refused before the drain (its folder gone) is recorded as " +
    "failed and logged as a JSON run line, so status fails; a dry run records nothing",
  sanitizeResources: false,
  fn: async () => {
    const dir = await scratchDir("test-status");
    await writeFiles(`${dir}/bucket`, generateStream({ tickets: 20, deltas: 0, seed: 32 }).files);
    const env = { PGLITE_DIR: `${dir}/pglite` };
    await copyMigratedPglite(env.PGLITE_DIR);
    const ingest = await cli(["ingest", "--from-dir", `${dir}/bucket`, "--apply", "--json"], env);
    assert.equal(ingest.code, 0, ingest.stderr);
    const gone = `${dir}/gone`;
    const refusal = new RegExp(`Cannot read the folder "${gone}": it does not exist`);

    // Not on a terminal (cron): one JSON run line on stdout, as for any other outcome.
    const dry = await cli(["ingest", "--from-dir", gone], env);
    assert.equal(dry.code, 2, dry.stdout + dry.stderr);
    const dryLine = JSON.parse(dry.stdout);
    assert.equal(dryLine.event, "run");
    assert.equal(dryLine.mode, "dry-run");
    assert.equal((await cli(["status", "--dataset", "inc"], env)).code, 0, "a dry run: no record");

    const applied = await cli(["ingest", "--from-dir", gone, "--apply", "--dataset", "all"], env);
    assert.equal(applied.code, 2, applied.stdout + applied.stderr);
    assert.equal(applied.stderr, "");
    const lines = applied.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => [l.level, l.event, l.dataset, l.status, l.transient]), [
      ["error", "run", "inc", "failed", false],
      ["error", "run", "crq", "failed", false],
    ]);
    assert.match(lines[0].error, refusal);
    // The line says where the run would have written and how far the dataset stands there.
    assert.equal(lines[0].watermark, JSON.parse(ingest.stdout).watermark);
    assert.notEqual(lines[0].watermark, null);
    assert.equal(lines[0].database, JSON.parse(ingest.stdout).database);
    assert.equal(lines[1].watermark, null, "crq never applied a file");
    const status = await cli(["status", "--dataset", "inc"], env);
    assert.equal(status.code, 1, status.stdout + status.stderr);
    assert.match(status.stdout, /^inc: FAILING/m);
    assert.match(status.stdout, new RegExp(`! The last run failed: ${refusal.source}`));

    // On a terminal (text) the refusal stays the one plain line.
    const text = await cli(["ingest", "--from-dir", gone, "--log-format", "text"], env);
    assert.equal(text.code, 2);
    assert.equal(text.stdout, "");
    assert.match(text.stderr, new RegExp(`^${refusal.source}\n$`));
  },
});

Deno.test("ingest --apply refused before the drain with the database unreachable logs the refusal and that it could not be recorded", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close(); // nothing listens there now
  const gone = `${await scratchDir("test-status")}/gone`;
  const r = await cli(["ingest", "--from-dir", gone, "--apply"], {
    DATABASE_URL: `postgres://fleet:s3cret-pw@127.0.0.1:${port}/fleet`,
  });
  assert.equal(r.code, 2, r.stdout + r.stderr);
  const [run, warn, ...rest] = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(rest, []);
  assert.equal(run.event, "run");
  assert.match(run.error, /Cannot read the folder ".*gone": it does not exist/);
  assert.deepEqual([warn.level, warn.event], ["warn", "run_record_failed"]);
  assert.match(warn.error, /^Cannot record the run in tickets\.runs: Cannot connect to PostgreSQL/);
  assert.ok(!r.stdout.includes("s3cret-pw"));
});

Deno.test("status refuses a --max-age or --max-content-lag of 0, below 0 or not a decimal number, naming the flag (exit 2)", async () => {
  for (const flag of ["--max-age", "--max-content-lag"]) {
    for (const value of ["0", "-1", "soon", "0x10", "1e3"]) {
      // `--max-age -1` is read as -1 too, not answered with another way to write it.
      const args = value === "-1" || value === "0x10" ? [flag, value] : [`${flag}=${value}`];
      const r = await cli(["status", ...args]);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`^Cannot read ${flag} "${value}": expected a number of hours, more than 0\n`),
      );
    }
  }
});

cleanUpScratchDirsAtEnd();
