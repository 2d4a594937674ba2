// A change file re-uploaded under the same name while it is being applied (issue 11, item 3):
// the run applies the version it read, archives only that version, and leaves the new one in
// changes/ for the next run (a same-name, new-ETag file), which applies it. Folder and S3.
// Either way the report says which earlier version the new one replaces.

import assert from "node:assert/strict";
import { DeleteObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { COLUMNS, generateStream, renderCsv } from "../demo/generate_stream.ts";
import { INC } from "../core/datasets.ts";
import { drain, type DrainReport } from "../core/drain.ts";
import { eatIso } from "../core/eat_time.ts";
import { formatDrainReport } from "../cli/format_report.ts";
import { createLogger } from "../cli/logger.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { createS3ObjectStore } from "../adapters/s3_object_store.ts";
import type { Database, ObjectStore } from "../core/ports/mod.ts";
import {
  backends,
  listNames,
  makeDirBucket,
  openTicket,
  readRaw,
  removeTestDataAtEnd,
  shared,
  writeFiles,
} from "./_harness.ts";
import { createS3Client, startS3TestServer } from "./_s3_test_server.ts";

const stream = generateStream({ tickets: 80, deltas: 0, seed: 31 });
const file = stream.files[0]!;
const key = INC.changesPrefix + file.name;
const replacement = renderCsv(COLUMNS, [openTicket("WOT_REUPLOADED")]);

/** A store whose object is replaced (by `replace`) right after the run opened it for reading. */
function replacedWhileRead(store: ObjectStore, replace: () => Promise<void>): ObjectStore {
  let done = false;
  return {
    description: store.description,
    list: (prefix) => store.list(prefix),
    async read(k, options) {
      const body = await store.read(k, options);
      if (k === key && !done) {
        done = true;
        await replace();
      }
      return body;
    },
    move: (from, to, options) => store.move(from, to, options),
  };
}

/** A store whose object is replaced (by `replace`) after the listing, before the run reads it. */
function replacedBeforeRead(store: ObjectStore, replace: () => Promise<void>): ObjectStore {
  let done = false;
  return {
    description: store.description,
    list: (prefix) => store.list(prefix),
    async read(k, options) {
      if (k === key && !done) {
        done = true;
        await replace();
      }
      return await store.read(k, options);
    },
    move: (from, to, options) => store.move(from, to, options),
  };
}

/** The file with one word changed: a new version of the same size (its size cannot tell). */
const sameSize = file.text.replaceAll("Westlands", "Westlandz");

/**
 * A file replaced between the listing and the read, by a version of the same size: not applied
 * under the listed version's ETag (before: the new rows went in, recorded as the version listed,
 * and the next run applied the file again as a replacement of that one).
 */
async function checkReplacedBeforeRead(
  db: Database,
  store: ObjectStore,
  replaced: ObjectStore,
): Promise<void> {
  assert.equal(
    new TextEncoder().encode(sameSize).length,
    new TextEncoder().encode(file.text).length,
  );
  const first = await drain(replaced, db, { dataset: INC, apply: true });
  assert.equal(first.status, "failed");
  assert.equal(first.transient, true, "the next run applies the new version");
  assert.match(
    first.error ?? "",
    /it changed after it was listed \(replaced, or still being written; ETag "[0-9a-f]+" listed\)/,
  );
  assert.equal((await readRaw(db)).size, 0, "nothing of either version applied");
  const second = await drain(store, db, { dataset: INC, apply: true });
  assert.equal(second.status, "ok", second.error);
  const [ledger] = await db.query<{ etag: string }>(
    "select etag from tickets.applied_files where dataset = $1 and file_name = $2",
    [INC.name, file.name],
  );
  assert.equal(ledger?.etag, second.files[0]!.etag);
  assert.notEqual(ledger?.etag, first.files[0]?.etag ?? "", "the version read is recorded");
  const [westlands] = await db.query<{ n: number }>(
    "select count(*)::int as n from tickets.inc where cluster = 'Westlandz'",
  );
  assert.ok(westlands!.n > 0, "the new version's rows");
}

/** A file removed between the listing and the read: said so, transient, nothing applied. */
async function checkRemovedBeforeRead(db: Database, removed: ObjectStore): Promise<void> {
  const report = await drain(removed, db, { dataset: INC, apply: true });
  assert.equal(report.status, "failed");
  assert.equal(report.transient, true);
  // Before (S3): "NoSuchKey (HTTP 404): The specified key does not exist."
  assert.match(
    report.error ?? "",
    new RegExp(
      `Cannot read "${key}": it was removed after it was listed; the next run lists again`,
    ),
  );
  assert.equal((await readRaw(db)).size, 0);
}

/** When the ledger says the file was applied, in EAT. */
async function appliedAt(db: Database): Promise<string> {
  const [row] = await db.query<{ applied_at: Date }>(
    "select applied_at from tickets.applied_files where dataset = $1 and file_name = $2",
    [INC.name, file.name],
  );
  return eatIso(new Date(row!.applied_at));
}

/** The text report's line for the file and its JSON `file` log line, as a run would print them. */
function reportLines(report: DrainReport): { text: string; logged: Record<string, unknown> } {
  const lines: string[] = [];
  const logger = createLogger({ format: "json", write: (text) => lines.push(text) });
  logger.progress({ type: "file_end", dataset: INC.name, file: report.files[0]! });
  const text = formatDrainReport(report).split("\n").find((l) => l.includes(file.name)) ?? "";
  return { text, logged: JSON.parse(lines[0]!) };
}

/** Checks that the report names the version applied earlier, in JSON, log line and text. */
function assertReplaces(
  report: DrainReport,
  earlier: { etag: string; appliedAt: string },
  verb: string,
): void {
  assert.deepEqual(report.files[0]?.replaces, earlier);
  const { text, logged } = reportLines(report);
  assert.deepEqual(logged.replaces, earlier);
  assert.ok(
    text.includes(
      `(${verb} the version applied ${earlier.appliedAt}, ETag ${earlier.etag.slice(0, 8)}…)`,
    ),
    text,
  );
  assert.match(earlier.appliedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+03:00$/);
}

async function checkTwoRuns(
  db: Database,
  store: ObjectStore,
  replaced: ObjectStore,
  archived: () => Promise<boolean>,
): Promise<void> {
  const first = await drain(replaced, db, { dataset: INC, apply: true });
  assert.equal(first.status, "ok", first.error);
  assert.equal(first.files[0]?.status, "applied");
  assert.match(first.files[0]?.notArchived ?? "", /replaced while it was being applied/);
  assert.equal(first.files[0]?.replaces, undefined, "a file new to the ledger replaces nothing");
  assert.doesNotMatch(reportLines(first).text, /replace/);
  // The cron log says it too, as a warning.
  const { logged } = reportLines(first);
  assert.equal(logged.notArchived, first.files[0]?.notArchived);
  assert.equal(logged.level, "warn");
  const after = await readRaw(db);
  assert.equal(after.size, stream.expected.size, "the version read was applied");
  assert.ok(!after.has("WOT_REUPLOADED"));
  assert.equal(await archived(), false, "the new version was not archived in place of the old");

  const earlier = { etag: first.files[0]!.etag, appliedAt: await appliedAt(db) };
  const plan = await drain(store, db, { dataset: INC });
  assertReplaces(plan, earlier, "would replace");
  const second = await drain(store, db, { dataset: INC, apply: true });
  assert.equal(second.status, "ok", second.error);
  assert.equal(second.files[0]?.action, "apply", "a same-name, new-ETag file is applied");
  assert.equal(second.files[0]?.status, "applied");
  assertReplaces(second, earlier, "replaces");
  assert.ok((await readRaw(db)).has("WOT_REUPLOADED"), "the re-uploaded rows were applied");
  assert.equal(await archived(), true);
}

for (const b of backends()) {
  Deno.test({
    name:
      `[${b.name}] a folder file rewritten while applied stays in changes/ and is applied next run`,
    ...shared,
    fn: async () => {
      await b.reset();
      const db = await b.db();
      const root = await makeDirBucket([file]);
      const store = createDirObjectStore(root);
      // As an uploader replaces a file: a new file renamed over the old name.
      const replaced = replacedWhileRead(store, async () => {
        await Deno.writeTextFile(`${root}/upload.tmp`, replacement);
        await Deno.rename(`${root}/upload.tmp`, `${root}/${key}`);
      });
      await checkTwoRuns(
        db,
        store,
        replaced,
        async () => (await listNames(root, INC.processedPrefix)).includes(file.name),
      );
      await Deno.remove(root, { recursive: true });
    },
  });
  Deno.test({
    name:
      `[${b.name}] a file re-sent after it was archived is applied, says what it replaces, and processed/ keeps only the new version`,
    ...shared,
    fn: async () => {
      await b.reset();
      const db = await b.db();
      const root = await makeDirBucket([file]);
      const store = createDirObjectStore(root);
      const first = await drain(store, db, { dataset: INC, apply: true });
      assert.equal(first.files[0]?.status, "applied", first.error);
      assert.equal(first.files[0]?.replaces, undefined);
      const earlier = { etag: first.files[0]!.etag, appliedAt: await appliedAt(db) };

      // The exporter sends the same name again with new content.
      await writeFiles(root, [{ name: file.name, text: replacement }]);
      const second = await drain(store, db, { dataset: INC, apply: true });
      assert.equal(second.status, "ok", second.error);
      assert.equal(second.files[0]?.status, "applied");
      assert.notEqual(second.files[0]?.etag, earlier.etag);
      assertReplaces(second, earlier, "replaces");
      const archived = await Deno.readTextFile(`${root}/${INC.processedPrefix}${file.name}`);
      assert.equal(archived, replacement, "processed/ holds the newer version only");

      // Once applied, the same version again is only archived and replaces nothing.
      await writeFiles(root, [{ name: file.name, text: replacement }]);
      const third = await drain(store, db, { dataset: INC, apply: true });
      assert.equal(third.files[0]?.status, "archived");
      assert.equal(third.files[0]?.replaces, undefined);
      await Deno.remove(root, { recursive: true });
    },
  });
  Deno.test({
    name:
      `[${b.name}] a folder file replaced by one of the same size after the listing is not applied under the listed ETag`,
    ...shared,
    fn: async () => {
      await b.reset();
      const db = await b.db();
      const root = await makeDirBucket([file]);
      const store = createDirObjectStore(root);
      const replaced = replacedBeforeRead(store, async () => {
        await Deno.writeTextFile(`${root}/upload.tmp`, sameSize);
        await Deno.rename(`${root}/upload.tmp`, `${root}/${key}`);
      });
      await checkReplacedBeforeRead(db, store, replaced);
      await Deno.remove(root, { recursive: true });
    },
  });
  Deno.test({
    name:
      `[${b.name}] a folder file removed after the listing fails the run as transient, saying so`,
    ...shared,
    fn: async () => {
      await b.reset();
      const db = await b.db();
      const root = await makeDirBucket([file]);
      const store = createDirObjectStore(root);
      await checkRemovedBeforeRead(
        db,
        replacedBeforeRead(store, () => Deno.remove(`${root}/${key}`)),
      );
      await Deno.remove(root, { recursive: true });
    },
  });
  Deno.test({ name: `[${b.name}] close the shared database`, ...shared, fn: () => b.close() });
}

Deno.test({
  name: "[s3] an object re-uploaded while applied stays in changes/ and is applied next run",
  ...shared,
  fn: async () => {
    const server = await startS3TestServer();
    const b = backends()[0]!;
    const client = createS3Client(server);
    try {
      const put = (Body: string) =>
        client.send(new PutObjectCommand({ Bucket: server.bucket, Key: key, Body }));
      await put(file.text);
      await b.reset();
      const db = await b.db();
      const store = createS3ObjectStore({ ...server, endpoint: server.endpoint });
      const replaced = replacedWhileRead(store, async () => void await put(replacement));
      const processed = INC.processedPrefix + file.name;
      await checkTwoRuns(db, store, replaced, async () => {
        const keys = (await store.list("automations/inc/")).map((o) => o.key);
        return keys.includes(processed);
      });
    } finally {
      client.destroy();
      await b.close();
      await server.close();
    }
  },
});

Deno.test({
  name:
    "[s3] an object replaced by one of the same size after the listing is not applied under the listed ETag",
  ...shared,
  fn: async () => {
    const server = await startS3TestServer();
    const b = backends()[0]!;
    const client = createS3Client(server);
    try {
      const put = (Body: string) =>
        client.send(new PutObjectCommand({ Bucket: server.bucket, Key: key, Body }));
      await put(file.text);
      await b.reset();
      const db = await b.db();
      const store = createS3ObjectStore({ ...server, endpoint: server.endpoint });
      const replaced = replacedBeforeRead(store, async () => void await put(sameSize));
      await checkReplacedBeforeRead(db, store, replaced);
      // Removed after the listing: said so (before: "NoSuchKey (HTTP 404)").
      await put(file.text);
      await b.reset();
      const removed = replacedBeforeRead(
        store,
        async () =>
          void await client.send(new DeleteObjectCommand({ Bucket: server.bucket, Key: key })),
      );
      await checkRemovedBeforeRead(await b.db(), removed);
    } finally {
      client.destroy();
      await b.close();
      await server.close();
    }
  },
});

removeTestDataAtEnd();
