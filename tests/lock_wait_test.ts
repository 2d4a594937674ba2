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

removeTestDataAtEnd();
