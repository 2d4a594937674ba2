// The run's record when its end cannot be written (a database lost after the files, a role that
// may insert a run but not complete it): what the report says, and what status then shows.

import assert from "node:assert/strict";
import { generateStream } from "../demo/generate_stream.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { INC } from "../core/datasets.ts";
import { ingest } from "../core/ingest.ts";
import type { Database, Row } from "../core/ports/mod.ts";
import { formatDrainReport } from "../cli/format_report.ts";
import { backends, makeDirBucket, removeTestDataAtEnd, shared } from "./_harness.ts";

/** `db`, except that the statement completing a run's record fails as a lost server would. */
function losingRunEnds(db: Database): Database {
  const query = <T extends Row = Row>(text: string, params?: readonly unknown[]) =>
    text.includes("update tickets.runs set finished_at")
      ? Promise.reject(new Error("Lost the connection to the database (test)"))
      : db.query<T>(text, params);
  // Every other member is the database's own, called on it (its private fields).
  return new Proxy(db, {
    get(target, key) {
      if (key === "query") return query;
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

for (const b of backends()) {
  Deno.test({
    name: `[${b.name}] a run whose end cannot be recorded says that status will report it as ` +
      `died: its row stays running`,
    ...shared,
    async fn() {
      await b.reset();
      const db = await b.db();
      const stream = generateStream({ tickets: 30, deltas: 0, seed: 5 });
      const root = await makeDirBucket(stream.files);
      try {
        const [report] = await ingest(createDirObjectStore(root), losingRunEnds(db), {
          datasets: [{ ...INC, afterApply: [] }],
          apply: true,
        });
        assert.equal(report!.status, "ok", report!.error);
        // Before: "…; status cannot see this run", while status showed it as died.
        assert.equal(
          report!.recordError,
          "Cannot record the end of the run in tickets.runs: Lost the connection to the " +
            "database (test); status will report the run as died",
        );
        assert.match(
          formatDrainReport(report!),
          /status will report the run as died \(the files stay applied\)$/,
        );
        const [run] = await db.query<{ status: string; finished_at: string | null }>(
          `select status, finished_at from tickets.runs order by id desc limit 1`,
        );
        assert.deepEqual(run, { status: "running", finished_at: null });
      } finally {
        await Deno.remove(root, { recursive: true });
      }
    },
  });
}

// Last, after every test that makes a folder or a database.
removeTestDataAtEnd();
