// A change file still being written into a folder (a writer that pauses mid-file, without the
// write-then-rename the README asks for) must not be applied half: the run waits until a file it
// lists has been still for `settleMs`, and a file written again meanwhile is left, with every
// later file, for the next run, which applies it whole. Before (a tester's): the first 249 rows
// of a 400-row file were applied, the file moved to processed/ while its writer still held it,
// and the other 151 rows were never applied.

import assert from "node:assert/strict";
import { generateStream } from "../demo/generate_stream.ts";
import { INC } from "../core/datasets.ts";
import { drain, type DrainProgress } from "../core/drain.ts";
import { formatDrainReport } from "../cli/format_report.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { backends, listNames, makeDirBucket, removeTestDataAtEnd, shared } from "./_harness.ts";
import { cleanUpScratchDirsAtEnd, cli, scratchDir } from "./_cli.ts";

const stream = generateStream({ tickets: 60, deltas: 1, deltaSize: 20, seed: 77 });
const [baseline, delta] = stream.files as [typeof stream.files[0], typeof stream.files[0]];
const lines = baseline.text.trimEnd().split("\n");
const half = lines.slice(0, Math.ceil(lines.length / 2)).join("\n") + "\n";
const rest = lines.slice(Math.ceil(lines.length / 2)).join("\n") + "\n";
const path = (root: string, name: string) => `${root}/${INC.changesPrefix}${name}`;

for (const b of backends()) {
  Deno.test({
    name:
      `[${b.name}] a folder file written again while the run waits for it to be still is left, with every later file, for the next run`,
    ...shared,
    fn: async () => {
      await b.reset();
      const db = await b.db();
      const root = await makeDirBucket([{ name: baseline.name, text: half }, delta]);
      const events: DrainProgress[] = [];
      // The writer goes on 150 ms into the run's wait of 600 ms.
      const writer = new Promise((resolve) => setTimeout(resolve, 150)).then(() =>
        Deno.writeTextFile(path(root, baseline.name), rest, { append: true })
      );
      const store = createDirObjectStore(root);
      const options = { dataset: INC, apply: true, settleMs: 600 };
      const first = await drain(store, db, { ...options, onProgress: (e) => events.push(e) });
      await writer;
      assert.equal(first.status, "ok", first.error);
      assert.deepEqual(first.files, []);
      assert.deepEqual(first.waiting?.map((w) => w.key), [
        INC.changesPrefix + baseline.name,
        INC.changesPrefix + delta.name,
      ]);
      assert.match(first.waiting![0]!.reason, /^was written again [\d.]+ s ago, while the run/);
      assert.match(formatDrainReport(first), /\n {2}WAITS automations\/inc\/changes\/2026/);
      assert.doesNotMatch(formatDrainReport(first), /no new change files/);
      assert.deepEqual(events.map((e) => e.type), ["settle_wait"]);
      assert.equal(first.watermark, null);
      assert.deepEqual(await listNames(root, INC.processedPrefix), []);

      // Once the file is still, the next run applies it whole, then the delta.
      await new Promise((resolve) => setTimeout(resolve, 650));
      const second = await drain(store, db, options);
      assert.equal(second.status, "ok", second.error);
      assert.equal(second.waiting, undefined);
      assert.deepEqual(second.files.map((f) => f.fileName), [baseline.name, delta.name]);
      assert.equal(second.files[0]!.counts?.rowsRead, baseline.rows);
      await Deno.remove(root, { recursive: true });
    },
  });

  Deno.test({
    name: `[${b.name}] a folder file written moments ago is applied once it has been still`,
    ...shared,
    fn: async () => {
      await b.reset();
      const db = await b.db();
      const root = await makeDirBucket([baseline]);
      const events: DrainProgress[] = [];
      const started = performance.now();
      const report = await drain(createDirObjectStore(root), db, {
        dataset: INC,
        apply: true,
        settleMs: 400,
        onProgress: (e) => events.push(e),
      });
      assert.equal(report.status, "ok", report.error);
      assert.ok(performance.now() - started >= 300, "it waited");
      assert.equal(report.files[0]?.counts?.rowsRead, baseline.rows);
      assert.equal(report.waiting, undefined);
      const wait = events.find((e) => e.type === "settle_wait");
      assert.ok(wait?.type === "settle_wait" && wait.waitMs > 0 && wait.waitMs <= 400);
      // Without a wait (the default, and a file older than the settle time): no event.
      events.length = 0;
      await drain(createDirObjectStore(root), db, {
        dataset: INC,
        settleMs: 1,
        onProgress: (e) => events.push(e),
      });
      assert.deepEqual(events.filter((e) => e.type === "settle_wait"), []);
      await Deno.remove(root, { recursive: true });
    },
  });

  Deno.test({ name: `[${b.name}] close the shared database`, ...shared, fn: () => b.close() });
}

Deno.test({
  name:
    "ingest logs its wait for a folder file that is not still and the file left waiting; a bad FOLDER_SETTLE_SECONDS is refused naming it",
  ...shared,
  async fn() {
    const cwd = await scratchDir("test-settle");
    const root = `${cwd}/feed`;
    await Deno.mkdir(`${root}/${INC.changesPrefix}`, { recursive: true });
    await Deno.writeTextFile(path(root, baseline.name), baseline.text);
    // Written "in two minutes" (a clock ahead, or a writer that never stops): never still for 1 s.
    const ahead = new Date(Date.now() + 120_000);
    await Deno.utime(path(root, baseline.name), ahead, ahead);
    const env = { PGLITE_DIR: `${cwd}/pglite`, FOLDER_SETTLE_SECONDS: "1" };
    const dry = await cli(["ingest", "--from-dir", root], env);
    assert.equal(dry.code, 0, dry.stderr);
    const logged = dry.stdout.trim().split("\n").map((line) => JSON.parse(line));
    const wait = logged.find((l) => l.event === "settle_wait");
    assert.equal(wait?.key, INC.changesPrefix + baseline.name, dry.stdout);
    const run = logged.find((l) => l.event === "run");
    assert.equal(run?.files, 0);
    assert.equal(run?.waiting?.[0]?.key, INC.changesPrefix + baseline.name);
    const bad = await cli(["ingest", "--from-dir", root], { ...env, FOLDER_SETTLE_SECONDS: "ten" });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(
      bad.stdout,
      /Cannot read FOLDER_SETTLE_SECONDS \\"ten\\": expected seconds from 0 to 600/,
    );
  },
});

removeTestDataAtEnd();
cleanUpScratchDirsAtEnd();
