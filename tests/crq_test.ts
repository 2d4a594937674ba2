// CRQ through the same engine: a mixed bucket holding both streams lands each in its own table,
// with its own watermark, ledger rows and archive prefix.

import assert from "node:assert/strict";
import { COLUMNS, generateStream, renderCsv } from "../demo/generate_stream.ts";
import { CRQ, INC } from "../core/datasets.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { drain } from "../core/drain.ts";
import { startServer } from "../serve/server.ts";
import {
  backends,
  diffState,
  listNames,
  openTicket,
  removeTestDataAtEnd,
  shared,
  tempDir,
  writeFiles,
} from "./_harness.ts";

const inc = generateStream({ dataset: "inc", tickets: 150, deltas: 4, seed: 31 });
const crq = generateStream({ dataset: "crq", tickets: 80, deltas: 3, seed: 32 });

for (const b of backends()) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${b.name}] ${name}`, ...shared, fn });

  test("drain() keeps INC and CRQ apart in a mixed bucket: tables, watermarks, ledger, archive", async () => {
    await b.reset();
    const db = await b.db();
    const root = await tempDir("fleettickets-mixed-");
    await writeFiles(root, inc.files, INC.changesPrefix);
    await writeFiles(root, crq.files, CRQ.changesPrefix);
    const store = createDirObjectStore(root);

    const crqReport = await drain(store, db, { dataset: CRQ, apply: true });
    assert.equal(crqReport.status, "ok", crqReport.error);
    assert.deepEqual(crqReport.files.map((f) => f.fileName), crq.files.map((f) => f.name));
    assert.deepEqual(await listNames(root, INC.changesPrefix), inc.files.map((f) => f.name));
    const incReport = await drain(store, db, { dataset: INC, apply: true });
    assert.equal(incReport.status, "ok", incReport.error);

    assert.deepEqual(await diffState(db, inc.expected, "tickets.inc"), []);
    assert.deepEqual(await diffState(db, crq.expected, "tickets.crq"), []);
    assert.deepEqual(await listNames(root, CRQ.processedPrefix), crq.files.map((f) => f.name));
    assert.deepEqual(await listNames(root, INC.processedPrefix), inc.files.map((f) => f.name));
    const meta = await db.query<{ dataset: string; watermark: string; files_applied: number }>(
      `select dataset, watermark, files_applied::int from tickets.import_meta order by dataset`,
    );
    assert.deepEqual(meta, [
      { dataset: "crq", watermark: crq.files.at(-1)!.name, files_applied: crq.files.length },
      { dataset: "inc", watermark: inc.files.at(-1)!.name, files_applied: inc.files.length },
    ]);
    const [typed] = await db.query<{ n: number }>(
      `select count(*)::int as n from tickets.crq where region <> lower(region) or mttr is distinct from
         tickets.hours_to_minutes(raw ->> 'mttr')`,
    );
    assert.equal(typed?.n, 0, "CRQ has the same typed generated columns");
  });

  test("drain() of one dataset is not blocked by a broken file in the other", async () => {
    await b.reset();
    const db = await b.db();
    const root = await tempDir("fleettickets-mixed-");
    await writeFiles(
      root,
      [{ name: "2026-06-15T05-00-00.csv", text: 'id\n"CRQ1"\n' }],
      CRQ.changesPrefix,
    );
    await writeFiles(root, inc.files, INC.changesPrefix);
    const store = createDirObjectStore(root);
    const reports = [];
    for (const dataset of [INC, CRQ]) {
      reports.push(await drain(store, db, { dataset, apply: true }));
    }
    assert.deepEqual(reports.map((r) => r.status), ["ok", "failed"]);
    assert.deepEqual(await diffState(db, inc.expected, "tickets.inc"), []);
  });

  test("serve: an id in both datasets is the INC ticket, and ?dataset=crq the CRQ one", async () => {
    await b.reset();
    const db = await b.db();
    const root = await tempDir("fleettickets-twins-");
    const row = (dataset: string, owner: string) =>
      openTicket("TWIN1", { service_type: dataset, owner });
    await writeFiles(root, [{
      name: "2026-06-15T05-00-00.csv",
      text: renderCsv(COLUMNS, [row("inc", "inc-owner"), openTicket("INC_ONLY")]),
    }], INC.changesPrefix);
    await writeFiles(root, [{
      name: "2026-06-15T05-00-00.csv",
      text: renderCsv(COLUMNS, [row("crq", "crq-owner")]),
    }], CRQ.changesPrefix);
    const store = createDirObjectStore(root);
    for (const dataset of [INC, CRQ]) {
      const report = await drain(store, db, {
        dataset: { ...dataset, afterApply: [] },
        apply: true,
      });
      assert.equal(report.status, "ok", report.error);
    }
    const server = await startServer({
      db,
      settings: { corsOrigins: [], statementTimeoutMs: 5000, staleAfterHours: 2 },
      webRoot: "./.data/serve-test-no-web/",
      now: () => new Date("2026-06-15T12:00:00+03:00"),
      log: () => {},
      redact: (text) => text,
      host: "127.0.0.1",
      port: 0,
    });
    try {
      const get = (path: string) => fetch(`http://127.0.0.1:${server.port}${path}`);
      const owner = async (path: string) => {
        const response = await get(path);
        assert.equal(response.status, 200, path);
        const { properties } = await response.json();
        return `${properties.dataset} ${properties.owner}`;
      };
      assert.equal(await owner("/api/tickets/TWIN1"), "inc inc-owner");
      assert.equal(await owner("/api/tickets/TWIN1?dataset=inc"), "inc inc-owner");
      assert.equal(await owner("/api/tickets/TWIN1?dataset=crq"), "crq crq-owner");
      const missing = await get("/api/tickets/INC_ONLY?dataset=crq");
      assert.equal(missing.status, 404);
      assert.match((await missing.json()).detail, /No ticket "INC_ONLY" in CRQ/);
      const bad = await get("/api/tickets/TWIN1?dataset=all");
      assert.equal(bad.status, 400);
      assert.match((await bad.json()).detail, /dataset/);
    } finally {
      await server.shutdown();
    }
  });

  test("close the shared database", () => b.close());
}

removeTestDataAtEnd();
