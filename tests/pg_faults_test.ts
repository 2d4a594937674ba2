// Database faults on real PostgreSQL (issue 7): the worker's connection terminated in the middle
// of a file's COPY and of its merge (pg_terminate_backend), and every connection dropped between
// runs (what a server restart does to a long-lived client). The run fails cleanly as transient,
// nothing half-done is kept, and the next run converges. And SIGTERM while the server runs a long
// merge: the merge is cancelled there at once. Needs TEST_DATABASE_URL.

import assert from "node:assert/strict";
import postgres from "postgres";
import { generateStream } from "../demo/generate_stream.ts";
import { INC } from "../core/datasets.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { drain } from "../core/drain.ts";
import { migrate } from "../core/migrate.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import { SIGNAL_GRACE_MS } from "../cli/_context.ts";
import { cleanUpScratchDirsAtEnd, cli, scratchDir, spawnCli } from "./_cli.ts";
import {
  anotherSession,
  createScratchDatabase,
  diffState,
  listNames,
  makeDirBucket,
  removeTestDataAtEnd,
  shared,
  slowStore,
  writeFiles,
} from "./_harness.ts";

const base = Deno.env.get("TEST_DATABASE_URL");
const stream = generateStream({ tickets: 12_000, deltas: 2, seed: 71 });

/** Terminates the worker's backend as soon as it runs a statement matching `pattern`. */
async function terminateWhen(url: string, pattern: string, signal: AbortSignal): Promise<boolean> {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  try {
    while (!signal.aborted) {
      const [hit] = await admin<{ pid: number }[]>`
        select pid from pg_stat_activity
        where application_name = 'fleettickets' and datname = current_database()
          and state = 'active' and query ilike ${pattern}
          and pid <> pg_backend_pid()`;
      if (hit) {
        await admin`select pg_terminate_backend(${hit.pid})`;
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    return false;
  } finally {
    await admin.end();
  }
}

for (
  const [label, pattern] of [
    ["mid-COPY", "copy fleettickets_%"],
    ["mid-merge", "%-- merge the stage%"],
  ] as const
) {
  Deno.test({
    name:
      `[postgres] drain() survives its connection terminated ${label} and converges on the next run [PostgreSQL: set TEST_DATABASE_URL]`,
    ignore: base === undefined,
    ...shared,
    fn: async () => {
      // A password in the URL (trust auth ignores it) must never reach an error or the report.
      const url = new URL(await createScratchDatabase(base!));
      url.password = "s3cret-pw";
      const db = createPostgresDatabase(url.toString());
      try {
        await migrate(db);
        const root = await makeDirBucket(stream.files);
        // The COPY of 12,000 tickets can end between two looks at a busy machine (it did on CI):
        // the file comes slowly, so the COPY is there to be seen.
        const folder = createDirObjectStore(root);
        // 64 KB every 5 ms: a 5 MB file takes about 0.4 s, long enough to be seen mid-COPY.
        const store = label === "mid-COPY" ? slowStore(folder, { pieceMs: 5 }) : folder;
        const stop = new AbortController();
        const killer = terminateWhen(url.toString(), pattern, stop.signal);
        const first = await drain(store, db, { dataset: INC, apply: true });
        stop.abort();
        assert.equal(await killer, true, `the connection was terminated ${label}`);
        assert.equal(first.status, "failed");
        assert.equal(first.transient, true);
        assert.equal(first.files[0]?.status, "failed");
        assert.ok(!JSON.stringify(first).includes("s3cret-pw"), "no password in the report");

        // The same Database object reconnects by itself.
        const [count] = await db.query<{ n: number }>(`select count(*)::int as n from tickets.inc`);
        assert.equal(count?.n, 0, "nothing of the interrupted file was kept");
        assert.equal((await listNames(root, INC.changesPrefix)).length, stream.files.length);

        const second = await drain(store, db, { dataset: INC, apply: true });
        assert.equal(second.status, "ok", second.error);
        assert.deepEqual(await diffState(db, stream.expected), []);
        const [meta] = await db.query<{ files_applied: number }>(
          `select files_applied::int from tickets.import_meta where dataset = 'inc'`,
        );
        assert.equal(meta?.files_applied, stream.files.length, "every file applied exactly once");
      } finally {
        await db.close();
      }
    },
  });
}

Deno.test({
  name:
    "[postgres] drain() on a long-lived client goes on after every connection was dropped between runs [PostgreSQL: set TEST_DATABASE_URL]",
  ignore: base === undefined,
  ...shared,
  fn: async () => {
    const url = await createScratchDatabase(base!);
    const db = createPostgresDatabase(url);
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await migrate(db);
      const root = await makeDirBucket(stream.files.slice(0, 2));
      const store = createDirObjectStore(root);
      assert.equal((await drain(store, db, { dataset: INC, apply: true })).status, "ok");
      const dropped = await admin`
        select pg_terminate_backend(pid) from pg_stat_activity
        where datname = current_database() and pid <> pg_backend_pid()`;
      assert.ok(dropped.length >= 1, "the worker's connection was dropped");
      await Deno.writeTextFile(
        `${root}/${INC.changesPrefix}${stream.files[2]!.name}`,
        stream.files[2]!.text,
      );
      const after = await drain(store, db, { dataset: INC, apply: true });
      assert.equal(after.status, "ok", after.error);
      assert.deepEqual(await diffState(db, stream.expected), []);
    } finally {
      await admin.end();
      await db.close();
    }
  },
});

/** The worker's backend once it runs a statement matching `pattern` (its pid). */
async function waitForStatement(admin: postgres.Sql, ...patterns: string[]): Promise<number> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const [hit] = await admin<{ pid: number }[]>`
      select pid from pg_stat_activity
      where application_name = 'fleettickets' and datname = current_database()
        and state = 'active' and query ilike any(${patterns}::text[])`;
    if (hit) return hit.pid;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`No worker statement like "${patterns.join('" or "')}" within 60 s`);
}

/**
 * A file's merge waiting for a table another session holds: a first load into an empty table
 * waits at its lock of the table (core/_drain_queries.ts), any other at its merge statement.
 */
const MERGE_WAITING = [
  "%-- merge the stage%",
  'lock table "tickets"."inc" in share row exclusive mode',
];

Deno.test({
  name:
    "[postgres] SIGTERM during a long merge cancels it on the server at once: the file rolls back, the lock is let go, the run is recorded as interrupted and a rerun applies the file [PostgreSQL: set TEST_DATABASE_URL]",
  ignore: base === undefined,
  ...shared,
  fn: async () => {
    const env = { DATABASE_URL: await createScratchDatabase(base!) };
    assert.equal((await cli(["migrate"], env)).code, 0);
    const dir = await scratchDir("test-pg-faults");
    const small = generateStream({ tickets: 300, deltas: 0, seed: 72 });
    await writeFiles(`${dir}/bucket`, small.files);
    const args = ["ingest", "--from-dir", `${dir}/bucket`, "--apply", "--json"];
    const admin = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
    // A merge as long as a large file's (minutes), whatever the machine: another session's SHARE
    // lock on the table keeps the merge waiting (this first load at its lock of the table),
    // active on the server, until let go.
    const blocker = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
    const holder = await blocker.reserve();
    try {
      await holder`begin`;
      await holder`lock table tickets.inc in share mode`;
      const child = spawnCli(args, env);
      const output = child.output();
      const pid = await waitForStatement(admin, ...MERGE_WAITING);
      const signalled = performance.now();
      child.kill("SIGTERM");
      const out = await output;
      const seconds = (performance.now() - signalled) / 1000;
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1, stdout + stderr);
      // Before: the merge went on, and the process ended after the grace without a record.
      assert.ok(seconds < SIGNAL_GRACE_MS / 1000, `ended ${seconds.toFixed(1)} s after SIGTERM`);
      assert.doesNotMatch(stderr, /stopped without waiting/);
      assert.match(stderr, /Interrupted by SIGTERM: nothing half-done was kept or archived/);
      const report = JSON.parse(stdout);
      assert.equal(report.status, "failed");
      assert.match(report.error, /^Interrupted by SIGTERM: the current file was rolled back/);

      // The server is not merging any more and holds no run lock, with the blocker still there.
      const [backend] = await admin`select state from pg_stat_activity where pid = ${pid}`;
      assert.notEqual(backend?.state, "active", "the merge no longer runs on the server");
      const [locks] = await admin`
        select count(*)::int as n from pg_locks l join pg_database d on d.oid = l.database
        where l.locktype = 'advisory' and d.datname = current_database()`;
      assert.equal(locks?.n, 0, "the run's lock was let go");
      const runs = await admin`select status, error from tickets.runs order by id`;
      assert.deepEqual(runs.map((r) => r.status), ["interrupted"]);
      assert.equal(runs[0]!.error, report.error);
      const [count] = await admin`select count(*)::int as n from tickets.inc`;
      assert.equal(count?.n, 0, "nothing of the file was kept");
    } finally {
      await holder`rollback`.catch(() => {});
      holder.release();
      await blocker.end();
    }

    // A run skipped because another holds the lock does not hide the interruption.
    const [held] = await admin`
      select pg_try_advisory_lock(hashtextextended('fleettickets:drain:inc', 0)) as ok`;
    assert.equal(held?.ok, true);
    const skipped = await cli(args, env);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.equal(JSON.parse(skipped.stdout).status, "locked");
    await admin`select pg_advisory_unlock(hashtextextended('fleettickets:drain:inc', 0))`;
    const status = await cli(["status", "--dataset", "inc"], env);
    assert.equal(status.code, 1, status.stdout + status.stderr);
    assert.match(status.stdout, /^inc: FAILING/m);
    assert.match(
      status.stdout,
      /last run .*: interrupted, 0 files applied \(Interrupted by SIGTERM/,
    );
    assert.match(status.stdout, /since then 1 run skipped: another run held the lock/);
    assert.match(status.stdout, /! The last run was interrupted: Interrupted by SIGTERM/);

    // A rerun applies the file.
    const rerun = await cli(args, env);
    await admin.end();
    assert.equal(rerun.code, 0, rerun.stderr);
    const done = JSON.parse(rerun.stdout);
    assert.equal(done.status, "ok", done.error);
    assert.equal(done.totals.inserted, small.expected.size);
    assert.deepEqual(await listNames(`${dir}/bucket`, INC.changesPrefix), []);
  },
});

Deno.test({
  name:
    "[postgres] drain() skipped by a held lock names the holder's process and how to end it; a " +
    "holder it cannot see keeps the plain message [PostgreSQL: set TEST_DATABASE_URL]",
  ignore: base === undefined,
  ...shared,
  fn: async () => {
    const url = await createScratchDatabase(base!);
    const db = createPostgresDatabase(url);
    // A client that took the lock and never let go (a run stuck on a hung client, a psql left open).
    const holder = anotherSession(url, "stuck-holder");
    try {
      await migrate(db);
      const store = createDirObjectStore(
        await makeDirBucket(
          generateStream({
            tickets: 20,
            deltas: 0,
            seed: 72,
          }).files,
        ),
      );
      const [held] = await holder<{ pid: number }[]>`
        select pg_backend_pid() as pid, pg_advisory_lock(hashtextextended('fleettickets:drain:inc', 0))`;
      const pid = held!.pid;

      const locked = await drain(store, db, { dataset: INC, apply: true });
      assert.equal(locked.status, "locked");
      // Before: `Another run holds the lock for dataset "inc"`, with nothing to go on.
      assert.match(
        locked.error!,
        new RegExp(
          `^Another run holds the lock for dataset "inc" \\(PostgreSQL process ${pid}, ` +
            `"stuck-holder" from 127\\.0\\.0\\.1, connected \\d+ s ago, idle\\); if no run is ` +
            `going, end it with: select pg_terminate_backend\\(${pid}, 5000\\)$`,
        ),
      );

      // The lookup is best effort: refused, the run still reports the lock as before.
      const blind = new Proxy(db, {
        get(target, key) {
          if (key === "query") {
            return (text: string, params?: unknown[]) =>
              /pg_locks/.test(text)
                ? Promise.reject(new Error("permission denied for view pg_locks"))
                : target.query(text, params);
          }
          const value = Reflect.get(target, key, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const plain = await drain(store, blind, { dataset: INC, apply: true });
      assert.equal(plain.status, "locked");
      assert.equal(plain.error, 'Another run holds the lock for dataset "inc"');

      // The command the message gives ends the holder; the next run goes on.
      const admin = postgres(url, { max: 1, onnotice: () => {} });
      // Before, the command returned at once and the holder's process, still ending, kept the lock:
      // the next run was skipped (a failed CI run). With the timeout it returns once it is gone.
      const [ended] = await admin.unsafe(locked.error!.split("end it with: ")[1]!);
      await admin.end();
      assert.deepEqual(Object.values(ended!), [true]);
      const next = await drain(store, db, { dataset: INC, apply: true });
      assert.equal(next.status, "ok", next.error);
    } finally {
      await holder.end({ timeout: 0 }).catch(() => {});
      await db.close();
    }
  },
});

Deno.test({
  name:
    "[postgres] a connection lost mid-statement is told in plain words naming the server, not " +
    "postgres.js's `write CONNECTION_CLOSED` [PostgreSQL: set TEST_DATABASE_URL]",
  ignore: base === undefined,
  ...shared,
  fn: async () => {
    const env = { DATABASE_URL: await createScratchDatabase(base!) };
    assert.equal((await cli(["migrate"], env)).code, 0);
    const admin = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
    try {
      const child = spawnCli(["sql", "select pg_sleep(60)"], env);
      const output = child.output();
      const pid = await waitForStatement(admin, "%pg_sleep(60)%");
      await admin`select pg_terminate_backend(${pid}, 5000)`;
      const out = await output;
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1, stderr); // transient: a rerun can succeed
      // Before: `Cannot run sql: write CONNECTION_CLOSED 127.0.0.1:5432`.
      assert.match(
        stderr,
        /^Cannot run sql: lost the connection to PostgreSQL at [^ ]+ \(database "[^"]+"\): the server stopped or restarted, ended this session \(pg_terminate_backend, an idle timeout\), or the network dropped it \(CONNECTION_CLOSED\)\n$/,
      );
    } finally {
      await admin.end();
    }
  },
});

Deno.test({
  name:
    "[postgres] under cron (no terminal, no --json) an interrupted run tells it as one more JSON " +
    "log line, so a log taking both streams holds only JSON [PostgreSQL: set TEST_DATABASE_URL]",
  ignore: base === undefined,
  ...shared,
  fn: async () => {
    const env = { DATABASE_URL: await createScratchDatabase(base!) };
    assert.equal((await cli(["migrate"], env)).code, 0);
    const dir = await scratchDir("test-pg-faults");
    await writeFiles(`${dir}/bucket`, generateStream({ tickets: 300, deltas: 0, seed: 73 }).files);
    const admin = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
    const blocker = postgres(env.DATABASE_URL, { max: 1, onnotice: () => {} });
    const holder = await blocker.reserve();
    try {
      await holder`begin`;
      await holder`lock table tickets.inc in share mode`; // the merge waits, active
      const child = spawnCli(["ingest", "--from-dir", `${dir}/bucket`, "--apply"], env);
      const output = child.output();
      await waitForStatement(admin, ...MERGE_WAITING);
      child.kill("SIGTERM");
      const out = await output;
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1, stdout + stderr);
      // Before: `Interrupted by SIGTERM: nothing half-done was kept or archived` as text on stderr.
      assert.doesNotMatch(stderr, /Interrupted/);
      const lines = stdout.trim().split("\n").map((line) => JSON.parse(line));
      const told = lines.find((l) => l.event === "interrupted");
      assert.equal(told?.level, "warn");
      assert.equal(told?.error, "Interrupted by SIGTERM: nothing half-done was kept or archived");
    } finally {
      await holder`rollback`.catch(() => {});
      holder.release();
      await blocker.end();
      await admin.end();
    }
  },
});

Deno.test({
  name:
    "[postgres] ingest --wait-lock says it waits for the run lock and who holds it, on a terminal " +
    "and in the JSON log [PostgreSQL: set TEST_DATABASE_URL]",
  ignore: base === undefined,
  ...shared,
  fn: async () => {
    const env = { DATABASE_URL: await createScratchDatabase(base!) };
    assert.equal((await cli(["migrate"], env)).code, 0);
    const dir = await scratchDir("test-pg-faults");
    await writeFiles(`${dir}/bucket`, generateStream({ tickets: 20, deltas: 0, seed: 74 }).files);
    const holder = anotherSession(env.DATABASE_URL, "stuck-holder");
    try {
      const [held] = await holder<{ pid: number }[]>`
        select pg_backend_pid() as pid, pg_advisory_lock(hashtextextended('fleettickets:drain:inc', 0))`;
      const args = ["ingest", "--from-dir", `${dir}/bucket`, "--dataset", "inc", "--apply"];
      const text = await cli([...args, "--wait-lock", "1", "--log-format", "text"], env);
      // Before: silent for the whole wait on PostgreSQL (the embedded database said it).
      assert.match(
        text.stderr,
        new RegExp(
          `^Waiting up to 1 s for the run lock of INC: another run holds it \\(PostgreSQL ` +
            `process ${held!.pid}, "stuck-holder" .*select pg_terminate_backend\\(${
              held!.pid
            }, 5000\\)$`,
          "m",
        ),
      );
      const json = await cli([...args, "--wait-lock", "1"], env);
      const waited = json.stdout.trim().split("\n").map((l) => JSON.parse(l))
        .find((l) => l.event === "lock_wait");
      assert.deepEqual([waited?.dataset, waited?.waitS, waited?.holderPid], ["inc", 1, held!.pid]);
      assert.match(waited?.holder, new RegExp(`^PostgreSQL process ${held!.pid}, "stuck-holder"`));
    } finally {
      await holder.end();
    }
  },
});

Deno.test({
  name:
    "[postgres] a source that fails inside a transaction or a COPY (an S3 download cut short) is " +
    "told in its own words, not as a lost PostgreSQL connection [PostgreSQL: set TEST_DATABASE_URL]",
  ignore: base === undefined,
  ...shared,
  fn: async () => {
    const db = createPostgresDatabase(await createScratchDatabase(base!));
    // What Deno's node:http gives when S3 cuts a download short.
    const cut = () => Object.assign(new Error("aborted"), { code: "ECONNRESET" });
    try {
      await assert.rejects(db.transaction(() => Promise.reject(cut())), { message: "aborted" });
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query("create temp table staged (a text)");
          await tx.copyCsv(
            "staged",
            ["a"],
            (async function* () {
              yield new TextEncoder().encode("a\n1\n");
              throw cut();
            })(),
          );
        }),
        // Before: "Lost the connection to PostgreSQL at …: the server stopped or restarted, …".
        { message: "aborted" },
      );
      assert.deepEqual(await db.query("select 1 as one"), [{ one: 1 }], "the pool goes on");
    } finally {
      await db.close();
    }
  },
});

cleanUpScratchDirsAtEnd();
Deno.test({
  name: "a new connection whose look at the array types outlasts the statement timeout fails its " +
    "statements, never reads an array as text, and the process lives on " +
    "[PostgreSQL: set TEST_DATABASE_URL]",
  ignore: base === undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // serve's pool opens each connection with the statement timeout in its startup message, and
    // postgres.js's first query on it (the array types) obeys it. 10,000 domains make that query
    // take ~50 ms here, against a timeout of 2 ms. Before: its failure was rejected to nobody and
    // Deno ended the process (a CI run lost a test file to it); then the connection went on
    // without array types, and arrays came back as text ("{a,b}").
    const url = await createScratchDatabase(base!);
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`do $$ begin for i in 1..10000 loop
        execute format('create domain ft_d%s as int', i); end loop; end $$`);
    } finally {
      await admin.end();
    }
    const db = createPostgresDatabase(url, { readOnlyTimeoutMs: 2 });
    try {
      const list = `select array['a', 'b'] as list`;
      const answers = await Promise.allSettled([db.query(`select 1 as n`), db.query(list)]);
      answers.push(...await Promise.allSettled([db.query(list)]));
      const failed = answers.filter((a) => a.status === "rejected");
      assert.ok(
        failed.some((a) => /statement timeout/.test(String((a as PromiseRejectedResult).reason))),
        "the types' query failed",
      );
      for (const answer of answers) {
        if (answer.status === "fulfilled" && "list" in (answer.value[0] ?? {})) {
          assert.deepEqual(answer.value[0], { list: ["a", "b"] });
        }
      }
    } finally {
      await db.close();
    }
    // With time enough, the same database answers arrays as arrays.
    const patient = createPostgresDatabase(url, { readOnlyTimeoutMs: 10_000 });
    try {
      assert.deepEqual([...await patient.query(`select array['a', 'b'] as list`)], [{
        list: ["a", "b"],
      }]);
    } finally {
      await patient.close();
    }
  },
});

removeTestDataAtEnd();
