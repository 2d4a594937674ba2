// Database faults on real PostgreSQL (issue 7): the worker's connection terminated in the middle
// of a file's COPY and of its merge (pg_terminate_backend), and every connection dropped between
// runs (what a server restart does to a long-lived client). The run fails cleanly as transient,
// nothing half-done is kept, and the next run converges. Needs TEST_DATABASE_URL.

import assert from "node:assert/strict";
import postgres from "postgres";
import { generateStream } from "../demo/generate_stream.ts";
import { INC } from "../core/datasets.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { drain } from "../core/drain.ts";
import { migrate } from "../core/migrate.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import {
  createScratchDatabase,
  diffState,
  listNames,
  makeDirBucket,
  removeTestDataAtEnd,
  shared,
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
        const store = createDirObjectStore(root);
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

removeTestDataAtEnd();
