// Running unattended: overlapping runs (two real processes), SIGTERM mid-file, status health,
// run records and secret redaction.

import assert from "node:assert/strict";
import postgres from "postgres";
import { generateStream } from "../demo/generate_stream.ts";
import { INC } from "../core/datasets.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { drain, emptyCounts } from "../core/drain.ts";
import { createLogger } from "../cli/logger.ts";
import { formatStatus, readStatus } from "../core/read_status.ts";
import { beginRun, recordRun } from "../core/record_run.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import { migrate } from "../core/migrate.ts";
import type { Database } from "../core/ports/mod.ts";
import { eatIso } from "../core/eat_time.ts";
import { createRedactor } from "../app/redact.ts";
import {
  backends,
  createScratchDatabase,
  listNames,
  makeDirBucket,
  okRunReport,
  recordLedgerRow,
  removeTestDataAtEnd,
  shared,
  writeFiles,
} from "./_harness.ts";
import { cleanUpScratchDirsAtEnd, scratchDir as scratchFolder, SETTLED } from "./_cli.ts";

const CHANGES = INC.changesPrefix;

function spawn(args: string[], env: Record<string, string>) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=worker", "--quiet", "main.ts", ...args],
    // A folder's files apply at once: each test writes them just before it runs the CLI.
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "", ...SETTLED, ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function finish(child: Deno.ChildProcess) {
  const out = await child.output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/**
 * Runs `ingest` with `args`, sends `signal` once its JSON log says a file started (`startOf`
 * matching that line, after `delayMs`), and reads it to its end.
 */
async function signalOnceAFileStarts(
  args: string[],
  env: Record<string, string>,
  signal: Deno.Signal,
  { startOf = /"event":"file_start"/, delayMs = 0 }: { startOf?: RegExp; delayMs?: number } = {},
) {
  const child = spawn(args, env);
  const stdout = new Response(child.stdout).text();
  let stderr = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  while (!startOf.test(stderr)) {
    const { value, done } = await reader.read();
    if (done) break;
    stderr += value;
  }
  if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
  child.kill(signal);
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    stderr += value;
  }
  const status = await child.status;
  return { code: status.code, signal: status.signal, stdout: await stdout, stderr };
}

/** A database for subprocess tests: a scratch PostgreSQL database, else a PGlite folder. */
async function processDatabase(dir: string): Promise<Record<string, string>> {
  const base = Deno.env.get("TEST_DATABASE_URL");
  if (!base) return { PGLITE_DIR: `${dir}/pglite` };
  const env = { DATABASE_URL: await createScratchDatabase(base) };
  assert.equal((await finish(spawn(["migrate"], env))).code, 0);
  return env;
}

function scratchDir(): Promise<string> {
  return scratchFolder("test-ops"); // removed when the file ends
}

Deno.test({
  name:
    "ops: two simultaneous ingest --apply processes never both apply; the second exits 0 saying why",
  sanitizeResources: false,
  fn: async () => {
    const stream = generateStream({ tickets: 6000, deltas: 3, seed: 5 });
    const dir = await scratchDir();
    await writeFiles(`${dir}/bucket`, stream.files);
    const env = await processDatabase(dir);
    const args = ["ingest", "--from-dir", `${dir}/bucket`, "--apply", "--json"];
    const [a, b] = await Promise.all([finish(spawn(args, env)), finish(spawn(args, env))]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const texts = [a.stdout, b.stdout];
    const lockedRuns = texts.filter((t) => /Another run holds the lock/.test(t));
    assert.equal(lockedRuns.length, 1, texts.join("\n---\n"));
    const winner = JSON.parse(texts.find((t) => !/Another run holds the lock/.test(t))!);
    assert.equal(winner.files.length, stream.files.length);
    assert.ok(winner.files.every((f: { status: string }) => f.status === "applied"));

    // With --wait-lock the latecomer waits, then finds nothing left to do.
    await writeFiles(`${dir}/bucket`, [{ name: "2026-07-01T06-00-00.csv", text: "ticket_id\n" }]);
    const first = spawn(args, env);
    await new Promise((r) => setTimeout(r, 300));
    const waiting = await finish(spawn([...args, "--wait-lock", "120"], env));
    const done = await finish(first);
    assert.equal(done.code, 0, done.stderr);
    assert.equal(waiting.code, 0, waiting.stderr);
    const applied = [done.stdout, waiting.stdout]
      .map((t) => JSON.parse(t))
      .flatMap((r) => r.files.filter((f: { status: string }) => f.status === "applied"));
    assert.equal(applied.length, 1, "the new file is applied exactly once");
  },
});

Deno.test({
  name:
    "ops: SIGTERM mid-file rolls the file back, archives nothing, exits 1; the next run completes",
  sanitizeResources: false,
  fn: async () => {
    const stream = generateStream({ tickets: 40000, deltas: 0, seed: 6 });
    const dir = await scratchDir();
    await writeFiles(`${dir}/bucket`, stream.files);
    const env = await processDatabase(dir);
    const args = ["ingest", "--from-dir", `${dir}/bucket`, "--apply", "--json"];
    // Stopped 300 ms after it logs that the file is being applied (JSON lines on stderr).
    const stopped = await signalOnceAFileStarts(args, env, "SIGTERM", { delayMs: 300 });
    assert.equal(stopped.code, 1, stopped.stdout + stopped.stderr);
    assert.match(stopped.stderr, /Interrupted by SIGTERM/);
    // A step that outlasts the 5 s grace on a loaded machine ends the process without waiting
    // for it; the database rolls the file back all the same (the cancel's own timing is
    // pg_faults_test's). Either way one JSON document says so.
    const report = JSON.parse(stopped.stdout || "null");
    assert.equal(report?.status, "failed", stopped.stderr);
    assert.match(
      report.error,
      /^Interrupted by SIGTERM: (the current file was rolled back|stopped without waiting for the current step: what it had not committed is rolled back)/,
    );
    assert.deepEqual(await listNames(`${dir}/bucket`, CHANGES), [stream.files[0]!.name]);

    const rerun = await finish(spawn(args, env));
    assert.equal(rerun.code, 0, rerun.stderr);
    const done = JSON.parse(rerun.stdout);
    assert.equal(done.totals.inserted, stream.expected.size);
    assert.deepEqual(await listNames(`${dir}/bucket`, CHANGES), []);
  },
});

Deno.test({
  name:
    "ops: --dataset all stopped by SIGTERM during INC reports CRQ as not begun, in the JSON document and the last line",
  sanitizeResources: false,
  fn: async () => {
    const stream = generateStream({ tickets: 40000, deltas: 0, seed: 8 });
    const dir = await scratchDir();
    await writeFiles(`${dir}/bucket`, stream.files);
    const env = await processDatabase(dir);
    const { code, stdout, stderr } = await signalOnceAFileStarts(
      ["ingest", "--from-dir", `${dir}/bucket`, "--dataset", "all", "--apply", "--json"],
      env,
      "SIGTERM",
    );
    assert.equal(code, 1, stderr);
    // Before: {"datasets": [inc]} alone, and the line named nothing of CRQ.
    const { datasets } = JSON.parse(stdout);
    assert.deepEqual(datasets.map((d: { dataset: string }) => d.dataset), ["inc", "crq"], stderr);
    const crq = datasets[1];
    assert.equal(crq.status, "failed");
    assert.equal(crq.transient, true);
    assert.equal(crq.durationMs, 0); // before: the whole run's time
    assert.match(
      crq.error,
      /^Interrupted by SIGTERM before CRQ began: nothing of it was read; the next run drains it$/,
    );
    assert.match(stderr, /; CRQ not begun: the next run drains it"/);
  },
});

Deno.test({
  name:
    "ops: a run killed with SIGKILL mid-file shows in status as died; the next run marks it died and applies the file",
  sanitizeResources: false,
  fn: async () => {
    const stream = generateStream({ tickets: 40000, deltas: 0, seed: 7 });
    const dir = await scratchDir();
    await writeFiles(`${dir}/bucket`, stream.files);
    const env = await processDatabase(dir);
    const args = ["ingest", "--from-dir", `${dir}/bucket`, "--apply", "--json"];
    const killed = await signalOnceAFileStarts(args, env, "SIGKILL");
    assert.equal(killed.signal, "SIGKILL", killed.stderr);

    // Before: no row (the record was written at the end), so status told the run before it
    // (here none: "No change file has been applied yet" alone, HEALTHY outside working hours).
    const status = await finish(spawn(["status", "--json"], env));
    assert.equal(status.code, 1, status.stdout + status.stderr);
    const inc = JSON.parse(status.stdout).datasets.find((d: { dataset: string }) =>
      d.dataset === "inc"
    );
    assert.equal(inc.health, "failing");
    assert.equal(inc.lastRun.status, "died");
    assert.equal(inc.lastRun.finishedAt, null);
    assert.match(
      inc.reasons[0],
      /^The last run died: it began at \S+ and never recorded its end \(killed, out of memory, its machine stopped, or it lost the database before it could record it\); it had applied no file, what it had not committed rolled back, and the next run goes on from the watermark$/,
    );
    assert.match(
      (await finish(spawn(["status"], env))).stdout,
      /\n {2}last run began \S+: died, no end recorded\n/,
    );

    const rerun = await finish(spawn(args, env));
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.equal(JSON.parse(rerun.stdout).totals.inserted, stream.expected.size);
    const runs = await finish(
      spawn(["sql", "--json", "select status from tickets.runs order by id"], env),
    );
    assert.deepEqual(JSON.parse(runs.stdout), [{ status: "died" }, { status: "ok" }]);
    const healed = JSON.parse((await finish(spawn(["status", "--json"], env))).stdout);
    assert.equal(
      healed.datasets.find((d: { dataset: string }) => d.dataset === "inc").lastRun.status,
      "ok",
    );
  },
});

Deno.test({
  name:
    "ops: a signal after a file committed says that file is kept, and rolls back the one under way",
  sanitizeResources: false,
  fn: async () => {
    const small = generateStream({ tickets: 50, deltas: 0, seed: 11 }).files[0]!;
    const big = generateStream({ tickets: 40000, deltas: 0, seed: 12 }).files[0]!;
    const later = { ...big, name: "2026-06-15T07-00-00.csv" };
    const dir = await scratchDir();
    await writeFiles(`${dir}/bucket`, [small, later]);
    const env = await processDatabase(dir);
    // Stopped once the small file is applied and the big one has started.
    const { code, stdout, stderr } = await signalOnceAFileStarts(
      ["ingest", "--from-dir", `${dir}/bucket`, "--apply", "--json"],
      env,
      "SIGTERM",
      { startOf: /"event":"file_start"[^\n]*07-00-00/ },
    );
    assert.equal(code, 1, stderr);
    // It said "nothing half-done was kept or archived" alone, as if the run had kept nothing.
    assert.match(
      stderr,
      /Interrupted by SIGTERM after 1 file\(s\) had been applied: those are kept \(committed\); nothing half-done was kept/,
    );
    const report = JSON.parse(stdout);
    assert.deepEqual(report.files.map((f: { status: string }) => f.status), ["applied", "failed"]);
    assert.deepEqual(await listNames(`${dir}/bucket`, CHANGES), [later.name]);
  },
});

for (const b of backends()) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${b.name}] ${name}`, ...shared, fn });

  test("readStatus() says healthy, stale (in working hours only) or failing", async () => {
    await b.reset();
    const db = await b.db();
    const stream = generateStream({ tickets: 50, deltas: 1, seed: 8 });
    const root = await makeDirBucket(stream.files);
    const startedAt = new Date();
    const report = await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    await recordRun(db, report, { startedAt });
    await writeFiles(root, [
      { name: "2026-07-01T06-00-00.csv", text: "ticket_id\n" },
      { name: "export (1).csv", text: "ticket_id\n" }, // a renamed export: never applied
    ]);
    const at = (iso: string) => ({ now: () => new Date(iso) });
    const soon = new Date(Date.now() + 30 * 60_000);
    const eatHour = (soon.getUTCHours() + 3) % 24;
    const healthy = await readStatus(db, {
      clock: { now: () => soon },
      store: createDirObjectStore(root),
      datasets: [INC],
    });
    assert.equal(healthy.datasets[0]!.health, "ok", JSON.stringify(healthy));
    assert.equal(healthy.datasets[0]!.pendingFiles, 1);
    // Named as a warning, not made unhealthy.
    assert.deepEqual(healthy.datasets[0]!.ignoredKeys, [`${CHANGES}export (1).csv`]);
    assert.match(
      formatStatus(healthy),
      /^ {2}warning: 1 key\(s\) in changes\/ are not change files and are never applied or moved: "automations\/inc\/changes\/export \(1\)\.csv"$/m,
    );
    assert.equal(healthy.datasets[0]!.rows, stream.expected.size);
    assert.equal(healthy.datasets[0]!.lastRun?.status, "ok");
    assert.equal(healthy.workingHours, eatHour >= 6 && eatHour < 21);

    // Tomorrow (at least 7 h after the last applied file): stale at 10:00 EAT, not checked at
    // 23:00 EAT.
    const day = new Date(Date.now() + 24 * 3600_000).toISOString().slice(0, 10);
    const stale = await readStatus(db, { clock: at(`${day}T07:00:00Z`), datasets: [INC] });
    assert.equal(stale.datasets[0]!.health, "stale", JSON.stringify(stale));
    assert.match(
      stale.datasets[0]!.reasons[0]!,
      /No change file applied for \d+\.\d h \(max 2 h\)/,
    );
    assert.equal(stale.healthy, false);
    const night = await readStatus(db, { clock: at(`${day}T20:00:00Z`), datasets: [INC] });
    assert.equal(night.workingHours, false);
    assert.equal(night.datasets[0]!.health, "ok");

    // A failed run makes it failing, whatever the time.
    const secret = "hunter2-very-secret";
    await recordRun(db, { ...report, status: "failed", error: `Cannot connect with ${secret}` }, {
      startedAt,
      redact: createRedactor([secret]),
    });
    const failing = await readStatus(db, { clock: at(`${day}T20:00:00Z`), datasets: [INC] });
    assert.equal(failing.datasets[0]!.health, "failing");
    assert.equal(failing.datasets[0]!.lastRun?.error, "Cannot connect with ***");
  });

  test("recordRun() records a run once when its connection is lost at the record: before the row was written, after (its answer lost), or while its session goes on and commits after the second attempt", async () => {
    await b.reset();
    const db = await b.db();
    const stream = generateStream({ tickets: 20, deltas: 0, seed: 21 });
    const root = await makeDirBucket(stream.files);
    const report = await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    const runs = async () =>
      (await db.query<{ n: number }>(`select count(*)::int as n from tickets.runs`))[0]!.n;
    for (const [minute, when] of [[0, "before"], [1, "after"], [2, "late"]] as const) {
      const at = new Date(Date.UTC(2026, 5, 15, 6, minute));
      const before = await runs();
      // Before: the run was not recorded (status judged the run before it), exit 1. Late (a
      // server session that outlived its connection): recorded twice before migration 012.
      const losing = losingRecord(db, when);
      await recordRun(losing.db, report, { startedAt: at, finishedAt: at });
      await losing.settled;
      assert.equal(await runs(), before + 1, `lost ${when} the insert: recorded once`);
    }
    // A run stopped by a signal has a short grace: its error is thrown at once.
    const stoppedAt = new Date(Date.UTC(2026, 5, 15, 6, 2));
    const before = await runs();
    await assert.rejects(
      recordRun(losingRecord(db, "before").db, report, {
        startedAt: stoppedAt,
        finishedAt: stoppedAt,
        interrupted: true,
      }),
      /CONNECTION_CLOSED/,
    );
    assert.equal(await runs(), before);
    // A refusal is no lost connection: thrown at once, not tried again.
    const refused = Object.assign(new Error("permission denied for table runs"), { code: "42501" });
    let attempts = 0;
    const refusing = new Proxy(db, {
      get: (target, name) =>
        name === "query"
          ? () => {
            attempts++;
            return Promise.reject(refused);
          }
          : Reflect.get(target, name),
    });
    await assert.rejects(recordRun(refusing, report, { startedAt: new Date() }), refused);
    assert.equal(attempts, 1);
    await Deno.remove(root, { recursive: true });
  });

  test("readStatus() judges the last run not skipped for a held lock, and counts the skipped ones", async () => {
    await b.reset();
    const db = await b.db();
    const stream = generateStream({ tickets: 20, deltas: 0, seed: 13 });
    const root = await makeDirBucket(stream.files);
    const report = await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    const t0 = Date.now();
    const at = (minutes: number) => new Date(t0 + minutes * 60_000);
    await recordRun(db, report, { startedAt: at(0), finishedAt: at(1) });
    // Interrupted, then two runs that found the lock held (the interrupted run's, still let go).
    const error = "Interrupted by SIGTERM: the current file was rolled back; rerun to continue";
    const stopped = { ...report, status: "failed" as const, files: [], error, transient: true };
    await recordRun(db, stopped, { startedAt: at(20), finishedAt: at(21), interrupted: true });
    const skipped = {
      ...report,
      status: "locked" as const,
      files: [],
      error: "Another run holds the lock",
    };
    await recordRun(db, skipped, { startedAt: at(21), finishedAt: at(21) });
    await recordRun(db, skipped, { startedAt: at(40), finishedAt: at(40) });
    const status = await readStatus(db, { clock: { now: () => at(45) }, datasets: [INC] });
    const inc = status.datasets[0]!;
    assert.equal(inc.health, "failing", JSON.stringify(inc));
    assert.equal(inc.lastRun?.status, "interrupted");
    assert.deepEqual(inc.reasons, [`The last run was interrupted: ${error}`]);
    assert.deepEqual(inc.lockedSince, { runs: 2, lastAt: eatIso(at(40)) });
    assert.match(
      formatStatus(status),
      /last run .*: interrupted, 0 files applied \(Interrupted by SIGTERM: .*\)\n {2}since then 2 runs skipped: another run held the lock/,
    );

    // Every run skipped for over an hour: the lock is held (before: OK until the max age).
    await recordRun(db, skipped, { startedAt: at(60), finishedAt: at(60) });
    await recordRun(db, skipped, { startedAt: at(80), finishedAt: at(80) });
    const held = (await readStatus(db, { clock: { now: () => at(85) }, datasets: [INC] }))
      .datasets[0]!;
    assert.equal(held.health, "failing");
    assert.deepEqual(held.reasons, [
      `The last run was interrupted: ${error}`,
      `Every run for 1.1 h was skipped (4 runs): another session has held the dataset's lock ` +
      `since ${eatIso(at(21))} or before; a run says who holds it, and the runbook how to end ` +
      `it if no run is going`,
    ]);

    // A run that gets through is the last run again, with nothing skipped since.
    await recordRun(db, report, { startedAt: at(90), finishedAt: at(91) });
    const healed = (await readStatus(db, { clock: { now: () => at(92) }, datasets: [INC] }))
      .datasets[0]!;
    assert.equal(healed.health, "ok", JSON.stringify(healed));
    assert.equal(healed.lastRun?.status, "ok");
    assert.equal(healed.lockedSince, null);
  });

  test("readStatus() counts each file applied once, and its applications again apart", async () => {
    await b.reset();
    const db = await b.db();
    const stream = generateStream({ tickets: 30, deltas: 1, seed: 12 });
    const root = await makeDirBucket(stream.files);
    const store = createDirObjectStore(root);
    await drain(store, db, { dataset: INC, apply: true, archive: false });
    const reseed = await drain(store, db, {
      dataset: INC,
      apply: true,
      reseed: true,
      archive: false,
    });
    assert.equal(reseed.files.filter((f) => f.status === "applied").length, stream.files.length);
    const [status] = (await readStatus(db, { datasets: [INC] })).datasets;
    assert.equal(status!.filesApplied, stream.files.length);
    assert.equal(status!.reapplications, stream.files.length);
  });

  test("readStatus() writes an age under an hour in minutes or seconds, not 0.0 h", async () => {
    await b.reset();
    const db = await b.db();
    const at = new Date("2026-06-15T07:00:00Z"); // 10:00 EAT: staleness is checked
    const reason = async (agoMs: number, maxAgeHours: number) => {
      await db.query(
        `insert into tickets.import_meta (dataset, last_applied_at) values ('inc', $1)
         on conflict (dataset) do update set last_applied_at = excluded.last_applied_at`,
        [new Date(at.getTime() - agoMs)],
      );
      const status = await readStatus(db, {
        clock: { now: () => at },
        maxAgeHours,
        datasets: [INC],
      });
      return status.datasets[0]!.reasons.join("\n");
    };
    assert.match(
      await reason(6 * 60_000, 0.0001),
      /No change file applied for 6 min \(max 0\.36 s\)/,
    );
    assert.match(await reason(900, 0.0001), /No change file applied for 0\.9 s \(max 0\.36 s\)/);
    assert.match(await reason(3 * 3600_000, 2), /No change file applied for 3\.0 h \(max 2 h\)/);
    assert.match(
      await reason(3 * 3600_000, 0.5),
      /No change file applied for 3\.0 h \(max 30 min\)/,
    );
  });

  /** A fresh database holding a 10-ticket baseline, and its newest update time. */
  const tenTickets = async () => {
    await b.reset();
    const db = await b.db();
    const stream = generateStream({ tickets: 10, deltas: 0, seed: 14 });
    await drain(createDirObjectStore(await makeDirBucket(stream.files)), db, {
      dataset: INC,
      apply: true,
      archive: false,
    });
    const [{ newest }] = await db.query<{ newest: Date }>(
      `select max(source_updated_at) as newest from tickets.inc`,
    ) as [{ newest: Date }];
    return { db, newest };
  };

  test("readStatus() writes a content lag and its limit as it writes an age: minutes or seconds under an hour", async () => {
    const { db, newest } = await tenTickets();
    const lag = async (agoMs: number, maxContentLagHours: number) =>
      (await readStatus(db, {
        clock: { now: () => new Date(newest.getTime() + agoMs) },
        maxContentLagHours,
        datasets: [INC],
      })).datasets[0]!.reasons.join("\n");
    assert.match(
      await lag(6 * 60_000, 0.00001),
      /The newest ticket update is 6 min old \(max content lag 0\.036 s\)/,
    );
    assert.match(
      await lag(50 * 3600_000, 48),
      /The newest ticket update is 50\.0 h old \(max content lag 48 h\)/,
    );
  });

  test("a ticket dated far ahead of now does not hide the content lag (status and freshness)", async () => {
    const { db, newest } = await tenTickets();
    // One row of a sloppy export dated 2099.
    await db.exec(
      `update tickets.inc set raw = jsonb_set(raw, '{updated_at}', '"2099-01-01 00:00:00"')
       where ticket_id = (select min(ticket_id) from tickets.inc)`,
    );
    const now = new Date(newest.getTime() + 50 * 3600_000);
    const status = await readStatus(db, {
      clock: { now: () => now },
      maxContentLagHours: 48,
      datasets: [INC],
    });
    const inc = status.datasets[0]!;
    // Before: content lag -631,9xx h and HEALTHY for good.
    assert.equal(inc.health, "stale");
    assert.equal(inc.futureUpdates, 1);
    assert.ok(inc.contentLagHours! >= 50, String(inc.contentLagHours));
    assert.match(inc.reasons.join("\n"), /The newest ticket update is 5\d\.\d h old/);
    const [{ f }] = await db.query<{ f: { content_lag_hours: number; future_updates: number } }>(
      `select tickets.freshness('inc', $1) as f`,
      [now],
    ) as [{ f: { content_lag_hours: number; future_updates: number } }];
    assert.equal(f.future_updates, 1);
    assert.ok(f.content_lag_hours >= 50, String(f.content_lag_hours));
    // Every row dated ahead: stale, saying why (before: OK, "content lag n/a").
    await db.exec(
      `update tickets.inc set raw = jsonb_set(raw, '{updated_at}', '"2099-01-01 00:00:00"')`,
    );
    const allAhead = (await readStatus(db, {
      clock: { now: () => now },
      maxContentLagHours: 48,
      datasets: [INC],
    })).datasets[0]!;
    assert.equal(allAhead.health, "stale");
    assert.match(
      allAhead.reasons.join("\n"),
      /^Every ticket update is dated more than an hour ahead of now \(10 ticket\(s\)\): the content lag cannot be measured/,
    );
  });

  test("close the shared database", () => b.close());
}

Deno.test("createLogger() writes JSON lines with time, level, dataset, counts and redacts secrets", () => {
  const lines: string[] = [];
  const logger = createLogger({
    format: "json",
    write: (t) => lines.push(t),
    redact: createRedactor(["s3cr3t-key"]),
    now: () => new Date("2026-06-15T14:00:00Z"),
  });
  logger.progress({
    type: "file_end",
    dataset: "inc",
    file: {
      key: "automations/inc/changes/2026-06-15T17-00-00.csv",
      fileName: "2026-06-15T17-00-00.csv",
      etag: "x",
      action: "apply",
      status: "failed",
      error: "Access denied for s3cr3t-key",
      durationMs: 12,
    },
  });
  assert.equal(lines.length, 1);
  const entry = JSON.parse(lines[0]!);
  assert.deepEqual(
    { time: entry.time, level: entry.level, event: entry.event, dataset: entry.dataset },
    { time: "2026-06-15T14:00:00.000Z", level: "error", event: "file", dataset: "inc" },
  );
  assert.equal(entry.error, "Access denied for ***");
  assert.ok(lines[0]!.endsWith("\n"));
});

Deno.test("createLogger() warns in the file line about a file applied but not archived, saying why", () => {
  const lines: string[] = [];
  const logger = createLogger({ format: "json", write: (t) => lines.push(t) });
  const notArchived = 'Did not archive "automations/inc/changes/2026-06-15T17-00-00.csv": it ' +
    "was replaced while it was being applied; the next run applies the new version";
  const file = {
    key: "automations/inc/changes/2026-06-15T17-00-00.csv",
    fileName: "2026-06-15T17-00-00.csv",
    etag: "x",
    action: "apply",
    durationMs: 12,
  } as const;
  logger.progress({
    type: "file_end",
    dataset: "inc",
    file: { ...file, status: "applied", notArchived },
  });
  logger.progress({ type: "file_end", dataset: "inc", file: { ...file, status: "applied" } });
  const [replaced, plain] = lines.map((line) => JSON.parse(line));
  assert.equal(replaced.level, "warn");
  assert.equal(replaced.notArchived, notArchived);
  assert.equal(plain.level, "info");
  assert.equal("notArchived" in plain, false);
});

Deno.test("createLogger() warns in the run line about keys that are not change files, naming 20 at most", () => {
  const lines: string[] = [];
  const logger = createLogger({ format: "json", write: (t) => lines.push(t) });
  const keys = Array.from({ length: 25 }, (_, i) => `automations/inc/changes/export ${i}.CSV`);
  logger.runEnd({
    dataset: "inc",
    mode: "apply",
    reseed: false,
    source: "dir:.data/bucket",
    status: "ok",
    files: [],
    ignoredKeys: keys,
    setAside: [],
    totals: emptyCounts(),
    watermark: null,
    durationMs: 3,
  });
  const entry = JSON.parse(lines[0]!);
  assert.equal(entry.level, "warn");
  assert.equal(entry.ignored, 25);
  assert.deepEqual(entry.ignoredKeys, keys.slice(0, 20));
});

Deno.test("createRedactor() hides secrets, their URL-encoded forms and URL passwords", () => {
  const redact = createRedactor(["p@ss/word"]);
  assert.equal(
    redact("postgres://fleet:other@db:5432/x failed; key p@ss/word or p%40ss%2Fword"),
    "postgres://fleet:***@db:5432/x failed; key *** or ***",
  );
});

Deno.test({
  name: "ops: status --json reports per dataset and exits 0 when healthy",
  sanitizeResources: false,
  fn: async () => {
    const stream = generateStream({ tickets: 40, deltas: 1, seed: 9 });
    const dir = await scratchDir();
    await writeFiles(`${dir}/bucket`, stream.files);
    const env = await processDatabase(dir);
    const ingest = await finish(spawn(["ingest", "--from-dir", `${dir}/bucket`, "--apply"], env));
    assert.equal(ingest.code, 0, ingest.stderr);
    // JSON lines (not a terminal): one per file and one per run.
    const events = ingest.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => e.event), [
      ...stream.files.flatMap(() => ["file_start", "file"]),
      "run",
    ]);
    const status = await finish(spawn(["status", "--json", "--from-dir", `${dir}/bucket`], env));
    const report = JSON.parse(status.stdout);
    assert.equal(status.code, report.healthy ? 0 : 1);
    const inc = report.datasets.find((d: { dataset: string }) => d.dataset === "inc");
    assert.equal(inc.rows, stream.expected.size);
    assert.equal(inc.pendingFiles, 0);
    assert.equal(inc.lastRun.status, "ok");
    assert.equal(inc.health, "ok");
    const crq = report.datasets.find((d: { dataset: string }) => d.dataset === "crq");
    assert.equal(crq.lastAppliedAt, null);
  },
});

Deno.test({
  name:
    "ops: with a read-only database role, ingest fails (exit 2, a setting to fix) and status is unhealthy, naming the tables",
  ignore: Deno.env.get("TEST_DATABASE_URL") === undefined,
  sanitizeResources: false,
  fn: async () => {
    const stream = generateStream({ tickets: 40, deltas: 0, seed: 9 });
    const dir = await scratchDir();
    await writeFiles(`${dir}/bucket`, stream.files);
    const { DATABASE_URL: url } = await processDatabase(dir);
    const role = `ft_ro_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
    const admin = postgres(url!, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`create role ${role} login password 'ro-pw-secret'`);
      await admin.unsafe(`grant usage on schema tickets to ${role}`);
      await admin.unsafe(`grant select on all tables in schema tickets to ${role}`);
      await admin.unsafe(`grant select on all tables in schema reporting to ${role}`)
        .catch(() => {});
      const ro = new URL(url!);
      ro.username = role;
      ro.password = "ro-pw-secret";
      const env = { DATABASE_URL: ro.toString() };
      const ingest = await finish(
        spawn(["ingest", "--from-dir", `${dir}/bucket`, "--apply", "--json"], env),
      );
      assert.equal(ingest.code, 2, ingest.stdout + ingest.stderr);
      const report = JSON.parse(ingest.stdout);
      assert.equal(report.status, "failed");
      assert.equal(report.transient, false, "a missing privilege repeats on every rerun");
      assert.match(report.recordError, /Cannot record the run in tickets\.runs: permission denied/);
      assert.ok(!(ingest.stdout + ingest.stderr).includes("ro-pw-secret"));

      const status = await finish(spawn(["status", "--json"], env));
      assert.equal(status.code, 1, status.stdout + status.stderr);
      const inc = JSON.parse(status.stdout).datasets[0];
      assert.equal(inc.health, "failing");
      assert.match(
        inc.reasons.join("\n"),
        /The database role cannot write tickets\.inc, .*tickets\.runs: ingest can neither apply files nor record its runs/,
      );
      // Only the run record refused: files still apply, and status says just that (before:
      // "can neither apply files nor record its runs").
      await admin.unsafe(`grant insert, update, delete on all tables in schema tickets to ${role}`);
      await admin.unsafe(`revoke insert, update on tickets.runs from ${role}`);
      const only = JSON.parse((await finish(spawn(["status", "--json"], env))).stdout);
      assert.match(
        only.datasets[0].reasons.join("\n"),
        /^The database role cannot write tickets\.runs: ingest applies files but cannot record its runs \(status cannot see them\)$/m,
      );
    } finally {
      await admin.unsafe(`drop owned by ${role}`).catch(() => {});
      await admin.unsafe(`drop role if exists ${role}`).catch(() => {});
      await admin.end();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "ops: a reader's DATABASE_URL given to ingest --apply, migrate and capture: the error " +
    "names the role, why it may not write and the fix",
  ignore: Deno.env.get("TEST_DATABASE_URL") === undefined,
  sanitizeResources: false,
  fn: async () => {
    const stream = generateStream({ tickets: 40, deltas: 0, seed: 9 });
    const dir = await scratchDir();
    await writeFiles(`${dir}/bucket`, stream.files);
    const { DATABASE_URL: url } = await processDatabase(dir);
    const suffix = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
    // Read only by default (SQLSTATE 25006), and select only (42501).
    const readOnly = `ft_reader_${suffix}`;
    const selectOnly = `ft_select_${suffix}`;
    const admin = postgres(url!, { max: 1, onnotice: () => {} });
    try {
      for (const role of [readOnly, selectOnly]) {
        await admin.unsafe(`create role ${role} login password 'reader-pw-secret'`);
        await admin.unsafe(`grant usage on schema tickets to ${role}`);
        await admin.unsafe(`grant select on all tables in schema tickets to ${role}`);
      }
      await admin.unsafe(`grant all on all tables in schema tickets to ${readOnly}`);
      await admin.unsafe(`alter role ${readOnly} set default_transaction_read_only = on`);
      const fix = "the worker needs the schema owner's role in DATABASE_URL";
      const cases = [
        [
          readOnly,
          `the database role "${readOnly}" may not write (read-only transactions by default`,
        ],
        [
          selectOnly,
          `the database role "${selectOnly}" lacks the rights the worker needs on the schema; ${fix}`,
        ],
      ] as const;
      for (const [role, why] of cases) {
        const reader = new URL(url!);
        reader.username = role;
        reader.password = "reader-pw-secret";
        const env = { DATABASE_URL: reader.toString() };
        const ingest = await finish(
          spawn(["ingest", "--from-dir", `${dir}/bucket`, "--apply", "--json"], env),
        );
        // A setting to fix, as a refused password is (before: exit 1, as a failed file).
        assert.equal(ingest.code, 2, ingest.stdout + ingest.stderr);
        const report = JSON.parse(ingest.stdout);
        // Before: `cannot execute CREATE TABLE in a read-only transaction`, no more.
        assert.ok(report.error.includes(`: ${why}`), report.error);
        assert.ok(report.error.endsWith(fix), report.error);
        assert.equal(report.transient, false);
        // Said once: the post-apply steps and the run record, refused alike, are not tried or
        // not warned of (before: "after_apply_failed … capture_history: cannot execute INSERT
        // in a read-only transaction" came first, then "run_record_failed").
        assert.equal(report.afterApply, undefined);
        assert.doesNotMatch(ingest.stderr, /after_apply_failed|run_record_failed/);
        for (const command of ["migrate", "capture"]) {
          const run = await finish(spawn([command], env));
          assert.equal(run.code, 2, run.stdout + run.stderr);
          assert.match(run.stderr, new RegExp(`^Cannot run ${command}: .*: `));
          assert.ok(run.stderr.includes(`: ${why}`), run.stderr);
          assert.match(run.stderr, /DATABASE_URL(, on the primary)?\n$/);
        }
        assert.ok(!(ingest.stdout + ingest.stderr).includes("reader-pw-secret"), "no password");
        // A dry run writes only its session's temporary tables: a select-only role may make
        // them, a role read only by default may not (and is told why, as an applying run is).
        const dry = await finish(spawn(["ingest", "--from-dir", `${dir}/bucket`, "--json"], env));
        if (role === selectOnly) assert.equal(dry.code, 0, dry.stdout + dry.stderr);
        else {
          assert.equal(dry.code, 2, dry.stdout + dry.stderr);
          // Its transaction holds the connection: the role is not looked up, the cause is named.
          assert.ok(
            JSON.parse(dry.stdout).error.includes(
              `: the database role may not write (read-only transactions by default, or a standby server); ${fix}, on the primary`,
            ),
            dry.stdout,
          );
        }
      }
    } finally {
      for (const role of [readOnly, selectOnly]) {
        await admin.unsafe(`drop owned by ${role}`).catch(() => {});
        await admin.unsafe(`drop role if exists ${role}`).catch(() => {});
      }
      await admin.end();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * `db`, whose first insert into tickets.runs loses its connection: `before` the row is written,
 * or `after` it is committed (the answer lost), as a server restart or failover does; or `late`:
 * the answer lost at once while the server session goes on and commits the row after the second
 * attempt has run (a session that has not yet noticed its client is gone). `settled` when the
 * lost attempt's own write has ended.
 */
function losingRecord(
  db: Database,
  when: "before" | "after" | "late",
): { db: Database; settled: Promise<unknown> } {
  let lost: { text: string; params?: readonly unknown[] } | undefined;
  let settled: Promise<unknown> = Promise.resolve();
  const query = async (text: string, params?: readonly unknown[]) => {
    const record = /insert into tickets\.runs/.test(text);
    if (lost === undefined && record) {
      lost = { text, params };
      if (when === "after") await db.query(text, params);
      throw Object.assign(new Error("write CONNECTION_CLOSED 127.0.0.1:5432"), {
        code: "CONNECTION_CLOSED",
      });
    }
    const result = await db.query(text, params);
    // Late: the lost attempt's write lands once the second attempt's has (whatever the timing).
    if (record && when === "late") settled = db.query(lost!.text, lost!.params);
    return result;
  };
  const proxy = new Proxy(db, {
    get: (target, name) => name === "query" ? query : Reflect.get(target, name),
  });
  return {
    db: proxy,
    get settled() {
      return settled;
    },
  };
}

Deno.test({
  name:
    "ops: a run killed in its post-apply steps after the next run took the lock is not the last run, and its files stop at the next run's",
  ignore: Deno.env.get("TEST_DATABASE_URL") === undefined, // two sessions: PostgreSQL only
  sanitizeResources: false,
  fn: async () => {
    const url = await createScratchDatabase(Deno.env.get("TEST_DATABASE_URL")!);
    const db = createPostgresDatabase(url);
    const first = createPostgresDatabase(url); // run A's own session
    try {
      await migrate(db);
      const start = (db: Database) => {
        const key = crypto.randomUUID();
        return beginRun(db, {
          runKey: key,
          dataset: "inc",
          startedAt: new Date(),
          reseed: false,
          source: "dir:bucket",
        }).then(() => key);
      };
      // A applies its file and lets go of the lock for its post-apply steps; B takes it (A
      // still connected: not marked), applies two files and ends ok; then A is killed.
      await start(first);
      await recordLedgerRow(first, "2026-06-15T06-00-00.csv");
      const b = await start(db);
      await recordLedgerRow(db, "2026-06-15T06-20-00.csv");
      await recordLedgerRow(db, "2026-06-15T06-40-00.csv");
      const report = okRunReport(2);
      await recordRun(db, report, { runKey: b, startedAt: new Date() });
      await first.close();
      // Before: A, still "running", sorted first: FAILING, "the 3 file(s) it applied" (B's too).
      const [inc] = (await readStatus(db, { datasets: [INC] })).datasets;
      assert.deepEqual([inc!.lastRun?.status, inc!.lastRun?.filesApplied], ["ok", 2]);
      assert.ok(!inc!.reasons.some((r) => /died/.test(r)), inc!.reasons.join("\n"));
      // The next run marks A died with its own file alone (before: 0 in the table).
      await start(db);
      const rows = await db.query<{ status: string; files_applied: number }>(
        `select status, files_applied from tickets.runs order by id`,
      );
      assert.deepEqual(rows, [
        { status: "died", files_applied: 1 },
        { status: "ok", files_applied: 2 },
        { status: "running", files_applied: 0 },
      ]);
    } finally {
      await first.close().catch(() => {});
      await db.close();
    }
  },
});

Deno.test({
  name: "ops: the runbook's advisory-lock query names the drain's lock and who holds it " +
    "(before: every advisory lock, unnamed)",
  ignore: Deno.env.get("TEST_DATABASE_URL") === undefined, // two sessions: PostgreSQL only
  ...shared,
  async fn() {
    const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
    const query = /`(select l\.pid, k\.name as lock[^`]*)`/.exec(readme)?.[1];
    assert.ok(query, "the runbook's lock query");
    const url = await createScratchDatabase(Deno.env.get("TEST_DATABASE_URL")!);
    const holder = createPostgresDatabase(url);
    const looker = postgres(url, { max: 1, onnotice: () => {} });
    try {
      assert.ok(await holder.tryLock("fleettickets:drain:crq"));
      const [pid] = await holder.query<{ pid: number }>(`select pg_backend_pid() as pid`);
      const rows = await looker.unsafe(query);
      assert.deepEqual(
        rows.map((r) => [r.pid, r.lock]),
        [[pid!.pid, "fleettickets:drain:crq"]],
      );
    } finally {
      await holder.close();
      await looker.end();
    }
  },
});

// Last, after every test that makes a folder or a database.
cleanUpScratchDirsAtEnd();
removeTestDataAtEnd();
