/**
 * `demo`: generates a realistic change stream into a local bucket folder, drains it into a fresh
 * embedded database, and prints what landed. Runs on a fresh machine with no configuration.
 *
 * @module
 */

import { generateStream } from "../demo/generate_stream.ts";
import { CRQ, INC } from "../core/datasets.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { ingest, type IngestReport } from "../core/ingest.ts";
import type { Database } from "../core/ports/mod.ts";
import { formatDrainReport } from "./format_report.ts";
import { migrate } from "../core/migrate.ts";
import { createPgliteDatabase, lockedBy } from "../adapters/pglite_database.ts";
import { buildReport, formatReport } from "../core/run_report.ts";
import { importDemoGazetteer } from "../demo/import_demo_gazetteer.ts";
import { incompleteMarker } from "../app/open_database.ts";

/** Options for {@linkcode runDemo}. */
export interface RunDemoOptions {
  /** Output. */
  out: (text: string) => void;
  /** Working folder (default `.data/demo`); wiped first. */
  dir?: string;
}

/**
 * Removes the last demo, unless a process (a `serve` of the demo's data, a run) holds its
 * database: removing it under that process would break it.
 */
async function wipe(dir: string): Promise<void> {
  const held = await lockedBy(`${dir}/pglite`);
  if (held !== undefined) {
    // Named as every other command names it (before: "a serve of the demo, or a run").
    const { holder } = held;
    const who = holder === undefined
      ? "another process holds its database (a serve of the demo, or a run); stop it first"
      : `${holder.command === "serve" ? 'a running "serve"' : `a "${holder.command}"`} ` +
        `(process ${holder.pid}) holds its database; stop it first (kill ${holder.pid})`;
    throw new Error(`Cannot rebuild the demo in "${dir}": ${who}`);
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/** What a command says of a demo's database whose demo did not finish. */
const STOPPED =
  `"deno task demo" stopped before it finished building it; run "deno task demo" again`;

/** Runs the demo; returns the exit code. */
export async function runDemo(options: RunDemoOptions): Promise<number> {
  const { out, dir = ".data/demo" } = options;
  await wipe(dir);
  // Until the last step, every command refuses this database and says to rebuild it: a demo
  // stopped half-way (Ctrl-C during the first boot) leaves a database without its schema.
  const marker = incompleteMarker(`${dir}/pglite`);
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(marker, `${STOPPED}\n`);
  const bucket = `${dir}/bucket`;
  const { inc, crq } = await writeStreams(bucket);
  out(
    `Generated ${inc.files.length} INC and ${crq.files.length} CRQ change files ` +
      `(baseline + deltas) in ${bucket}; opening embedded PostgreSQL (PGlite + PostGIS) in ` +
      `${dir}/pglite …`,
  );

  const started = performance.now();
  const db = await createPgliteDatabase({ dataDir: `${dir}/pglite` });
  try {
    await migrate(db);
    out(`Database ready in ${Math.round(performance.now() - started)} ms\n`);
    const reports = await drainDemo(db, bucket, out);
    await printIncTables(db, out, inc.expected.size);
    await printCrqAndFiles(db, out, crq.expected.size);
    await printReport(db, out);
    await Deno.remove(marker); // before the lock is let go: a waiting reader never sees it
    return reports.some((r) => r.status === "failed") ? 1 : 0;
  } finally {
    await db.close();
  }
}

/** Generates the INC and CRQ change streams into the bucket folder's `changes/` folders. */
async function writeStreams(bucket: string) {
  const inc = generateStream({ dataset: "inc", tickets: 2000, deltas: 8 });
  const crq = generateStream({ dataset: "crq", tickets: 600, deltas: 4, seed: 2 });
  for (const [dataset, files] of [[INC, inc.files], [CRQ, crq.files]] as const) {
    const changes = `${bucket}/${dataset.changesPrefix}`;
    await Deno.mkdir(changes, { recursive: true });
    for (const file of files) await Deno.writeTextFile(changes + file.name, file.text);
  }
  return { inc, crq };
}

/** Drains the bucket twice (the second run finds nothing new), then places tickets on the map. */
async function drainDemo(
  db: Database,
  bucket: string,
  out: (text: string) => void,
): Promise<IngestReport[]> {
  const store = createDirObjectStore(bucket);
  // The same use case as `ingest --apply --dataset all`: drain, post-apply steps, run record.
  const reports = await ingest(store, db, { datasets: [INC, CRQ], apply: true });
  for (const report of reports) out(formatDrainReport(report));
  const [again] = await ingest(store, db, { datasets: [INC], apply: true });
  out(`\nSecond run (exactly once): ${again?.files.length} files, ${again?.durationMs} ms\n`);
  const placed = await importDemoGazetteer(db);
  out(
    `Placed ${placed.resolved} tickets on the map with the bundled DEMO gazetteer ` +
      `(${
        placed.added + placed.changed
      } approximate points, verified = false; a real deployment geocodes)\n`,
  );
  return reports;
}

/** What landed in `tickets.inc`: the totals, by status, and open tickets by cluster. */
async function printIncTables(db: Database, out: (text: string) => void, expected: number) {
  const [summary] = await db.query<{ total: number; open: number; closed: number }>(
    `select count(*)::int as total,
            count(*) filter (where is_actionable)::int as open,
            count(*) filter (where not is_actionable)::int as closed
     from tickets.inc`,
  );
  out(
    `tickets.inc: ${summary?.total} tickets, ${summary?.open} open, ${summary?.closed} closed ` +
      `(expected ${expected} from the generator's model)`,
  );
  out("\nBy status:");
  for (
    const row of await db.query<{ normalized_status: string; n: number }>(
      `select coalesce(normalized_status, '(none)') as normalized_status, count(*)::int as n
       from tickets.inc group by 1 order by 2 desc`,
    )
  ) out(`  ${row.normalized_status.padEnd(14)} ${String(row.n).padStart(6)}`);
  out("\nOpen tickets by cluster:");
  for (
    const row of await db.query<{ cluster: string; region: string; n: number }>(
      `select coalesce(cluster, '(none)') as cluster, coalesce(region, '') as region,
              count(*)::int as n
       from tickets.inc where is_actionable group by 1, 2 order by 3 desc, 1 limit 12`,
    )
  ) out(`  ${row.cluster.padEnd(16)} ${row.region.padEnd(9)} ${String(row.n).padStart(5)}`);
}

/** What landed in `tickets.crq`, and the files applied per dataset. */
async function printCrqAndFiles(db: Database, out: (text: string) => void, expected: number) {
  const [crqCount] = await db.query<{ total: number; open: number }>(
    `select count(*)::int as total, count(*) filter (where is_actionable)::int as open
     from tickets.crq`,
  );
  out(
    `\ntickets.crq: ${crqCount?.total} installation requests, ${crqCount?.open} open ` +
      `(expected ${expected})`,
  );
  out("\nFiles applied per dataset:");
  for (
    const row of await db.query<{ dataset: string; n: number; watermark: string }>(
      `select dataset, files_applied::int as n, watermark from tickets.import_meta order by 1`,
    )
  ) out(`  ${row.dataset}: ${row.n} files, watermark ${row.watermark}`);
}

/** The SLA report of the demo's data. */
async function printReport(db: Database, out: (text: string) => void) {
  // The generated content is from June 2026: read the SLA picture as of the last file. The
  // run's history capture is dated today (the page's backlog chart shows it): say so.
  const asOf = new Date(Date.parse("2026-06-15T09:00:00+03:00"));
  out(
    "\nThe report below reads the demo as of its feed's time, 2026-06-15 09:00 EAT; the " +
      "history capture of the run above is dated today, the one point of the page's backlog chart.",
  );
  out("\n" + formatReport(await buildReport(db, { now: asOf })));
}
