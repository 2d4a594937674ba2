// Hand-written edge cases of the spec's cleaning rules, applied end to end through drain() and
// read back from the database (raw + typed generated columns + quarantine).

import assert from "node:assert/strict";
import { COLUMNS } from "../demo/generate_stream.ts";
import { INC } from "../core/datasets.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { drain } from "../core/drain.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import {
  backends,
  makeDirBucket,
  openTicket,
  removeTestDataAtEnd,
  shared,
  writeFiles,
} from "./_harness.ts";

/** A row with every column filled plausibly; override what a case needs. */
function row(id: string, overrides: Record<string, string> = {}): Record<string, string> {
  return openTicket(id, {
    owner: "Jane Wanjiru",
    sla_status: "Compliant",
    created_at_service: "2026-06-13 08:15:00",
    first_seen_at: "2026-06-13 08:20:00",
    updated_at: "2026-06-15 16:55:00",
    week_start: "2026-06-08",
    department: "Field Ops",
    source_s3_key: "exports/x.xlsx",
    ...overrides,
  });
}

function csv(header: readonly string[], rows: readonly Record<string, string>[], eol = "\r\n") {
  const q = (v: string) => `"${v.replaceAll('"', '""')}"`;
  return [header.map(q).join(","), ...rows.map((r) => header.map((c) => q(r[c] ?? "")).join(","))]
    .join(eol) + eol;
}

for (const b of backends()) {
  const test = (name: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${b.name}] ${name}`, ...shared, fn });

  const ingest = async (files: { name: string; text: string | Uint8Array }[]) => {
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket(files);
    const report = await drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
    return { db, report };
  };

  test("drain() cleans rows as the spec says: alarms, sentinel anywhere, dropped columns, case", async () => {
    const text = "\uFEFF" + csv(COLUMNS, [
      row("WOT0000001"),
      row("EXPORT STOPPED DUE TO EXCESSIVE SIZE - 50000 ROW LIMIT"),
      row("WOT0000002", { is_alarm: "TRUE", is_actionable: "false" }),
      row("WOT0000003", { is_alarm: "1" }),
      row("WOT0000004", { is_alarm: "False", region: "MOMBASA", raw_status: "resolved" }),
    ]);
    const { db, report } = await ingest([{ name: "2026-06-15T17-00-00.csv", text }]);
    assert.equal(report.status, "ok", report.error);
    assert.equal(report.totals.alarmsDropped, 2);
    assert.equal(report.totals.sentinelsDropped, 1);
    const rows = await db.query<{ ticket_id: string; raw: Record<string, unknown> }>(
      `select ticket_id, raw from tickets.inc order by ticket_id`,
    );
    assert.deepEqual(rows.map((r) => r.ticket_id), ["WOT0000001", "WOT0000004"]);
    const raw = rows[1]!.raw;
    assert.equal(raw.region, "mombasa");
    assert.equal(raw.raw_status, "RESOLVED");
    assert.equal(raw.service_type, "inc");
    assert.equal(raw.bucket, "pending");
    for (
      const dropped of ["week_start", "week_end", "department", "source_type", "source_s3_key"]
    ) {
      assert.ok(!(dropped in raw), `${dropped} is dropped`);
    }
    assert.equal(raw.assigned_team, null, "empty values are null");
  });

  test("drain() finds columns by header name, keeps unknown columns, and parses quoted CSV", async () => {
    const header = [...COLUMNS].reverse().concat("escalation_level");
    const text = csv(header, [
      row("WOT0000010", {
        location_name: 'ADR_MNT_Sarit Centre, "Block B"\nGround floor SDUS',
        escalation_level: "2",
      }),
    ], "\n");
    const { db, report } = await ingest([{ name: "2026-06-15T17-00-00.csv", text }]);
    assert.equal(report.status, "ok", report.error);
    const [r] = await db.query<Record<string, unknown>>(
      `select location_name, cluster, raw ->> 'escalation_level' as escalation from tickets.inc`,
    );
    assert.equal(r?.location_name, 'ADR_MNT_Sarit Centre, "Block B"\nGround floor SDUS');
    assert.equal(r?.cluster, "Westlands");
    assert.equal(r?.escalation, "2");
  });

  test("drain() keeps the last row of a ticket repeated in one file", async () => {
    const text = csv(COLUMNS, [
      row("WOT0000020", { normalized_status: "open" }),
      row("WOT0000021"),
      row("WOT0000020", { normalized_status: "closed", is_actionable: "false" }),
    ]);
    const { db, report } = await ingest([{ name: "2026-06-15T17-00-00.csv", text }]);
    assert.equal(report.totals.duplicates, 1);
    assert.equal(report.totals.inserted, 2);
    const [r] = await db.query<Record<string, unknown>>(
      `select normalized_status, is_actionable from tickets.inc where ticket_id = 'WOT0000020'`,
    );
    assert.deepEqual(r, { normalized_status: "closed", is_actionable: false });
  });

  test("drain() reads bad values as NULL in typed columns and keeps the text in raw", async () => {
    const text = csv(COLUMNS, [
      row("WOT0000030", { created_at_service: "N/A", closed_at: "31/06/2026", mttr: "n/a" }),
      row("WOT0000031", { created_at_service: "2026-06-31 10:00:00", mttr: "26.75" }),
      row("WOT0000032", { is_actionable: "maybe", scheduled_at: "2026-06-15T09:30" }),
      row("WOT0000033", { mttr: "1e30", latitude: "NaN", longitude: "Infinity" }),
    ]);
    const { db, report } = await ingest([{ name: "2026-06-15T17-00-00.csv", text }]);
    assert.equal(report.status, "ok", report.error);
    const rows = await db.query<Record<string, unknown>>(
      `select ticket_id, created_at_service, closed_at, mttr, is_actionable, scheduled_at,
              raw ->> 'created_at_service' as cas_text, raw ->> 'mttr' as mttr_text
       from tickets.inc order by ticket_id`,
    );
    assert.equal(rows[0]!.created_at_service, null);
    assert.equal(rows[0]!.closed_at, null);
    assert.equal(rows[0]!.mttr, null);
    assert.equal(rows[0]!.cas_text, "N/A");
    assert.equal(rows[0]!.mttr_text, "n/a");
    assert.equal(rows[1]!.created_at_service, null, "June has 30 days");
    assert.equal(rows[1]!.mttr, 1605, "26.75 hours is 1605 minutes");
    assert.equal(rows[2]!.is_actionable, null);
    assert.equal((rows[2]!.scheduled_at as Date).toISOString(), "2026-06-15T06:30:00.000Z");
    const [huge] = await db.query<Record<string, unknown>>(
      `select mttr, latitude, longitude from tickets.inc where ticket_id = 'WOT0000033'`,
    );
    assert.deepEqual(huge, { mttr: null, latitude: null, longitude: null });
  });

  test("drain() quarantines rows that cannot be tickets with line and reason, and loads the rest", async () => {
    const good = csv(COLUMNS, [row("WOT0000040"), row(""), row("WOT0000042")]);
    const ragged = good + `"WOT0000043","inc","OPEN"\r\n` + csv(COLUMNS, [row("WOT0000044")])
      .split("\r\n").slice(1).join("\r\n");
    const { db, report } = await ingest([{ name: "2026-06-15T17-00-00.csv", text: ragged }]);
    assert.equal(report.status, "ok", report.error);
    assert.equal(report.totals.quarantined, 2);
    const ids = await db.query<{ ticket_id: string }>(
      `select ticket_id from tickets.inc order by 1`,
    );
    assert.deepEqual(ids.map((r) => r.ticket_id), ["WOT0000040", "WOT0000042", "WOT0000044"]);
    const q = await db.query<Record<string, unknown>>(
      `select key, line, reason from tickets.quarantine order by line`,
    );
    assert.deepEqual(q, [
      {
        key: "automations/inc/changes/2026-06-15T17-00-00.csv",
        line: 3,
        reason: "has an empty ticket_id",
      },
      {
        key: "automations/inc/changes/2026-06-15T17-00-00.csv",
        line: 5,
        reason: "has 3 fields, header has 32",
      },
    ]);
  });

  test("drain() survives invalid UTF-8 and NUL bytes without losing the row", async () => {
    const text = csv(COLUMNS, [row("WOT0000050", { owner: "JOSÉ\u0000X" })]);
    const bytes = new TextEncoder().encode(text);
    const at = bytes.indexOf(0xc3); // É's first byte -> a lone continuation byte
    bytes[at] = 0xff;
    const { db, report } = await ingest([{ name: "2026-06-15T17-00-00.csv", text: bytes }]);
    assert.equal(report.status, "ok", report.error);
    const [r] = await db.query<{ owner: string }>(`select owner from tickets.inc`);
    assert.match(r!.owner, /^JOS\uFFFD.*X$/);
  });

  test("drain() fails a file without a ticket_id column, naming the file and line", async () => {
    const text = csv(COLUMNS.filter((c) => c !== "ticket_id"), [row("WOT0000060")]);
    const { report } = await ingest([{ name: "2026-06-15T17-00-00.csv", text }]);
    assert.equal(report.status, "failed");
    assert.equal(report.transient, false);
    assert.equal(
      report.error,
      'Cannot apply change file "automations/inc/changes/2026-06-15T17-00-00.csv": line 1 has no "ticket_id" column in its header',
    );
  });

  test("tickets.eat_ts() reads EAT wall clock, ISO forms and offsets, and never raises", async () => {
    const db = await b.db();
    await db.exec(`set time zone 'America/New_York'`); // the result must not depend on it
    const cases: [string, string | null][] = [
      ["2026-06-15 17:00:00", "2026-06-15T14:00:00.000Z"],
      ["2026-06-15 17:00", "2026-06-15T14:00:00.000Z"],
      ["2026-06-15T17:00:00.123", "2026-06-15T14:00:00.123Z"],
      ["2026-06-15T17:00:00Z", "2026-06-15T17:00:00.000Z"],
      ["2026-06-15 17:00:00+00:00", "2026-06-15T17:00:00.000Z"],
      ["2026-06-15T17:00:00-0130", "2026-06-15T18:30:00.000Z"],
      ["2024-02-29 00:00:00", "2024-02-28T21:00:00.000Z"],
      ["2026-02-29 00:00:00", null],
      ["31/06/2026", null],
      ["N/A", null],
      ["", null],
      ["2026-06-15 24:00:00", "2026-06-15T21:00:00.000Z"], // ISO 8601 end of day
      ["2026-06-15 25:00:00", null],
      ["2026-06-15", "2026-06-14T21:00:00.000Z"],
      ["15-06-2026 17:00", null],
      ["06/15/2026 17:00", null],
      ["2026-06-15 17:00:00 garbage", null],
      ["epoch", null],
      ["2026-13-01 10:00:00", null],
      ["0000-01-01 00:00:00", null],
      ["2026-06-15 17:00:00+99:00", null],
    ];
    for (const [text, want] of cases) {
      const [r] = await db.query<{ t: Date | null }>(`select tickets.eat_ts($1) as t`, [text]);
      assert.equal(r?.t === null ? null : r!.t!.toISOString(), want, `eat_ts('${text}')`);
    }
    await db.exec(`reset time zone`);
  });

  test("tickets.eat_ts() and tickets.num() work in a query PostgreSQL would run in parallel", async () => {
    const db = await b.db();
    await b.reset();
    const rows = Array.from(
      { length: 200 },
      (_, i) =>
        row(`WOT${String(i).padStart(7, "0")}`, { closed_at: "2026-06-15 10:00:00", mttr: "2.5" }),
    );
    const { report } = await ingest([{
      name: "2026-06-15T17-00-00.csv",
      text: csv(COLUMNS, rows),
    }]);
    assert.equal(report.status, "ok", report.error);
    // Zero-cost parallelism: PostgreSQL plans a parallel scan for any table (PGlite has no
    // workers and plans none). Before 007 this failed with "cannot start subtransactions
    // during a parallel operation".
    const [r] = await db.transaction(async (tx) => {
      await tx.query(`select set_config('parallel_setup_cost', '0', true),
                             set_config('parallel_tuple_cost', '0', true),
                             set_config('min_parallel_table_scan_size', '0', true),
                             set_config('max_parallel_workers_per_gather', '2', true)`);
      return await tx.query<{ closed: number; mttr: number }>(
        `select count(tickets.eat_ts(raw ->> 'closed_at'))::int as closed,
                count(tickets.num(raw ->> 'mttr'))::int as mttr
         from tickets.inc`,
      );
    });
    assert.equal(r?.closed, 200);
    assert.equal(r?.mttr, 200);
  });

  test("a re-sent unchanged ticket records the newer file and keeps its time; a late file leaves both alone", async () => {
    // The merge updates rows it holds and inserts only new ones: an unchanged ticket rewrites
    // only source_file, a changed one gets new typed columns, and neither moves backwards.
    const open = row("WOT0000050");
    const first = csv(COLUMNS, [open, row("WOT0000051")]);
    const resent = csv(COLUMNS, [
      open,
      row("WOT0000051", {
        raw_status: "Closed",
        normalized_status: "closed",
        bucket: "closed",
        closed_at: "2026-06-15 06:30:00",
      }),
      row("WOT0000052"),
    ]);
    const late = csv(COLUMNS, [
      row("WOT0000050", { raw_status: "Assigned", normalized_status: "assigned" }),
      row("WOT0000051"),
    ]);
    await b.reset();
    const db = await b.db();
    const root = await makeDirBucket([
      { name: "2026-06-15T06-00-00.csv", text: first },
      { name: "2026-06-15T06-40-00.csv", text: resent },
    ]);
    const store = createDirObjectStore(root);
    const applied = await drain(store, db, { dataset: INC, apply: true });
    assert.equal(applied.status, "ok", applied.error);
    const counts = applied.files[1]!.counts!;
    assert.deepEqual([counts.inserted, counts.updated, counts.unchanged], [1, 1, 1]);
    const state = () =>
      db.query<Record<string, unknown>>(
        `select ticket_id, source_file, normalized_status, closed_at, ingested_at::text as at
         from tickets.inc order by ticket_id`,
      );
    const after = await state();
    const [unchanged, changed, added] = after;
    assert.equal(unchanged?.source_file, "2026-06-15T06-40-00.csv");
    assert.notEqual(unchanged?.at, changed?.at, "the unchanged ticket keeps its first time");
    assert.equal(changed?.at, added?.at);
    assert.equal(changed?.normalized_status, "closed");
    assert.equal(
      (changed?.closed_at as Date).toISOString(),
      "2026-06-15T03:30:00.000Z",
      "typed columns follow the new record",
    );

    await writeFiles(root, [{ name: "2026-06-15T06-20-00.csv", text: late }]);
    const second = await drain(store, db, { dataset: INC, apply: true });
    assert.equal(second.status, "ok", second.error);
    assert.equal(second.totals.olderSkipped, 2);
    assert.deepEqual(await state(), after);
    await Deno.remove(root, { recursive: true });
  });

  for (const parser of ["auto", "javascript"] as const) {
    test(`a first load into an empty table gives the rows and counts of a merge into one that holds tickets (${parser} parser)`, async () => {
      // A table without rows takes a plain insert (no upsert's speculative insertion); the file's
      // tickets, their typed columns and the counts must be those of the merge.
      const text = csv(COLUMNS, [
        row("WOT0000080", { normalized_status: "open" }),
        row("WOT0000081", { is_alarm: "TRUE" }),
        row("EXPORT STOPPED DUE TO EXCESSIVE SIZE - 50000 ROW LIMIT"),
        row("WOT0000082", { closed_at: "2026-06-15 10:00:00", normalized_status: "closed" }),
        row("WOT0000080", { normalized_status: "assigned", mttr: "2.5" }),
      ]);
      const tickets = (db: Awaited<ReturnType<typeof b.db>>) =>
        db.query<Record<string, unknown>>(
          `select ticket_id, raw, source_file, normalized_status, closed_at, mttr
           from tickets.inc where ticket_id like 'WOT000008%' order by ticket_id`,
        );
      const file = { name: "2026-06-15T17-00-00.csv", text };
      const runs = [];
      for (
        const before of [[], [{
          name: "2026-06-15T16-40-00.csv",
          text: csv(COLUMNS, [row("WOT0000090")]),
        }]]
      ) {
        await b.reset();
        const db = await b.db();
        const root = await makeDirBucket([...before, file]);
        const report = await drain(createDirObjectStore(root), db, {
          dataset: INC,
          apply: true,
          parser,
        });
        assert.equal(report.status, "ok", report.error);
        runs.push({ counts: report.files.at(-1)!.counts!, rows: await tickets(db) });
        await Deno.remove(root, { recursive: true });
      }
      assert.deepEqual(runs[0], runs[1]);
      assert.deepEqual(
        [runs[0]!.counts.inserted, runs[0]!.counts.duplicates, runs[0]!.counts.alarmsDropped],
        [2, 1, 1],
      );
      assert.deepEqual(runs[0]!.rows.map((r) => [r.ticket_id, r.normalized_status, r.mttr]), [
        ["WOT0000080", "assigned", 150],
        ["WOT0000082", "closed", null],
      ]);
    });

    test(`a file whose header lacks columns keeps its tickets' stored values of them (${parser} parser)`, async () => {
      await b.reset();
      const db = await b.db();
      const closed = {
        normalized_status: "closed",
        is_actionable: "false",
        closed_at: "2026-06-15 10:00:00",
        mttr: "5.5",
      };
      const root = await makeDirBucket([{
        name: "2026-06-15T17-00-00.csv",
        text: csv(COLUMNS, [row("WOT0000070", closed), row("WOT0000071")]),
      }]);
      await drain(createDirObjectStore(root), db, { dataset: INC, apply: true, parser });
      // The exporter drops closed_at and owner: the closed ticket changes its status only.
      const header = COLUMNS.filter((c) => c !== "closed_at" && c !== "owner");
      await writeFiles(root, [{
        name: "2026-06-15T17-20-00.csv",
        text: csv(header, [
          row("WOT0000070", { ...closed, raw_status: "Closed-Verified" }),
          row("WOT0000071"), // as it was
          row("WOT0000072"), // new
        ]),
      }]);
      const report = await drain(createDirObjectStore(root), db, {
        dataset: INC,
        apply: true,
        parser,
      });
      assert.equal(report.status, "ok", report.error);
      assert.deepEqual(report.files[0]!.missingColumns, ["owner", "closed_at"]);
      assert.deepEqual(
        [report.totals.inserted, report.totals.updated, report.totals.unchanged],
        [1, 1, 1],
      );
      const rows = await db.query<Record<string, unknown>>(
        `select ticket_id, raw_status, owner, closed_at, mttr from tickets.inc order by ticket_id`,
      );
      // Before: closed_at and owner emptied for every ticket of the file.
      assert.deepEqual(rows.map((r) => [r.ticket_id, r.raw_status, r.owner, r.mttr]), [
        ["WOT0000070", "CLOSED-VERIFIED", "Jane Wanjiru", 330],
        ["WOT0000071", "IN PROGRESS", "Jane Wanjiru", null],
        ["WOT0000072", "IN PROGRESS", null, null],
      ]);
      assert.equal((rows[0]!.closed_at as Date).toISOString(), "2026-06-15T07:00:00.000Z");
      assert.equal(rows[2]!.closed_at, null, "a new ticket has no value to keep");
    });
  }

  if (b.name === "postgres") {
    test("a ticket another session inserts during a first load is merged, not a failed file", async () => {
      // The first load's plain insert has no `on conflict`: it keeps other writers out and looks
      // again once they are done.
      await b.reset();
      const db = await b.db();
      const other = createPostgresDatabase(b.url!);
      const root = await makeDirBucket([{
        name: "2026-06-15T17-00-00.csv",
        text: csv(COLUMNS, [row("WOT0000085"), row("WOT0000086"), row("WOT0000085")]),
      }]);
      try {
        let applying: ReturnType<typeof drain> | undefined;
        await other.transaction(async (tx) => {
          await tx.query(
            `insert into tickets.inc (ticket_id, raw, source_file)
             values ('WOT0000085', '{"ticket_id": "WOT0000085"}', '2026-06-15T16-00-00.csv')`,
          );
          applying = drain(createDirObjectStore(root), db, { dataset: INC, apply: true });
          for (let waited = 0; waited < 10_000; waited += 20) {
            const [held] = await tx.query<{ n: number }>(
              `select count(*)::int as n from pg_stat_activity
               where datname = current_database() and wait_event_type = 'Lock'`,
            );
            if (held!.n > 0) return; // the file waits for this transaction: commit it
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          throw new Error("The file never waited for the other session's insert");
        });
        const report = await applying!;
        assert.equal(report.status, "ok", report.error);
        const counts = report.files[0]!.counts!;
        assert.deepEqual([counts.inserted, counts.updated, counts.duplicates], [1, 1, 1]);
        const rows = await db.query<{ ticket_id: string; source_file: string }>(
          `select ticket_id, source_file from tickets.inc order by ticket_id`,
        );
        assert.deepEqual(rows.map((r) => [r.ticket_id, r.source_file]), [
          ["WOT0000085", "2026-06-15T17-00-00.csv"],
          ["WOT0000086", "2026-06-15T17-00-00.csv"],
        ]);
      } finally {
        await other.close();
        await Deno.remove(root, { recursive: true });
      }
    });
  }

  test("close the shared database", () => b.close());
}

removeTestDataAtEnd();
