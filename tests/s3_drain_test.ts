// drain() against a real S3-protocol server: s3rver in a Node child process by default, or any
// endpoint in TEST_S3_ENDPOINT (MinIO, rustfs). Covers listing pages past 1000 keys.

import assert from "node:assert/strict";
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { generateStream } from "../demo/generate_stream.ts";
import { CRQ, INC } from "../core/datasets.ts";
import { drain } from "../core/drain.ts";
import { createS3ObjectStore } from "../adapters/s3_object_store.ts";
import { backends, diffState, removeTestDataAtEnd, shared } from "./_harness.ts";
import { startS3FaultProxy } from "./_s3_fault_proxy.ts";
import { createS3Client, startS3TestServer } from "./_s3_test_server.ts";

const stream = generateStream({ tickets: 200, deltas: 5, seed: 21 });

Deno.test({
  name:
    "[s3] drain() finds change files past the first listing page, applies them oldest first, archives them, and never touches other keys",
  ...shared,
  fn: async () => {
    const server = await startS3TestServer();
    const b = backends()[0]!;
    try {
      const client = createS3Client(server);
      const put = (Key: string, Body: string) =>
        client.send(new PutObjectCommand({ Bucket: server.bucket, Key, Body }));
      // 1,000 keys that sort before the change files ('.' < '2'), so every change file is on
      // page two, plus keys that look like change files but are not.
      const noise = Array.from(
        { length: 1000 },
        (_, i) => `${INC.changesPrefix}.upload-${String(i).padStart(4, "0")}.tmp`,
      );
      const impostors = [
        `${INC.changesPrefix}2026-06-15T17-00-00.csv.tmp`,
        `${INC.changesPrefix}2026-02-30T10-00-00.csv`,
        `${INC.changesPrefix}old/2026-06-15T05-00-00.csv`,
        "automations/inc/2026-06-15T05-00-00.csv",
      ];
      for (let i = 0; i < noise.length; i += 50) {
        await Promise.all(noise.slice(i, i + 50).map((key) => put(key, "x")));
      }
      for (const key of impostors) await put(key, "not a change file");
      for (const file of stream.files) await put(INC.changesPrefix + file.name, file.text);

      const store = createS3ObjectStore({ ...server, endpoint: server.endpoint });
      const db = await b.db();
      await b.reset();
      const report = await drain(store, db, { dataset: INC, apply: true });
      assert.equal(report.status, "ok", report.error);
      assert.deepEqual(report.files.map((f) => f.fileName), stream.files.map((f) => f.name));
      assert.equal(report.ignoredKeys.length, noise.length + impostors.length - 1);
      assert.deepEqual(await diffState(db, stream.expected), []);

      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: server.bucket, ContinuationToken: token }),
        );
        keys.push(...(page.Contents ?? []).map((o) => o.Key!));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      const processed = keys.filter((k) => k.startsWith(INC.processedPrefix)).sort();
      assert.deepEqual(processed, stream.files.map((f) => INC.processedPrefix + f.name));
      for (const key of [...noise, ...impostors]) assert.ok(keys.includes(key), `${key} untouched`);
      assert.ok(!keys.some((k) => stream.files.some((f) => k === INC.changesPrefix + f.name)));

      const again = await drain(store, db, { dataset: INC, apply: true });
      assert.deepEqual(again.files, [], "a second run finds nothing to do");
      client.destroy();
    } finally {
      await b.close();
      await server.close();
    }
  },
});

Deno.test({
  name: "[s3] drain() says where the bucket holds CSV files when the prefix holds none and the " +
    "dataset never applied one; a run with files, the no-op run and archived files look no further",
  ...shared,
  fn: async () => {
    const server = await startS3TestServer();
    const proxy = startS3FaultProxy(server.endpoint); // here only to count the requests
    const b = backends()[0]!;
    const client = createS3Client(server);
    try {
      const put = (Key: string, Body: string) =>
        client.send(new PutObjectCommand({ Bucket: server.bucket, Key, Body }));
      const store = createS3ObjectStore({ ...server, endpoint: proxy.endpoint });
      const db = await b.db();
      await b.reset();
      // Listings of the whole bucket (no prefix): the one look elsewhere.
      const looks = () =>
        proxy.events.filter((e) =>
          e.type === "request" && e.request.op === "list" &&
          !new URL(e.request.target, "http://x").searchParams.has("prefix")
        ).length;

      for (const file of stream.files) await put(`inc/changes/${file.name}`, file.text);
      await put(`${CRQ.changesPrefix}2026-06-15T05-00-00.csv`, "ticket_id\n");
      const misplaced = await drain(store, db, { dataset: INC });
      assert.equal(misplaced.status, "ok", misplaced.error);
      assert.deepEqual(misplaced.files, []);
      assert.deepEqual(misplaced.csvElsewhere, ["inc/changes/"]);
      assert.equal(looks(), 1);

      for (const file of stream.files) await put(INC.changesPrefix + file.name, file.text);
      const applied = await drain(store, db, { dataset: INC, apply: true });
      assert.equal(applied.status, "ok", applied.error);
      assert.equal(applied.files.length, stream.files.length);
      const noOp = await drain(store, db, { dataset: INC, apply: true });
      assert.deepEqual(noOp.files, []);
      assert.equal(applied.csvElsewhere ?? noOp.csvElsewhere, undefined);
      assert.equal(looks(), 1, "no look on a run with files, nor on the no-op run");

      // A new database over a bucket whose files are all archived: the prefix is right.
      await b.reset();
      const archived = await drain(store, db, { dataset: INC });
      assert.deepEqual(archived.files, []);
      assert.equal(archived.csvElsewhere, undefined);
    } finally {
      client.destroy();
      await proxy.close();
      await b.close();
      await server.close();
    }
  },
});

removeTestDataAtEnd();
