// `ingest --json` prints exactly one JSON document on stdout whatever happens (issue 11, item
// 14): one dataset gives the report object, `--dataset all` gives `{"datasets": [...]}` (also
// when interrupted after the first), and a run that never reached the drain (embedded database
// locked, pending migrations, a missing source) gives a report with its status and error.

import assert from "node:assert/strict";
import { generateStream } from "../demo/generate_stream.ts";
import { createScratchDatabase, removeTestDataAtEnd, writeFiles } from "./_harness.ts";
import { cli as run, spawnCli as spawn } from "./_cli.ts";
import type { MainIo } from "../cli/_context.ts";
import { main } from "../cli/main.ts";

async function withScratch(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = `.data/test-json/${crypto.randomUUID()}`;
  await Deno.mkdir(`${dir}/bucket/automations/inc/changes`, { recursive: true });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(dir.slice(0, dir.lastIndexOf("/"))).catch(() => {}); // the area, once empty
  }
}

Deno.test("ingest with a configuration it cannot read (an environment variable) refuses in its run's form: a JSON run line under cron, one document with --json, the plain line on a terminal; exit 2", async () => {
  const env = { RUSTFS_ENDPOINT: "rustfs:9000" };
  const refusal = /^Cannot read RUSTFS_ENDPOINT "rustfs:9000": expected the S3 server's http:\/\//;

  const cron = await run(["ingest", "--from-bucket", "--apply", "--dataset", "all"], env);
  assert.equal(cron.code, 2, cron.stdout + cron.stderr);
  assert.equal(cron.stderr, "");
  const lines = cron.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => [l.level, l.event, l.dataset, l.status, l.transient]), [
    ["error", "run", "inc", "failed", false],
    ["error", "run", "crq", "failed", false],
  ]);
  assert.match(lines[0].error, refusal);

  const json = await run(["ingest", "--from-bucket", "--json"], env);
  assert.equal(json.code, 2);
  const report = JSON.parse(json.stdout);
  assert.equal(report.status, "failed");
  assert.match(report.error, refusal);

  const text = await run(["ingest", "--from-bucket", "--log-format", "text"], env);
  assert.equal(text.code, 2);
  assert.equal(text.stdout, "");
  assert.match(text.stderr, refusal);
});

Deno.test("status --json and doctor with a configuration they cannot read answer in their own form (exit 2): unknown health, a failed configuration check", async () => {
  const env = { GEOCODER_PROVIDER: "locatoiniq" };
  const refusal = /GEOCODER_PROVIDER "locatoiniq"/;
  // status --json printed nothing on stdout: a monitor parsing it saw no document at all.
  const status = await run(["status", "--json"], env);
  assert.equal(status.code, 2, status.stdout + status.stderr);
  const health = JSON.parse(status.stdout);
  assert.equal(health.healthy, false);
  assert.deepEqual(health.datasets, []);
  assert.match(health.error, refusal);
  assert.match(status.stderr, refusal);
  // doctor, the runbook's first command, refused to run at all.
  const doctor = await run(["doctor"], env);
  assert.equal(doctor.code, 2, doctor.stdout + doctor.stderr);
  assert.match(doctor.stdout, /^fail +configuration +Cannot read GEOCODER_PROVIDER "locatoiniq"/m);
  assert.match(
    doctor.stdout,
    /→ fix that variable \(in \.env or the environment\), then run doctor again/,
  );
  assert.match(doctor.stdout, /^1 check\(s\) failed, 0 warning\(s\)/m);
  const json = await run(["doctor", "--json"], env);
  assert.equal(json.code, 2);
  const checks = JSON.parse(json.stdout);
  assert.equal(checks.ok, false);
  assert.deepEqual(checks.checks.map((c: { name: string; result: string }) => [c.name, c.result]), [
    ["configuration", "fail"],
  ]);
});

Deno.test({
  name: "ingest --json on a locked embedded database prints one report with status locked, exit 0",
  sanitizeResources: false,
  fn: () =>
    withScratch(async (dir) => {
      const env = { PGLITE_DIR: `${dir}/pglite` };
      await Deno.mkdir(`${dir}/pglite`);
      // What a running ingest holds: the OS lock on <PGLITE_DIR>.lock.
      using lock = await Deno.open(`${dir}/pglite.lock`, { write: true, create: true });
      await lock.lock(true);
      for (const dataset of ["inc", "all"]) {
        const r = await run(
          ["ingest", "--from-dir", `${dir}/bucket`, "--apply", "--json", "--dataset", dataset],
          env,
        );
        assert.equal(r.code, 0, r.stdout + r.stderr);
        const doc = JSON.parse(r.stdout);
        const reports = dataset === "all" ? doc.datasets : [doc];
        assert.equal(reports.length, dataset === "all" ? 2 : 1);
        for (const report of reports) {
          assert.equal(report.status, "locked");
          assert.match(report.error, /Another run holds the lock on the embedded database/);
          // Before: no `database`, though every report names it.
          assert.equal(report.database, `the embedded database "${dir}/pglite"`);
        }
      }
    }),
});

Deno.test({
  name: "ingest --json with pending migrations prints one failed report naming them, exit 2",
  ignore: Deno.env.get("TEST_DATABASE_URL") === undefined,
  sanitizeResources: false,
  fn: () =>
    withScratch(async (dir) => {
      const url = await createScratchDatabase(Deno.env.get("TEST_DATABASE_URL")!);
      const r = await run(["ingest", "--from-dir", `${dir}/bucket`, "--apply", "--json"], {
        DATABASE_URL: url,
      });
      assert.equal(r.code, 2, r.stdout + r.stderr);
      const report = JSON.parse(r.stdout);
      assert.equal(report.status, "failed");
      assert.equal(report.transient, false);
      assert.match(report.database, /^PostgreSQL at [^ ]+ \(database "ft_test_[0-9a-f]+"\)$/);
      assert.match(report.error, /pending migration\(s\).*run "deno task migrate" first/);
      // Worded as on stderr: the command that met the refusal is named (it said "Cannot run:").
      assert.match(report.error, /^Cannot run ingest: /);
      const status = await run(["status", "--json"], { DATABASE_URL: url });
      assert.equal(status.code, 2, status.stdout + status.stderr);
      assert.match(JSON.parse(status.stdout).error, /^Cannot run status: .*pending migration/);
    }),
});

Deno.test({
  name: "ingest --json --dataset all interrupted during INC still prints {datasets: [...]}",
  sanitizeResources: false,
  fn: () =>
    withScratch(async (dir) => {
      const stream = generateStream({ tickets: 40000, deltas: 0, seed: 6 });
      await writeFiles(`${dir}/bucket`, stream.files);
      const base = Deno.env.get("TEST_DATABASE_URL");
      const env: Record<string, string> = base
        ? { DATABASE_URL: await createScratchDatabase(base) }
        : { PGLITE_DIR: `${dir}/pglite` };
      if (base) assert.equal((await run(["migrate"], env)).code, 0);
      const child = spawn(
        ["ingest", "--from-dir", `${dir}/bucket`, "--apply", "--json", "--dataset", "all"],
        env,
      );
      const stdout = new Response(child.stdout).text();
      const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
      let stderr = "";
      while (!stderr.includes('"event":"file_start"')) {
        const { value, done } = await reader.read();
        if (done) break;
        stderr += value;
      }
      child.kill("SIGTERM");
      while (!(await reader.read()).done) { /* drain stderr */ }
      assert.equal((await child.status).code, 1);
      const doc = JSON.parse(await stdout);
      assert.ok(Array.isArray(doc.datasets), JSON.stringify(doc).slice(0, 200));
      assert.equal(doc.datasets[0].dataset, "inc");
      assert.equal(doc.datasets[0].status, "failed");
      assert.match(doc.datasets[0].error, /Interrupted by SIGTERM/);
    }),
});

Deno.test({
  name:
    "ingest --json --dataset all ended without waiting during CRQ keeps INC's report as it was, and CRQ's files so far",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withScratch(async (dir) => {
      const inc = generateStream({ tickets: 60, deltas: 1, seed: 3 });
      const crq = generateStream({ dataset: "crq", tickets: 30, deltas: 1, seed: 4 });
      await writeFiles(`${dir}/bucket`, inc.files);
      await writeFiles(`${dir}/bucket`, crq.files, "automations/crq/changes/");
      const base = Deno.env.get("TEST_DATABASE_URL");
      const vars: Record<string, string> = base
        ? { DATABASE_URL: await createScratchDatabase(base) }
        : { PGLITE_DIR: `${dir}/pglite` };
      if (base) assert.equal((await run(["migrate"], vars)).code, 0);
      // In this process, so that the two signals come at a chosen line: when CRQ's second file
      // starts, a stop and then a second one (as a person pressing Ctrl-C twice).
      let stdout = "";
      let stderr = "";
      const exits: number[] = [];
      let send: (signal: string) => void = () => {};
      const io: MainIo = {
        env: (name) => vars[name],
        stdout: (text) => void (stdout += text),
        stderr: (text) => {
          stderr += text;
          if (/"event":"file_start","dataset":"crq","key":"[^"]*T06-20-00/.test(text)) {
            send("SIGTERM");
            send("SIGINT");
          }
        },
        terminal: { stdout: false, stderr: false },
        onSignal: (handler) => {
          send = handler;
          return () => send = () => {};
        },
        exit: (code) => void exits.push(code),
      };
      const args = [
        "ingest",
        "--from-dir",
        `${dir}/bucket`,
        "--apply",
        "--json",
        "--dataset",
        "all",
      ];
      await main(args, io);
      assert.deepEqual(exits, [1], stderr);
      // The document printed as the process ended (in the test the run goes on and prints its
      // own after it). Before: INC, finished and recorded ok, was "failed" with no files.
      const { datasets: [incReport, crqReport] } = JSON.parse(stdout.split("\n")[0]!);
      assert.equal(incReport.status, "ok");
      assert.deepEqual(incReport.files.map((f: { status: string }) => f.status), [
        "applied",
        "applied",
      ]);
      assert.equal(crqReport.status, "failed");
      assert.match(
        crqReport.error,
        /^Interrupted again by SIGINT: stopped without waiting for the current step: what it had not committed is rolled back; files applied before are kept$/,
      );
      assert.deepEqual(crqReport.files.map((f: { status: string }) => f.status), ["applied"]);
      assert.equal(crqReport.totals.inserted, crqReport.files[0].counts.inserted);
      assert.ok(crqReport.totals.inserted > 0);
    }),
});

removeTestDataAtEnd();
