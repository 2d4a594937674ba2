// A session that holds the rows a change file updates: a person who fixed a ticket by hand in psql
// and left the transaction open. Before, the run waited for as long as that transaction stayed
// open (its lock held, so every scheduled run after it skipped); now the file waits the lock
// timeout, rolls back and fails as transient, naming the session and the statement that ends it,
// and the next run applies it. Needs TEST_DATABASE_URL.

import assert from "node:assert/strict";
import { generateStream } from "../demo/generate_stream.ts";
import { INC } from "../core/datasets.ts";
import { drain } from "../core/drain.ts";
import { migrate } from "../core/migrate.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import {
  anotherSession,
  createScratchDatabase,
  makeDirBucket,
  removeTestDataAtEnd,
  shared,
  within,
  writeFiles,
} from "./_harness.ts";
import { cli } from "./_cli.ts";

const base = Deno.env.get("TEST_DATABASE_URL");
const stream = generateStream({ tickets: 800, deltas: 1, deltaSize: 60, seed: 23 });

/** The ticket ids of a change file (its first column, quoted or not). */
function ticketIds(text: string): string[] {
  return text.split(/\r?\n/).slice(1).filter((l) => l !== "").map((l) =>
    l.split(",")[0]!.replaceAll('"', "")
  );
}

Deno.test({
  name: "[postgres] a file whose tickets another session holds in an open transaction fails " +
    "after the lock timeout (transient), naming that session and how to end it; the next run " +
    "applies it [PostgreSQL: set TEST_DATABASE_URL]",
  ignore: base === undefined,
  ...shared,
  fn: async () => {
    const url = await createScratchDatabase(base!);
    const db = createPostgresDatabase(url);
    const holder = anotherSession(url, "psql");
    try {
      await migrate(db);
      const [baseline, delta] = stream.files as [typeof stream.files[0], typeof stream.files[0]];
      const root = await makeDirBucket([baseline]);
      const store = createDirObjectStore(root);
      assert.equal((await drain(store, db, { dataset: INC, apply: true })).status, "ok");

      // A hand fix left uncommitted on every ticket the next file changes.
      const session = await holder.reserve();
      await session`begin`;
      await session`update tickets.inc set source_file = source_file
                    where ticket_id = any(${ticketIds(delta.text)})`;
      const [row] = await session<{ pid: number }[]>`select pg_backend_pid() as pid`;
      const pid = row!.pid;
      await writeFiles(root, [delta]);

      const started = performance.now();
      const held = await within(
        15_000,
        "The drain",
        drain(store, db, { dataset: INC, apply: true, lockTimeoutMs: 500 }),
      );
      const took = performance.now() - started;
      assert.equal(held.status, "failed");
      assert.equal(held.transient, true, "the next run may pass once the session ends");
      assert.equal(held.files[0]?.status, "failed");
      assert.equal(
        held.files[0]?.error,
        held.error,
        "the file's error is the run's",
      );
      assert.match(
        held.error ?? "",
        new RegExp(
          `^Cannot go on: another session held rows or tables this run writes for 0\\.5 s ` +
            `\\(PostgreSQL process ${pid} \\("psql", idle in transaction for \\d+ s\\)\\); ` +
            `end it \\(select pg_terminate_backend\\(${pid}\\)\\) or let it finish, and the next ` +
            `run goes on \\(what this run had not committed was rolled back\\)$`,
        ),
      );
      assert.ok(took < 5000, `gave up after ${Math.round(took)} ms`);
      const [ledger] = await db.query<{ n: number }>(
        "select count(*)::int as n from tickets.applied_files",
      );
      assert.equal(ledger?.n, 1, "the held file is not in the ledger");

      await session`rollback`;
      session.release();
      const next = await drain(store, db, { dataset: INC, apply: true, lockTimeoutMs: 500 });
      assert.equal(next.status, "ok", next.error);
      assert.deepEqual(next.files.map((f) => f.status), ["applied"]);
    } finally {
      await holder.end({ timeout: 1 });
      await db.close();
    }
  },
});

/** What a test behind a lock that keeps readers out gets: the database, and the lock's holder. */
interface LockedOut {
  url: string;
  db: ReturnType<typeof createPostgresDatabase>;
  /** The holding session's process id. */
  pid: number;
  /** Ends the holder's transaction, and its lock with it. */
  release(): Promise<void>;
}

/**
 * `fn` on a migrated scratch database whose `table` (tickets.inc unless said) a psql session
 * holds in an open transaction, locked against every reader (what a `VACUUM FULL` or an `ALTER`
 * holds).
 */
async function behindReadersLock(
  fn: (locked: LockedOut) => Promise<void>,
  table = "tickets.inc",
): Promise<void> {
  const url = await createScratchDatabase(base!);
  const db = createPostgresDatabase(url);
  const holder = anotherSession(url, "psql");
  try {
    await migrate(db);
    const session = await holder.reserve();
    await session`begin`;
    await session.unsafe(`lock table ${table} in access exclusive mode`);
    const [row] = await session<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const release = async () => {
      await session`rollback`;
      session.release();
    };
    await fn({ url, db, pid: row!.pid, release });
  } finally {
    await holder.end({ timeout: 1 });
    await db.close();
  }
}

Deno.test({
  name: "[postgres] a dry run behind a lock that keeps readers out fails after the lock timeout " +
    "(transient), saying so [PostgreSQL: set TEST_DATABASE_URL]",
  ignore: base === undefined,
  ...shared,
  fn: () =>
    behindReadersLock(async ({ db, release }) => {
      const store = createDirObjectStore(await makeDirBucket([stream.files[0]!]));
      const started = performance.now();
      // Before: it waited for as long as the lock was held.
      const report = await within(
        15_000,
        "The dry run",
        drain(store, db, { dataset: INC, apply: false, lockTimeoutMs: 500 }),
      );
      assert.ok(performance.now() - started < 5000);
      assert.equal(report.status, "failed");
      assert.equal(report.transient, true);
      assert.equal(
        report.error,
        "Cannot go on: another session held tables this dry run reads for 0.5 s (a lock that " +
          "keeps readers out: DDL, VACUUM FULL or LOCK TABLE; pg_locks names it); let it finish " +
          "or end it, then run again",
      );
      await release();
      const next = await drain(store, db, { dataset: INC, apply: false, lockTimeoutMs: 500 });
      assert.equal(next.status, "ok", next.error);
    }),
});

Deno.test({
  name: "[postgres] status and report behind a lock that keeps readers out, on the tickets or " +
    "on the migration ledger, end after 10 s, naming the session and how to end it " +
    "[PostgreSQL: set TEST_DATABASE_URL]",
  ignore: base === undefined,
  ...shared,
  fn: () =>
    behindReadersLock(async ({ url, pid, release }) =>
      // And on a second database, the migration ledger so held: the schema check every command
      // makes first waited unbounded (before the twenty-second stop).
      await behindReadersLock(async (ledger) => {
        const env = { DATABASE_URL: url };
        const started = performance.now();
        // Before: both waited, silent, for as long as the lock was held (a hung health check).
        const [status, report, checked] = await within(
          40_000,
          "status and report",
          Promise.all([
            cli(["status", "--dataset", "inc"], env),
            cli(["report"], env),
            cli(["status", "--dataset", "inc"], { DATABASE_URL: ledger.url }),
          ]),
        );
        assert.ok(performance.now() - started < 30_000);
        for (
          const [name, r, holder] of [
            ["status", status, pid],
            ["report", report, pid],
            ["status", checked, ledger.pid],
          ] as const
        ) {
          assert.equal(r.code, 1, `${name}: ${r.stdout}${r.stderr}`);
          assert.match(
            r.stderr,
            new RegExp(
              `^Cannot run ${name}: another session held tables ${name} reads for 10 s ` +
                `\\(PostgreSQL process ${holder} \\("psql", idle in transaction for \\d+ s\\)\\); ` +
                `end it \\(select pg_terminate_backend\\(${holder}\\)\\) or let it finish, then ` +
                `run ${name} again\n$`,
            ),
          );
        }
        await release();
        await ledger.release();
        assert.equal((await cli(["report"], env)).code, 0);
        assert.equal((await cli(["report"], { DATABASE_URL: ledger.url })).code, 0);
      }, "tickets.schema_migrations")
    ),
});

removeTestDataAtEnd();
