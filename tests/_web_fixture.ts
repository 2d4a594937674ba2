// The map page's fixture: a generated INC + CRQ stream ingested day by day into a database
// (with a history capture at the end of each day, so the backlog trend has several days),
// placed with the demo gazetteer. Private to tests/.
//
// The export's content trails its file clock by ~2 days, so as of any file's time nearly every
// open ticket is breached. The page tests want every SLA state on the map, so the fixture's
// file names are moved back to the content clock (an export without lag): as of `now` (the
// newest file + 20 min) the open tickets spread over breached, at risk, ok and unknown.

import { COLUMNS, generateStream } from "../demo/generate_stream.ts";
import { importDemoGazetteer } from "../demo/import_demo_gazetteer.ts";
import { CRQ, INC } from "../core/datasets.ts";
import { ingest } from "../core/ingest.ts";
import { capture } from "../core/capture.ts";
import { parseChangeFileName } from "../core/change_key.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import type { Database } from "../core/ports/mod.ts";
import { openTicket, writeFiles } from "./_harness.ts";

const DAY_MS = 86_400_000;
const EAT_MS = 3 * 3_600_000;

/** The stamp of an instant, as the export names its files (EAT wall clock). */
export function stampOf(instant: Date): string {
  return new Date(instant.getTime() + EAT_MS).toISOString().slice(0, 19).replaceAll(":", "-");
}

function shifted(name: string, ms: number): string {
  return `${stampOf(new Date(parseChangeFileName(name)!.getTime() + ms))}.csv`;
}

/** A change file named for `at` holding `rows` (32 columns, quoted, CRLF). */
function csvFile(at: Date, rows: Record<string, string>[]): { name: string; text: string } {
  const lines = [COLUMNS.join(",")];
  for (const row of rows) lines.push(COLUMNS.map((c) => `"${row[c] ?? ""}"`).join(","));
  return { name: `${stampOf(at)}.csv`, text: lines.join("\r\n") + "\r\n" };
}

/** What the fixture loaded. */
export interface WebFixture {
  /** The folder bucket (later change files go here). */
  bucket: string;
  /** The instant the server answers as of. */
  now: Date;
  /** Open INC tickets loaded. */
  openInc: number;
}

/** Loads the fixture into a migrated, empty database. */
export async function loadWebFixture(db: Database): Promise<WebFixture> {
  const start = "2026-06-12T06-00-00";
  const incFiles = generateStream({
    dataset: "inc",
    tickets: 1500,
    deltas: 14,
    intervalMinutes: 240,
    start,
  }).files.map((f) => ({ ...f, name: shifted(f.name, -2 * DAY_MS) }));
  const crq = generateStream({
    dataset: "crq",
    tickets: 300,
    deltas: 3,
    seed: 2,
    intervalMinutes: 720,
    start,
  });
  const crqFiles = crq.files.map((f) => ({ ...f, name: shifted(f.name, -2 * DAY_MS) }));
  await Deno.mkdir(".data", { recursive: true }); // a fresh clone has none yet
  const bucket = await Deno.makeTempDir({ dir: ".data", prefix: "web-fixture-" });
  const store = createDirObjectStore(bucket);
  const days = [...new Set(incFiles.map((f) => f.name.slice(0, 10)))].sort();
  let last = new Date(0);
  for (const day of days) {
    const todays = (files: typeof incFiles) => files.filter((f) => f.name.startsWith(day));
    await writeFiles(bucket, todays(incFiles), INC.changesPrefix);
    await writeFiles(bucket, todays(crqFiles), CRQ.changesPrefix);
    await ingest(store, db, { datasets: [INC, CRQ], apply: true });
    const newest = todays(incFiles).at(-1)!.name;
    last = new Date(parseChangeFileName(newest)!.getTime() + 20 * 60_000);
    await capture(db, { now: last });
  }
  // A few open tickets with no SLA clock at all (state "unknown"), as the feed sometimes has.
  const clockless = ["Kasarani", "Nyali", "Ntinda"].map((cluster, i) =>
    openTicket(`WOT0999${900 + i}`, {
      cluster,
      region: cluster === "Ntinda" ? "Kampala" : cluster === "Nyali" ? "Mombasa" : "Nairobi",
      location_name: `${cluster} House No. ${i + 1}`,
      assigned_team: "",
    })
  );
  await writeFiles(
    bucket,
    [csvFile(new Date(last.getTime() - 10 * 60_000), clockless)],
    INC.changesPrefix,
  );
  await ingest(store, db, { datasets: [INC], apply: true });
  await capture(db, { now: last });
  await importDemoGazetteer(db);
  const [row] = await db.query<{ n: number }>(
    `select count(*)::int as n from tickets.inc where is_actionable`,
  );
  return { bucket, now: last, openInc: row?.n ?? 0 };
}

/** Writes and ingests one more change file with one new open Westlands ticket. */
export async function addTicket(
  db: Database,
  fixture: WebFixture,
  id: string,
): Promise<void> {
  const at = new Date(fixture.now.getTime() - 5 * 60_000);
  const created = new Date(fixture.now.getTime() - 30 * 60_000 + EAT_MS).toISOString()
    .slice(0, 19).replace("T", " ");
  const row = openTicket(id, { created_at_service: created, first_seen_at: created });
  await writeFiles(fixture.bucket, [csvFile(at, [row])], INC.changesPrefix);
  await ingest(createDirObjectStore(fixture.bucket), db, { datasets: [INC], apply: true });
}

/** Writes and ingests a CRQ change file with no row, exported 5 min before `now`: CRQ is fresh. */
export async function freshenCrq(db: Database, fixture: WebFixture): Promise<void> {
  const at = new Date(fixture.now.getTime() - 5 * 60_000);
  await writeFiles(fixture.bucket, [csvFile(at, [])], CRQ.changesPrefix);
  await ingest(createDirObjectStore(fixture.bucket), db, { datasets: [CRQ], apply: true });
}
