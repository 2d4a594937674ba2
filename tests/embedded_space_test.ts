// The embedded database does after each applying run what PostgreSQL's autovacuum does on its own:
// PGlite runs none, so before this every update left its old row version for good and the data
// directory grew with every run (60 runs of the bench's deltas: tickets.inc 25 → 40 MB against
// 25 → 34 MB with the space used again).

import assert from "node:assert/strict";
import { generateStream } from "../demo/generate_stream.ts";
import { INC } from "../core/datasets.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { ingest } from "../core/ingest.ts";
import type { Database } from "../core/ports/mod.ts";
import { backends, makeDirBucket, removeTestDataAtEnd, shared, writeFiles } from "./_harness.ts";

const [pglite] = backends();

/** Adds `file` to the folder bucket `root` and applies it in one run; returns the run's report. */
async function applyRun(db: Database, root: string, file: { name: string; text: string }) {
  await writeFiles(root, [file]);
  const [report] = await ingest(createDirObjectStore(root), db, {
    datasets: [INC],
    apply: true,
    settleMs: 0,
  });
  assert.equal(report?.status, "ok", report?.error);
  return report!;
}

/** The one number `sql` selects (as `v`). */
async function scalar(db: Database, sql: string): Promise<number> {
  const [row] = await db.query<{ v: number }>(sql);
  return row!.v;
}

Deno.test({
  name:
    "[pglite] runs that rewrite every ticket reuse the space of the rows they replaced: tickets.inc stays near twice its first size a ticket, not one size more a run",
  ...shared,
  async fn() {
    const db = await pglite!.db();
    await pglite!.reset();
    // Every file after the baseline is a full export that changes every ticket.
    const { files } = generateStream({
      tickets: 300,
      deltas: 8,
      deltaSize: 100,
      fullEvery: 1,
      seed: 31,
    });
    const root = await makeDirBucket([]);
    const bytesPerTicket = () =>
      scalar(
        db,
        `select pg_relation_size('tickets.inc')::float8 / (select count(*) from tickets.inc) as v`,
      );
    const sizes: number[] = [];
    const tidied: (number | undefined)[] = [];
    for (const file of files) {
      const report = await applyRun(db, root, file);
      assert.deepEqual(report.afterApply?.errors, []);
      sizes.push(await bytesPerTicket());
      tidied.push(report.afterApply?.stepsMs?.tidy);
    }
    const growth = sizes.map((size) => size / sizes[0]!);
    // Without the step: 1.9, 2.8, 3.7 … 7.4 times the first size a ticket after the 8 rewrites.
    assert.ok(growth.at(-1)! < 2.5, `tickets.inc grew ${growth.map((g) => g.toFixed(2))}`);
    assert.ok(tidied.every((ms) => ms !== undefined), "each run names its tidy step's time");
  },
});

Deno.test({
  name:
    "[pglite] a first load leaves the planner statistics of the ticket table; a small delta does not pay for new ones",
  ...shared,
  async fn() {
    const db = await pglite!.db();
    await pglite!.reset();
    await db.exec(`delete from pg_statistic where starelid = 'tickets.inc'::regclass`);
    const { files } = generateStream({ tickets: 300, deltas: 1, deltaSize: 10, seed: 32 });
    const root = await makeDirBucket([]);
    const analyzedColumns = () =>
      scalar(
        db,
        `select count(*)::int as v from pg_statistic where starelid = 'tickets.inc'::regclass`,
      );
    await applyRun(db, root, files[0]!);
    assert.ok(await analyzedColumns() > 10, "ANALYZE ran after the first load");
    await db.exec(`delete from pg_statistic where starelid = 'tickets.inc'::regclass`);
    await applyRun(db, root, files[1]!);
    assert.equal(await analyzedColumns(), 0, "a delta of 10 rows on 300 tickets is only vacuumed");
  },
});

Deno.test({
  name: "[pglite] the database closes",
  ...shared,
  async fn() {
    await pglite!.close();
  },
});

removeTestDataAtEnd();
