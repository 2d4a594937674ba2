// End-to-end replays of generated change streams through drain(), on embedded PGlite and (when
// TEST_DATABASE_URL is set) real PostgreSQL. Expected state comes from the generator's model.

import assert from "node:assert/strict";
import { COLUMNS, generateStream, renderCsv } from "../demo/generate_stream.ts";
import { CRQ, INC } from "../core/datasets.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { drain } from "../core/drain.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import { ingest } from "../core/ingest.ts";
import { readStatus } from "../core/read_status.ts";
import type { Database, ObjectStore, Row, SqlSession } from "../core/ports/mod.ts";
import {
  backends,
  diffState,
  drainedState,
  faultyStore,
  listNames,
  makeDirBucket,
  openTicket,
  removeTestDataAtEnd,
  shared,
  slowStore,
  writeFiles,
} from "./_harness.ts";

const stream = generateStream({ tickets: 300, deltas: 7, deltaSize: 30, seed: 7 });
const CHANGES = INC.changesPrefix;
const PROCESSED = INC.processedPrefix;

for (const b of backends()) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${b.name}] ${name}`, ...shared, fn });

  test("the database's CSV parser and the JavaScript parser give the same state on the fixture stream", async () => {
    const db = await b.db();
    const states = [];
    for (const parser of ["javascript", "auto"] as const) {
      await b.reset();
      const root = await makeDirBucket(stream.files);
      const report = await drain(createDirObjectStore(root), db, {
        dataset: INC,
        apply: true,
        parser,
      });
      assert.equal(report.status, "ok", report.error);
      const parsedBy = report.files.map((f) => f.profile?.parsedBy);
      assert.ok(parsedBy.every((p) => p === (parser === "auto" ? "database" : "javascript")));
      states.push({
        totals: report.totals,
        counts: report.files.map((f) => f.counts),
        state: await drainedState(db),
      });
      await Deno.remove(root, { recursive: true });
    }
    assert.deepEqual(states[1], states[0]);
    assert.deepEqual(await diffState(db, stream.expected), []);
  });

  test("a CRQ file in INC's folder is refused before its merge, both ways: nothing written, later files wait, moved it is applied as CRQ", async () => {
    // Before: its 23 tickets were merged into tickets.inc as incidents, and the run exited 0.
    const crq = generateStream({ dataset: "crq", tickets: 30, deltas: 0, seed: 7 }).files[0]!;
    const misplaced = { name: "2026-06-15T06-10-00.csv", text: crq.text }; // between two INC files
    const db = await b.db();
    const errors = [];
    for (const parser of ["auto", "javascript"] as const) {
      await b.reset();
      const root = await makeDirBucket(stream.files.slice(0, 1));
      const run = (dataset = INC) =>
        drain(createDirObjectStore(root), db, { dataset, apply: true, parser });
      assert.equal((await run()).status, "ok");
      const before = await drainedState(db);
      await writeFiles(root, [misplaced, stream.files[1]!]);
      const refused = await run();
      assert.equal(refused.status, "failed");
      assert.equal(refused.transient, false, "a rerun as is fails the same way");
      assert.deepEqual(refused.files.map((f) => [f.fileName, f.status]), [
        [misplaced.name, "failed"],
        [stream.files[1]!.name, "not_reached"],
      ]);
      errors.push(refused.files[0]!.error);
      assert.deepEqual(await drainedState(db), before, "nothing of it in tickets.inc");
      const [ledger] = await db.query<{ n: number }>(
        "select count(*)::int as n from tickets.applied_files where file_name = $1",
        [misplaced.name],
      );
      assert.equal(ledger?.n, 0, "not in the ledger");
      assert.deepEqual(await listNames(root, CHANGES), [misplaced.name, stream.files[1]!.name]);
      // The operator moves it where it belongs: INC goes on, and CRQ applies it.
      await Deno.mkdir(`${root}/${CRQ.changesPrefix}`, { recursive: true });
      await Deno.rename(
        `${root}/${CHANGES}${misplaced.name}`,
        `${root}/${CRQ.changesPrefix}${misplaced.name}`,
      );
      assert.equal((await run()).status, "ok");
      const asCrq = await run(CRQ);
      assert.equal(asCrq.status, "ok", asCrq.error);
      const [rows] = await db.query<{ n: number }>("select count(*)::int as n from tickets.crq");
      assert.equal(rows?.n, asCrq.totals.inserted);
      assert.ok(asCrq.totals.inserted > 0);
      await Deno.remove(root, { recursive: true });
    }
    assert.equal(errors[0], errors[1], "the same words both ways");
    assert.match(
      errors[0]!,
      /^Cannot apply change file "automations\/inc\/changes\/2026-06-15T06-10-00\.csv": its \d+ tickets say service_type "crq" and none "inc": it is a CRQ file, to apply as CRQ \(its folder is "automations\/crq\/changes\/"\); nothing of it was applied$/,
    );
  });

  test("a change file several read buffers long is staged by the database and matches the model", async () => {
    // ~4.7 MB: the folder bucket's file is read into one reused 1 MiB buffer, five times over.
    const big = generateStream({ tickets: 8000, deltas: 0, seed: 11 });
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(big.files);
    const bars: { rows: number; bytes: number; size: number }[] = [];
    const report = await drain(createDirObjectStore(root), db, {
      dataset: INC,
      apply: true,
      onProgress: (event) => {
        if (event.type === "batch") {
          bars.push({ rows: event.rows, bytes: event.bytes, size: event.size });
        }
      },
    });
    assert.equal(report.status, "ok", report.error);
    assert.ok(big.files[0]!.text.length > 4 * 2 ** 20);
    assert.equal(report.files[0]!.profile?.parsedBy, "database");
    assert.deepEqual(await diffState(db, big.expected), []);
    // A terminal's bar moves as the database takes the file (before: no event this way, so no
    // bar for most files): about once a MiB, the last at the whole file.
    const size = new TextEncoder().encode(big.files[0]!.text).byteLength;
    assert.ok(bars.length >= 4 && bars.length <= 6, `${bars.length} progress events`);
    assert.ok(bars.every((bar, i) => i === 0 || bar.bytes > bars[i - 1]!.bytes), "bytes grow");
    assert.deepEqual(bars.at(-1), { rows: report.totals.rowsRead, bytes: size, size });
    await Deno.remove(root, { recursive: true });
  });

  test("a file's profile splits its stage: the waits for a slow store are download, both ways", async () => {
    const db = await b.db();
    for (const parser of ["auto", "javascript"] as const) {
      await b.reset();
      const root = await makeDirBucket(stream.files.slice(0, 1));
      const size = new TextEncoder().encode(stream.files[0]!.text).byteLength;
      const pieces = Math.ceil(size / SLOW_PIECE);
      const report = await drain(slowStore(createDirObjectStore(root), SLOW), db, {
        dataset: INC,
        apply: true,
        parser,
      });
      assert.equal(report.status, "ok", report.error);
      const p = report.files[0]!.profile!;
      assert.equal(p.parsedBy, parser === "auto" ? "database" : "javascript");
      // The open waits 60 ms and each 64 KB piece 20 ms (timers fire late, never early). The
      // JavaScript way's parser reads ahead: a read made while the database took a batch is COPY,
      // and how many reads overlap a batch depends on the machine's load (in CI once 85 of 120
      // ms were download). Before any batch there is the open and the first piece: those at least.
      const waited = SLOW_OPEN_MS + pieces * SLOW_PIECE_MS;
      const least = parser === "auto" ? waited - 5 : SLOW_OPEN_MS + SLOW_PIECE_MS;
      assert.ok(p.downloadMs >= least, `${parser}: download ${p.downloadMs} ms of ${waited}`);
      assert.ok(p.downloadMs < p.stageMs, `${parser}: download within the stage`);
      assert.ok(p.parseMs > 0 && p.copyMs >= 0, `${parser}: ${JSON.stringify(p)}`);
      const parts = p.downloadMs + p.parseMs + p.copyMs;
      assert.ok(
        Math.abs(parts - p.stageMs) <= 0.2,
        `${parser}: ${parts} ms in parts, stage ${p.stageMs}`,
      );
      await Deno.remove(root, { recursive: true });
    }
  });

  test("a file's applied time is its transaction's end, after its rows were merged, not its start", async () => {
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(stream.files.slice(0, 1));
    // A slow read (60 ms to open, 20 ms a piece) puts the merge well after the transaction began.
    const report = await drain(slowStore(createDirObjectStore(root), SLOW), db, {
      dataset: INC,
      apply: true,
    });
    assert.equal(report.status, "ok", report.error);
    const [row] = await db.query<{ later: boolean; same: boolean; times: string }>(
      `select f.applied_at > m.merged as later, f.applied_at = i.last_applied_at as same,
              concat_ws(' ', 'applied', f.applied_at, 'merged', m.merged) as times
       from tickets.applied_files f,
            (select max(ingested_at) as merged from tickets.inc) m,
            tickets.import_meta i
       where i.dataset = 'inc'`,
    );
    // Before: applied_at was now(), the transaction's start, ahead of the stage and the merge.
    assert.equal(row!.later, true, row!.times);
    assert.equal(row!.same, true, "the watermark's time is the ledger's");
    await Deno.remove(root, { recursive: true });
  });

  test("copyCsv takes each chunk before the next, so a producer may reuse one buffer", async () => {
    const db = await b.db();
    const lines = [
      "a,b",
      ...Array.from({ length: 500 }, (_, i) => `row-${i},${"x".repeat(i % 50)}`),
    ];
    const bytes = new TextEncoder().encode(lines.join("\n") + "\n");
    const buffer = new Uint8Array(997); // not a line length: records straddle the chunks
    async function* reused() {
      for (let at = 0; at < bytes.length; at += buffer.length) {
        const part = bytes.subarray(at, at + buffer.length);
        buffer.set(part);
        yield buffer.subarray(0, part.length);
        buffer.fill(0x21); // what a reader reusing its buffer leaves behind
      }
    }
    const copied = await db.transaction(async (tx) => {
      await tx.exec(`create temp table reuse_probe (a text, b text) on commit drop`);
      await tx.copyCsv("reuse_probe", ["a", "b"], reused());
      return await tx.query<{ a: string; b: string }>(`select a, b from reuse_probe`);
    });
    assert.deepEqual(
      copied.map((r) => `${r.a},${r.b ?? ""}`),
      lines.slice(1),
    );
  });

  // A signal is an event, delivered when the event loop turns. On PostgreSQL it turns while the
  // merge runs on the server; the embedded database merges on this thread, so there the drain
  // must let it turn before deciding to commit (the event here is queued as the merge returns).
  const ways = b.name === "pglite"
    ? ["at once", "as an event, like a SIGTERM"] as const
    : ["at once"] as const;
  for (const how of ways) {
    test(`drain() stopped while a file is merged (${how}) rolls the file back and archives nothing`, async () => {
      await b.reset();
      const db = await b.db();
      const root = await makeDirBucket(stream.files.slice(0, 1));
      const stop = new AbortController();
      // The signal comes once the merge statement has run, before the ledger and the commit.
      const stopAfterMerge = (tx: SqlSession): SqlSession => ({
        query: async <T extends Row = Row>(text: string, params?: readonly unknown[]) => {
          const rows = await tx.query<T>(text, params);
          if (text.includes("-- merge the stage")) {
            const abort = () => stop.abort(new Error("Interrupted by SIGTERM"));
            if (how === "at once") abort();
            else setTimeout(abort, 0);
          }
          return rows;
        },
        exec: (script) => tx.exec(script),
        copyRows: (table, columns, batches) => tx.copyRows(table, columns, batches),
        copyCsv: (table, columns, body) => tx.copyCsv(table, columns, body),
      });
      const stopping: Database = {
        kind: db.kind,
        ...stopAfterMerge(db),
        transaction: (fn) => db.transaction((tx) => fn(stopAfterMerge(tx))),
        runStatement: (text) => db.runStatement(text),
        tryLock: (name) => db.tryLock(name),
        unlock: (name) => db.unlock(name),
        listen: (channel, onEvent) => db.listen(channel, onEvent),
        close: () => db.close(),
      };
      const report = await drain(createDirObjectStore(root), stopping, {
        dataset: INC,
        apply: true,
        signal: stop.signal,
      });
      assert.equal(report.status, "failed");
      assert.match(String(report.error), /Interrupted by SIGTERM/);
      assert.deepEqual(await drainedState(db), [[], [], []]);
      assert.deepEqual(await listNames(root, CHANGES), [stream.files[0]!.name]);
      await Deno.remove(root, { recursive: true });
    });
  }

  test("drain() applies a baseline and deltas oldest first and matches the model row by row", async () => {
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(stream.files);
    const report = await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });

    assert.equal(report.status, "ok", report.error);
    assert.deepEqual(report.files.map((f) => f.fileName), stream.files.map((f) => f.name));
    assert.ok(report.files.every((f) => f.status === "applied"));
    assert.deepEqual(await diffState(db, stream.expected), []);
    assert.deepEqual(await listNames(root, CHANGES), []);
    assert.deepEqual(await listNames(root, PROCESSED), stream.files.map((f) => f.name));
    assert.equal(report.watermark, stream.files.at(-1)!.name);
    assert.equal(report.totals.alarmsDropped, stream.stats.alarmRows);
    assert.equal(report.totals.sentinelsDropped, stream.stats.sentinelRows);
    const [ledger] = await db.query<{ n: number }>(
      `select count(*)::int as n from tickets.applied_files where dataset = 'inc'`,
    );
    assert.equal(ledger?.n, stream.files.length);
  });

  test("drain() with nothing new writes no ledger rows and moves nothing", async () => {
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(stream.files.slice(0, 2));
    await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    const before = await db.query(`select * from tickets.applied_files order by file_name`);
    const again = await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    assert.equal(again.status, "ok");
    assert.deepEqual(again.files, []);
    assert.deepEqual(
      await db.query(`select * from tickets.applied_files order by file_name`),
      before,
    );
  });

  test("drain() that cannot list its source still reports the watermark the data is at", async () => {
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(stream.files.slice(0, 2));
    const store = createDirObjectStore(root);
    await drain(store, db, { dataset: INC, apply: true });
    const unlistable: ObjectStore = {
      ...store,
      list: () => Promise.reject(new Error('Cannot list "automations/inc/changes/": refused')),
    };
    for (const apply of [true, false]) {
      const report = await drain(unlistable, db, { dataset: INC, apply });
      assert.equal(report.status, "failed");
      assert.match(report.error!, /Cannot list/);
      assert.equal(report.watermark, stream.files[1]!.name, "not (none)");
    }
    await Deno.remove(root, { recursive: true });
  });

  test("drain() dry run reports the exact plan and writes nothing", async () => {
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(stream.files);
    const plan = await drain(createDirObjectStore(root), db, { dataset: INC });
    assert.equal(plan.mode, "dry-run");
    assert.ok(plan.files.every((f) => f.status === "planned"));
    const [count] = await db.query<{ n: number }>(`select count(*)::int as n from tickets.inc`);
    assert.equal(count?.n, 0);
    assert.deepEqual(await listNames(root, CHANGES), stream.files.map((f) => f.name));

    const applied = await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    assert.deepEqual(plan.totals, applied.totals);
    assert.equal(plan.totals.inserted, stream.expected.size);
  });

  test("drain() applies a late file without regressing newer rows", async () => {
    await b.reset();
    const db = await b.db();
    const late = stream.files[2]!;
    const root = await makeDirBucket(stream.files.filter((f) => f !== late));
    const first = await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    assert.equal(first.status, "ok");

    await writeFiles(root, [late]);
    const second = await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    assert.equal(second.status, "ok");
    assert.deepEqual(second.files.map((f) => [f.fileName, f.status]), [[late.name, "applied"]]);
    assert.ok(second.totals.olderSkipped > 0, "the late file carries rows newer files rewrote");
    assert.deepEqual(await diffState(db, stream.expected), []);
    assert.equal(second.watermark, stream.files.at(-1)!.name, "the watermark never goes back");
  });

  test("drain() --reseed re-applies every file present and moves no ticket backwards", async () => {
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(stream.files);
    await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });

    // A new bucket after a cutover: the same names again, plus the stale baseline alone.
    await writeFiles(root, [stream.files[0]!]);
    const plain = await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    assert.deepEqual(plain.files.map((f) => f.status), ["archived"]);

    await writeFiles(root, [stream.files[0]!]);
    const reseed = await drain(createDirObjectStore(root), db, {
      dataset: INC,
      apply: true,
      reseed: true,
    });
    assert.deepEqual(reseed.files.map((f) => f.status), ["applied"]);
    assert.ok(reseed.totals.olderSkipped > 0);
    assert.deepEqual(await diffState(db, stream.expected), []);

    await writeFiles(root, stream.files);
    const all = await drain(createDirObjectStore(root), db, {
      dataset: INC,
      apply: true,
      reseed: true,
    });
    assert.ok(all.files.every((f) => f.status === "applied"));
    assert.deepEqual(await diffState(db, stream.expected), []);
  });

  test("drain() archives a committed file left in changes/ by a crash, without applying it again", async () => {
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(stream.files);
    const crashAt = stream.files[1]!.name;
    const crashed = await drain(
      faultyStore(createDirObjectStore(root), { failMove: (key) => key.endsWith(crashAt) }),
      db,
      { dataset: INC, apply: true },
    );
    assert.equal(crashed.status, "failed");
    assert.deepEqual(await listNames(root, CHANGES), stream.files.slice(1).map((f) => f.name));
    // Committed, not moved: `applied`, saying why it stayed (before: `failed`, as if not applied).
    const stuck = crashed.files.find((f) => f.fileName === crashAt)!;
    assert.equal(stuck.status, "applied");
    assert.equal(stuck.error, undefined);
    assert.match(
      stuck.notArchived ?? "",
      /Simulated crash before archiving .*; the file is applied \(its rows are kept\), stays in changes\/ and the next run moves it without applying it again$/,
    );
    assert.equal(crashed.error, stuck.notArchived);

    const resumed = await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    assert.equal(resumed.status, "ok");
    assert.deepEqual(resumed.files[0], {
      ...resumed.files[0],
      fileName: crashAt,
      action: "archive",
      status: "archived",
    });
    assert.deepEqual(await diffState(db, stream.expected), []);
    const [ledger] = await db.query<{ n: number; applied: number }>(
      `select count(*)::int as n, sum(files_applied)::int as applied
       from tickets.applied_files, tickets.import_meta where tickets.import_meta.dataset = 'inc'`,
    );
    assert.equal(ledger?.n, stream.files.length, "each file in the ledger exactly once");
    const [meta] = await db.query<{ files_applied: number }>(
      `select files_applied::int from tickets.import_meta where dataset = 'inc'`,
    );
    assert.equal(meta?.files_applied, stream.files.length, "no file applied twice");
  });

  test("drain() rolls back a file whose download breaks mid-way and applies it on the next run", async () => {
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(stream.files);
    const baseline = stream.files[0]!;
    const broken = await drain(
      faultyStore(createDirObjectStore(root), {
        failReadAfterBytes: (key) =>
          key.endsWith(baseline.name) ? baseline.text.length / 2 : undefined,
      }),
      db,
      { dataset: INC, apply: true },
    );
    assert.equal(broken.status, "failed");
    assert.equal(broken.transient, true);
    const [count] = await db.query<{ n: number }>(`select count(*)::int as n from tickets.inc`);
    assert.equal(count?.n, 0, "nothing of the half-read file is committed");

    const resumed = await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    assert.equal(resumed.status, "ok");
    assert.deepEqual(await diffState(db, stream.expected), []);
  });

  test("drain() refuses a download that ends early without an error and applies it on the next run", async () => {
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(stream.files);
    const store = createDirObjectStore(root);
    const delta = stream.files[1]!;
    // A body cut at a line end parses as a shorter valid file: only the size can tell.
    const cut = delta.text.lastIndexOf("\r\n", delta.text.length / 2) + 2;
    const truncating: ObjectStore = {
      ...store,
      description: store.description,
      async read(key) {
        const body = await store.read(key);
        if (!key.endsWith(delta.name)) return body;
        const bytes = new Uint8Array(await new Response(body).arrayBuffer());
        return new Response(
          bytes.slice(0, new TextEncoder().encode(delta.text.slice(0, cut)).length),
        )
          .body!;
      },
    };
    const broken = await drain(truncating, db, { dataset: INC, apply: true });
    assert.equal(broken.status, "failed");
    assert.equal(broken.transient, true);
    assert.match(broken.error!, /read \d+ bytes, the listing said \d+/);
    assert.ok(broken.error!.includes(`"${CHANGES}${delta.name}"`));
    assert.deepEqual(await listNames(root, CHANGES), stream.files.slice(1).map((f) => f.name));
    const resumed = await drain(store, db, { dataset: INC, apply: true });
    assert.equal(resumed.status, "ok", resumed.error);
    assert.deepEqual(await diffState(db, stream.expected), []);
  });

  test("drain() quarantines the line with an unterminated quote and still loads the lines after it", async () => {
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(stream.files);
    const header = stream.files[0]!.text.split("\r\n")[0]!.replace(/^\uFEFF/, "");
    const width = header.split(",").length;
    const good = (id: string) => [`"${id}"`, ...Array(width - 1).fill('""')].join(",");
    const badName = "2026-06-15T06-30-00.csv"; // between the first and second delta
    await writeFiles(root, [{
      name: badName,
      text: [header, good("WOTQ1"), `"WOTQ2","unterminated`, good("WOTQ3"), ""].join("\r\n"),
    }]);

    const report = await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    assert.equal(report.status, "ok", report.error);
    const bad = report.files.find((f) => f.fileName === badName)!;
    assert.equal(bad.status, "applied");
    assert.deepEqual(bad.quarantine, [{ line: 3, reason: "has an unterminated or stray quote" }]);
    const landed = await db.query<{ ticket_id: string }>(
      `select ticket_id from tickets.inc where ticket_id like 'WOTQ%' order by 1`,
    );
    assert.deepEqual(landed.map((r) => r.ticket_id), ["WOTQ1", "WOTQ3"]);
    const [kept] = await db.query<{ key: string; line: number; record: string[] }>(
      `select key, line, record from tickets.quarantine where file_name = $1`,
      [badName],
    );
    assert.deepEqual(kept, {
      key: CHANGES + badName,
      line: 3,
      record: [`"WOTQ2","unterminated`],
    });
    assert.deepEqual(await listNames(root, CHANGES), []);
    const expected = new Map(stream.expected);
    const [state] = await db.query<{ n: number }>(
      `select count(*)::int as n from tickets.inc where ticket_id not like 'WOTQ%'`,
    );
    assert.equal(state?.n, expected.size, "every other ticket landed");
  });

  test("drain() stops at a file with no usable header, keeps order, and continues once it is fixed", async () => {
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(stream.files);
    const badName = "2026-06-15T06-30-00.csv"; // between the first and second delta
    await writeFiles(root, [{ name: badName, text: `"id","status"\r\n"WOT1","open"\r\n` }]);

    const failed = await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    assert.equal(failed.status, "failed");
    assert.equal(failed.transient, false);
    assert.equal(
      failed.error,
      `Cannot apply change file "${CHANGES}${badName}": line 1 has no "ticket_id" column in its header`,
    );
    const after = failed.files.filter((f) => f.fileName > badName);
    assert.ok(after.length > 0 && after.every((f) => f.status === "not_reached"));
    assert.ok((await listNames(root, CHANGES)).includes(badName));
    assert.equal(failed.watermark, stream.files.filter((f) => f.name < badName).at(-1)!.name);

    const header = stream.files[0]!.text.split("\r\n")[0]!.replace(/^\uFEFF/, "");
    await writeFiles(root, [{ name: badName, text: `${header}\r\n` }]);
    const fixed = await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    assert.equal(fixed.status, "ok", fixed.error);
    assert.deepEqual(await listNames(root, CHANGES), []);
    assert.deepEqual(await diffState(db, stream.expected), []);
  });

  test("drain() sets aside a file named far in the future, applies the others, and status flags it", async () => {
    await b.reset();
    const db = await b.db();
    const future = "2099-12-31T23-59-59.csv";
    const first = stream.expected.keys().next().value!;
    const root = await makeDirBucket([
      ...stream.files,
      { name: future, text: renderCsv(COLUMNS, [openTicket(first, { owner: "from 2099" })]) },
    ]);
    const [report] = await ingest(createDirObjectStore(root), db, { datasets: [INC], apply: true });
    assert.equal(report!.status, "failed");
    assert.equal(report!.transient, false, "a rerun cannot help: a person must look");
    assert.deepEqual(report!.setAside.map((f) => f.key), [CHANGES + future]);
    assert.match(report!.setAside[0]!.reason, /h ahead of now \(at most 60 min\)/);
    assert.match(report!.error!, new RegExp(`Set aside 1 change file.*${future}`));
    assert.deepEqual(report!.files.map((f) => f.status), stream.files.map(() => "applied"));
    assert.deepEqual(await diffState(db, stream.expected), [], "its tickets are not frozen");
    assert.deepEqual(await listNames(root, CHANGES), [future], "left for a person");

    const status = await readStatus(db, { datasets: [INC] });
    assert.equal(status.datasets[0]!.health, "failing");
    assert.match(status.datasets[0]!.reasons.join("\n"), new RegExp(future));

    // Within the margin (clock skew), a file is applied.
    const soon = new Date(Date.now() + 30 * 60_000 + 3 * 3600_000).toISOString()
      .slice(0, 19).replaceAll(":", "-") + ".csv";
    await Deno.remove(`${root}/${CHANGES}${future}`);
    await writeFiles(root, [{ name: soon, text: renderCsv(COLUMNS, [openTicket("WOT_SOON")]) }]);
    const next = await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    assert.equal(next.status, "ok", next.error);
    assert.deepEqual(next.files.map((f) => f.fileName), [soon]);
  });

  if (b.name === "postgres") {
    test("a dry run in progress does not delay an applying run (no row locks on shared tables)", async () => {
      await b.reset();
      const db = await b.db();
      const other = createPostgresDatabase(b.url!);
      try {
        const root = await makeDirBucket(stream.files.slice(0, 2));
        // The dry run stops inside its transaction, after merging the first file, until released.
        let release = () => {};
        const held = new Promise<void>((resolve) => release = resolve);
        let reached = () => {};
        const atSecond = new Promise<void>((resolve) => reached = resolve);
        const store = createDirObjectStore(root);
        const slow: ObjectStore = {
          ...store,
          description: store.description,
          async read(key) {
            if (key.endsWith(stream.files[1]!.name)) {
              reached();
              await held;
            }
            return await store.read(key);
          },
        };
        const dry = drain(slow, db, { dataset: INC });
        await atSecond;
        const started = performance.now();
        // Were the apply blocked behind the dry run's locks, it would wait for this release.
        const timer = setTimeout(() => release(), 15_000);
        const applied = await drain(store, other, { dataset: INC, apply: true, archive: false });
        clearTimeout(timer);
        const seconds = (performance.now() - started) / 1000;
        release();
        assert.equal(applied.status, "ok", applied.error);
        assert.ok(seconds < 10, `the apply waited ${seconds.toFixed(1)} s behind the dry run`);
        const plan = await dry;
        assert.equal(plan.status, "ok", plan.error);
        assert.deepEqual(plan.files[0]!.counts, applied.files[0]!.counts, "exact plan counts");
      } finally {
        await other.close();
      }
    });
  }

  test("a run refused a write after it applied a file still places and captures that file", async () => {
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(stream.files.slice(0, 2));
    // The second file's merge is refused as a standby or a role without the grant refuses it.
    let merges = 0;
    const refusing = throughQueries(db, (tx, text, params) => {
      if (text.startsWith("-- merge the stage") && ++merges === 2) {
        const refused = new Error("cannot execute UPDATE in a read-only transaction");
        return Promise.reject(Object.assign(refused, { code: "25006" }));
      }
      return tx.query(text, params);
    });
    const [report] = await ingest(createDirObjectStore(root), refusing, {
      datasets: [INC],
      apply: true,
    });
    assert.equal(report!.writeRefused, true);
    assert.deepEqual(report!.files.map((f) => f.status), ["applied", "failed"]);
    // A run refused before any file skips them; this one did apply one (a15aca5).
    assert.ok(report!.afterApply, "post-apply steps ran");
    assert.deepEqual(report!.afterApply!.errors, []);
    const [placed] = await db.query<{ n: number }>(
      `select count(*)::int as n from tickets.applied_files where placed_at is not null`,
    );
    assert.equal(placed!.n, 1);
  });

  test("a stop ends a run whose store stalls (a listing, a download's start or its body) at once, the file rolled back", async () => {
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(stream.files.slice(0, 1));
    const dir = createDirObjectStore(root);
    const never = new Promise<never>(() => {});
    // The first 3,000 bytes, then nothing more (a server that stops sending mid-file).
    const stalledBody = async (key: string, options?: { etag?: string }) => {
      const reader = (await dir.read(key, options)).getReader();
      let sent = 0;
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (sent >= 3000) return await never;
          const next = await reader.read();
          if (next.done) return controller.close();
          const piece = next.value.subarray(0, 3000 - sent);
          sent += piece.byteLength;
          controller.enqueue(piece);
        },
      }, { highWaterMark: 0 });
    };
    const stalls: Record<string, ObjectStore> = {
      listing: { ...dir, list: () => never },
      "download's start": { ...dir, read: () => never },
      "download's body": { ...dir, read: stalledBody },
    };
    for (const [where, store] of Object.entries(stalls)) {
      const stop = new AbortController();
      setTimeout(() => stop.abort(new Error("Interrupted by SIGTERM")), 300);
      const started = performance.now();
      const [report] = await ingest(store, db, {
        datasets: [INC],
        apply: true,
        signal: stop.signal,
      });
      // Before: the run waited for the store until the CLI's 5 s grace ended the process, and
      // its run record stayed "running" ("the last run died").
      const ms = performance.now() - started;
      assert.ok(ms < 3000, `${where}: the run ended ${Math.round(ms)} ms after it began`);
      assert.equal(report!.status, "failed", where);
      assert.match(report!.error ?? "", /^Interrupted by SIGTERM/, where);
      assert.deepEqual(await listNames(root, INC.changesPrefix), [stream.files[0]!.name], where);
      const [count] = await db.query<{ n: number }>(`select count(*)::int as n from tickets.inc`);
      assert.equal(count!.n, 0, where);
    }
  });

  test("a stop that comes between two statements sends not one more: the file's merge never starts", async () => {
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(stream.files.slice(0, 1));
    const stop = new AbortController();
    const sent: string[] = [];
    // SIGTERM just after the copied rows were checked, before the merge is sent: nothing runs on
    // the server then, so the cancel stops nothing.
    const stopping = throughQueries(db, async (tx, text, params) => {
      sent.push(text);
      const rows = await tx.query(text, params);
      if (text.startsWith("select count(*)::int as rows_read")) {
        stop.abort(new Error("Interrupted by SIGTERM"));
      }
      return rows;
    });
    const [report] = await ingest(createDirObjectStore(root), stopping, {
      datasets: [INC],
      apply: true,
      signal: stop.signal,
    });
    assert.ok(sent.some((t) => t.startsWith("select count(*)::int as rows_read")), "copied");
    // Before: the merge was sent after the stop and ran to its end (4.4 s for 40,000 tickets on
    // an idle server, past the run's 5 s grace on a busy one).
    assert.deepEqual(sent.filter((t) => t.startsWith("-- merge the stage")), []);
    assert.equal(report!.files[0]!.status, "failed");
    assert.equal(
      report!.error,
      "Interrupted by SIGTERM: the current file was rolled back; rerun to continue",
    );
    assert.deepEqual(await listNames(root, INC.changesPrefix), [stream.files[0]!.name]);
    const [count] = await db.query<{ n: number }>(`select count(*)::int as n from tickets.inc`);
    assert.equal(count!.n, 0);
  });

  test("a stop during the post-apply steps is recorded interrupted, not as a failed step, and the next run does them", async () => {
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(stream.files.slice(0, 2));
    const stop = new AbortController();
    // SIGTERM while the geometry step runs: the cancel stops its statement, as on PostgreSQL.
    const stopping = new Proxy(db, {
      get: (target, name) => {
        if (name === "query") {
          return (text: string, params?: readonly unknown[]) => {
            if (!text.includes("resolve_applied_geometry")) return target.query(text, params);
            stop.abort(new Error("Interrupted by SIGTERM"));
            const cancelled = new Error("canceling statement due to user request");
            return Promise.reject(Object.assign(cancelled, { code: "57014" }));
          };
        }
        const value = Reflect.get(target, name, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const [report] = await ingest(createDirObjectStore(root), stopping, {
      datasets: [INC],
      apply: true,
      signal: stop.signal,
    });
    assert.deepEqual(report!.files.map((f) => f.status), ["applied", "applied"]);
    // Before: errors held "resolve_geometry: canceling statement due to user request", and the
    // run was recorded ok with that as a failed step.
    assert.deepEqual(report!.afterApply!.errors, []);
    assert.deepEqual(report!.afterApply!.interrupted, {
      reason: "Interrupted by SIGTERM",
      left: ["resolve_geometry", "capture_history"],
    });
    const [run] = await db.query<{ status: string; error: string }>(
      `select status, error from tickets.runs order by finished_at desc limit 1`,
    );
    assert.equal(run!.status, "interrupted");
    assert.equal(
      run!.error,
      "Interrupted by SIGTERM during the post-apply steps: the applied files are kept; " +
        "resolve_geometry, capture_history left to the next run",
    );
    const status = await readStatus(db, { datasets: [INC] });
    assert.equal(status.datasets[0]!.health, "failing");
    assert.match(status.datasets[0]!.reasons.join("\n"), /The last run was interrupted/);

    const [next] = await ingest(createDirObjectStore(root), db, { datasets: [INC], apply: true });
    assert.deepEqual(next!.afterApply!.errors, []);
    assert.equal(next!.afterApply!.interrupted, undefined);
    const [marks] = await db.query<{ unplaced: number; uncaptured: number }>(
      `select count(*) filter (where placed_at is null)::int as unplaced,
              count(*) filter (where captured_at is null)::int as uncaptured
       from tickets.applied_files where dataset = 'inc'`,
    );
    assert.deepEqual({ ...marks }, { unplaced: 0, uncaptured: 0 });
    await Deno.remove(root, { recursive: true });
  });

  test("a stop while waiting for another run's lock says so and where the data stands", async () => {
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(stream.files.slice(0, 1));
    await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    // Another run holds the lock for the whole wait.
    const held = new Proxy(db, {
      get: (target, name) => {
        if (name === "tryLock") return () => Promise.resolve(false);
        const value = Reflect.get(target, name, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error("Interrupted by SIGTERM")), 100);
    const report = await drain(createDirObjectStore(root), held, {
      dataset: INC,
      apply: true,
      waitLockMs: 30_000,
      signal: stop.signal,
    });
    assert.equal(report.status, "failed");
    // Before: "Interrupted by SIGTERM: the current file was rolled back; …" and no watermark.
    assert.equal(
      report.error,
      "Interrupted by SIGTERM while waiting for another run's lock: nothing was applied; " +
        "rerun to continue",
    );
    assert.equal(report.watermark, stream.files[0]!.name);
    await Deno.remove(root, { recursive: true });
  });

  test("close the shared database", () => b.close());
}

/**
 * `db`, with each statement its transactions send by `query` going through `query` (which may
 * refuse it, or stop the run); every other method as it is, bound to `db` (its private fields).
 */
function throughQueries(
  db: Database,
  query: (tx: SqlSession, text: string, params?: readonly unknown[]) => Promise<Row[]>,
): Database {
  const transaction = <T>(fn: (tx: SqlSession) => Promise<T>) =>
    db.transaction((tx) =>
      fn({
        query: <R extends Row = Row>(text: string, params?: readonly unknown[]) =>
          query(tx, text, params) as Promise<R[]>,
        exec: (script: string) => tx.exec(script),
        copyRows: (...a: Parameters<SqlSession["copyRows"]>) => tx.copyRows(...a),
        copyCsv: (...a: Parameters<SqlSession["copyCsv"]>) => tx.copyCsv(...a),
      })
    );
  return new Proxy(db, {
    get: (target, name) => {
      if (name === "transaction") return transaction;
      const value = Reflect.get(target, name, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

removeTestDataAtEnd();

const SLOW_PIECE = 64 * 1024;
const SLOW_OPEN_MS = 60;
const SLOW_PIECE_MS = 20;
/** Opens an object after 60 ms, then each 64 KB of it 20 ms after it is asked for. */
const SLOW = { openMs: SLOW_OPEN_MS, pieceMs: SLOW_PIECE_MS, pieceBytes: SLOW_PIECE };
