// `deno task bench`: ingest throughput against an anchor measured in the same run on the same
// PostgreSQL (psql \copy + one INSERT … SELECT … ON CONFLICT), delta latency, no-op run cost,
// peak RSS on a 10× baseline, the baseline into embedded PGlite, and the embedded boot floor
// against `status` (bench/boot_floor.ts). Prints a Markdown report.
//
// Needs BENCH_DATABASE_URL (or TEST_DATABASE_URL): a PostgreSQL 15+ server with PostGIS whose
// user may create databases (scripts/pg_test_cluster.sh starts a throwaway one), and psql.

import { COLUMNS, DROPPED_COLUMNS, generateStream } from "../demo/generate_stream.ts";
import { INC } from "../core/datasets.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { ingest } from "../core/ingest.ts";
import { migrate } from "../core/migrate.ts";
import { createPgliteDatabase } from "../adapters/pglite_database.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import { createScratchDatabase, dropScratchDatabases } from "../tests/_harness.ts";
import { measureBootFloor } from "./boot_floor.ts";
import { measureProcess } from "./_measure_process.ts";
import { runServeBench } from "./serve_bench.ts";

const base = Deno.env.get("BENCH_DATABASE_URL") ?? Deno.env.get("TEST_DATABASE_URL");
if (!base) {
  console.error(
    "Set BENCH_DATABASE_URL to a PostgreSQL + PostGIS server (scripts/pg_test_cluster.sh start DIR PORT prints one)",
  );
  Deno.exit(2);
}
const runs = Number(Deno.env.get("BENCH_RUNS") ?? "3");
const work = ".data/bench";
await Deno.remove(work, { recursive: true }).catch(() => {});
await Deno.mkdir(work, { recursive: true });

// ---- data -------------------------------------------------------------------------------------
const t0 = performance.now();
const stream = generateStream({
  tickets: 20956,
  deltas: 5,
  deltaSize: 520,
  fullEvery: 0,
  seed: 42,
});
const baseline = stream.files[0]!;
const deltas = stream.files.slice(1);
const baselineBytes = new TextEncoder().encode(baseline.text).byteLength;
console.error(
  `generated baseline ${baseline.rows} rows / ${
    (baselineBytes / 1e6).toFixed(1)
  } MB and ${deltas.length} deltas (${deltas.map((d) => d.rows).join(", ")} rows) in ${
    Math.round(performance.now() - t0)
  } ms`,
);

async function bucketWith(files: { name: string; text: string }[], name: string) {
  const root = `${work}/${name}`;
  await Deno.mkdir(`${root}/${INC.changesPrefix}`, { recursive: true });
  for (const f of files) await Deno.writeTextFile(`${root}/${INC.changesPrefix}${f.name}`, f.text);
  return root;
}

async function freshDatabase(): Promise<string> {
  const url = await createScratchDatabase(base!);
  const db = createPostgresDatabase(url);
  await migrate(db);
  await db.close();
  return url;
}

const runIngestCli = (url: string, root: string) =>
  measureProcess(Deno.execPath(), [
    "run",
    "-P=worker",
    "--quiet",
    "main.ts",
    "ingest",
    "--from-dir",
    root,
    "--apply",
    "--json",
  ], { DATABASE_URL: url, FOLDER_SETTLE_SECONDS: "0" }); // the bench writes its files whole

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// ---- (a) our ingest vs (b) the anchor, alternated, on fresh databases -------------------------
const columns = COLUMNS.map((c) => `${c} text`).join(", ");
const kept = COLUMNS.filter((c) => !DROPPED_COLUMNS.includes(c));
const build = kept.map((c) => {
  const v = c === "region"
    ? `lower(nullif(${c}, ''))`
    : c === "raw_status"
    ? `upper(nullif(${c}, ''))`
    : `nullif(${c}, '')`;
  return `'${c}', ${v}`;
}).join(", ");
const baselinePath = `${work}/baseline.csv`;
await Deno.writeTextFile(baselinePath, baseline.text);
const anchorUpsert = `
insert into tickets.inc as t (ticket_id, raw, source_file)
select distinct on (ticket_id) ticket_id, jsonb_build_object(${build}), '${baseline.name}'
from stage
where lower(coalesce(is_alarm, '')) not in ('true', 't', '1', 'yes', 'y')
  and ticket_id not like 'EXPORT STOPPED%' and ticket_id <> ''
order by ticket_id
on conflict (ticket_id) do update set raw = excluded.raw, source_file = excluded.source_file
where t.source_file <= excluded.source_file`;
const anchorSql = `
create temp table stage (${columns});
\\copy stage from '${baselinePath}' with (format csv, header true)
${anchorUpsert};
`;
await Deno.writeTextFile(`${work}/anchor.sql`, anchorSql);

const ours: number[] = [];
let loaded = { url: "", root: "" }; // the last database (a) loaded the baseline into
const oursPeakKb: number[] = [];
const oursDrainOnly: number[] = [];
const afterApplyMs: number[] = [];
const anchor: number[] = [];
for (let i = 0; i < runs; i++) {
  const aUrl = await freshDatabase();
  const aRoot = await bucketWith([baseline], `a${i}`);
  const a = await runIngestCli(aUrl, aRoot);
  loaded = { url: aUrl, root: aRoot };
  ours.push(a.ms);
  oursPeakKb.push(a.peakRssKb);
  // Post-apply steps (geometry resolution, the first history capture of ~19k closures) are
  // work the anchor does not do: report the run with and without them.
  const after = JSON.parse(a.stdout).afterApply?.durationMs ?? 0;
  afterApplyMs.push(after);
  oursDrainOnly.push(a.ms - after);
  const url = await freshDatabase();
  const b = await measureProcess("psql", [
    "-X",
    "-q",
    "-v",
    "ON_ERROR_STOP=1",
    "-f",
    `${work}/anchor.sql`,
    url,
  ]);
  anchor.push(b.ms);
  const db = createPostgresDatabase(url);
  const [n] = await db.query<{ n: number }>(`select count(*)::int as n from tickets.inc`);
  await db.close();
  if (!n || n.n === 0) throw new Error("The anchor loaded nothing");
  console.error(
    `run ${i + 1}: ours ${Math.round(a.ms)} ms, anchor ${Math.round(b.ms)} ms (${n?.n} rows)`,
  );
}

// ---- deltas and the no-op run, on a database holding the baseline -----------------------------
const url = await freshDatabase();
const root = await bucketWith([baseline], "deltas");
await runIngestCli(url, root);
const deltaMs: number[] = [];
for (const delta of deltas) {
  await Deno.writeTextFile(`${root}/${INC.changesPrefix}${delta.name}`, delta.text);
  const r = await runIngestCli(url, root);
  deltaMs.push(JSON.parse(r.stdout).files[0].durationMs);
}
const noop: number[] = [];
for (let i = 0; i < runs; i++) noop.push((await runIngestCli(url, root)).ms);
// The same once the tables the capture reads are vacuumed: what autovacuum leaves within a
// minute of an applying run (migration 008), long before the next run 20 minutes later.
const vacuum = createPostgresDatabase(url);
await vacuum.exec(`vacuum analyze tickets.inc`);
await vacuum.exec(`vacuum analyze tickets.closure_events`);
await vacuum.close();
const noopVacuumed: number[] = [];
for (let i = 0; i < runs; i++) noopVacuumed.push((await runIngestCli(url, root)).ms);

// The same once the history is ten times longer: nine more closed copies of every closed ticket,
// their closures recorded weeks ago (what weeks of runs leave; the open backlog stays as it is).
// A run's capture after the day's first must not read the history (migration 010).
const history = createPostgresDatabase(url);
await history.exec(`
insert into tickets.inc (ticket_id, raw, source_file)
select 'H' || n || '-' || ticket_id, raw, source_file
from tickets.inc, generate_series(1, 9) n
where closed_at is not null and is_actionable is not true;
insert into tickets.closure_events (ticket_id, closed_at, observed_at, source_file)
select ticket_id, closed_at, now() - interval '30 days', source_file
from tickets.inc where ticket_id like 'H%'`);
await history.exec(`vacuum analyze tickets.inc`); // not in a transaction: one statement each
await history.exec(`vacuum analyze tickets.closure_events`);
const [recorded] = await history.query<{ n: number }>(
  `select count(*)::int as n from tickets.closure_events`,
);
await history.close();
const noopHistory: number[] = [];
for (let i = 0; i < runs; i++) noopHistory.push((await runIngestCli(url, root)).ms);

// ---- one run applying all 5 deltas, whole process ------------------------------------------------
const fiveUrl = await freshDatabase();
const fiveRoot = await bucketWith([baseline], "five");
await runIngestCli(fiveUrl, fiveRoot);
for (const delta of deltas) {
  await Deno.writeTextFile(`${fiveRoot}/${INC.changesPrefix}${delta.name}`, delta.text);
}
const five = await runIngestCli(fiveUrl, fiveRoot);
const fiveFiles = JSON.parse(five.stdout).files.length;

// ---- a full re-export onto the baseline (the export re-emits every ticket now and then) ---------
// The same seed with a full file first: its baseline is byte for byte the one above.
const full = generateStream({ tickets: 20956, deltas: 1, deltaSize: 520, fullEvery: 1, seed: 42 })
  .files[1]!;
await Deno.writeTextFile(`${loaded.root}/${INC.changesPrefix}${full.name}`, full.text);
const fullRun = JSON.parse((await runIngestCli(loaded.url, loaded.root)).stdout);
const fullFile = fullRun.files.find((f: { fileName: string }) => f.fileName === full.name);
if (fullFile?.status !== "applied") throw new Error(`The full re-export was not applied`);

// ---- peak RSS on a 10× baseline (314k rows) -----------------------------------------------------
const big = generateStream({ tickets: 209560, deltas: 0, seed: 43 }).files[0]!;
const bigRoot = await bucketWith([big], "big");
const bigRun = await runIngestCli(await freshDatabase(), bigRoot);
const bigReport = JSON.parse(bigRun.stdout);

// ---- the baseline into embedded PGlite: ours vs its own COPY + the same upsert (boot excluded) ---
const bootStart = performance.now();
const pglite = await createPgliteDatabase({ dataDir: `${work}/pglite` });
await pglite.query("select 1");
const pgliteBootMs = performance.now() - bootStart;
await migrate(pglite);
const pgliteAnchor: number[] = [];
const pgliteOurs: number[] = [];
const pgliteDrainOnly: number[] = [];
const baselineBytesArray = new TextEncoder().encode(baseline.text);
async function* baselineChunks() {
  yield baselineBytesArray;
}
const resetPglite = () =>
  pglite.exec(`truncate tickets.inc, tickets.applied_files, tickets.import_meta,
    tickets.closure_events, tickets.inc_daily_snapshot, tickets.runs`);
for (let i = 0; i < Math.min(runs, 3); i++) {
  await resetPglite();
  const a0 = performance.now();
  await pglite.transaction(async (tx) => {
    await tx.query(`create temp table stage (${columns}) on commit drop`);
    await tx.copyCsv("stage", COLUMNS, baselineChunks());
    await tx.query(anchorUpsert);
  });
  pgliteAnchor.push(performance.now() - a0);
  await resetPglite();
  const pgliteRoot = await bucketWith([baseline], `pglite-bucket-${i}`);
  const p0 = performance.now();
  const [pgReport] = await ingest(createDirObjectStore(pgliteRoot), pglite, {
    datasets: [INC],
    apply: true,
  });
  const ms = performance.now() - p0;
  if (pgReport?.status !== "ok") throw new Error(pgReport?.error);
  pgliteOurs.push(ms);
  pgliteDrainOnly.push(ms - (pgReport.afterApply?.durationMs ?? 0));
  console.error(
    `PGlite run ${i + 1}: ours ${Math.round(ms)} ms, anchor ${Math.round(pgliteAnchor.at(-1)!)} ms`,
  );
}
await pglite.close();

// ---- the embedded boot floor vs status, on that same PGlite directory ----------------------------
const bootFloor = await measureBootFloor(`${work}/pglite`, runs);

// ---- report -------------------------------------------------------------------------------------
const ratio = median(ours) / median(anchor);
const drainRatio = median(oursDrainOnly) / median(anchor);
const pgliteRatio = median(pgliteOurs) / median(pgliteAnchor);
const pgliteDrainRatio = median(pgliteDrainOnly) / median(pgliteAnchor);
const rssRatio = bigRun.peakRssKb / median(oursPeakKb);
const fmt = (ms: number) => `${Math.round(ms)} ms`;
const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
const verdict = (ok: boolean) => ok ? "met" : "**missed**";
console.log(`${await serverMemory(base!)}

| measure | result | target |
|---|---|---|
| (a) ingest --apply of the baseline, whole process incl. post-apply steps, median of ${runs} | ${
  fmt(median(ours))
} (${ours.map(fmt).join(", ")}) | |
| (b) anchor: psql \\copy + INSERT … SELECT … ON CONFLICT, median of ${runs} | ${
  fmt(median(anchor))
} (${anchor.map(fmt).join(", ")}) | |
| (a)/(b) | **${ratio.toFixed(2)}** | ≤ 1.15 (${verdict(ratio <= 1.15)}) |
| (a) without its post-apply steps (median ${
  fmt(median(afterApplyMs))
}: geometry resolution + first history capture), / (b) | ${drainRatio.toFixed(2)} (${
  fmt(median(oursDrainOnly))
}) | report |
| (a) minus the no-op run (what any run pays: process start, connection, checks, lock, listing, capture, run record), / (b) | ${
  ((median(ours) - median(noop)) / median(anchor)).toFixed(2)
} (${fmt(median(ours) - median(noop))}) | report |
| each delta, file in its transaction (${deltas.map((d) => d.rows).join("/")} rows) | ${
  deltaMs.map((ms) => `${ms} ms`).join(", ")
} (max ${Math.max(...deltaMs)} ms) | ≤ 80 ms each (${verdict(Math.max(...deltaMs) <= 80)}) |
| one run applying the ${fiveFiles} deltas, whole process | ${fmt(five.ms)} | report |
| a full re-export onto the baseline (${full.rows} rows: ${fullFile.counts.updated} tickets changed, ${fullFile.counts.unchanged} unchanged, ${fullFile.counts.inserted} new), file in its transaction | ${fullFile.durationMs} ms | report |
| no-op run, whole process, median of ${runs}, right after the deltas | ${
  fmt(median(noop))
} | ≤ 0.4 s (${verdict(median(noop) <= 400)}) |
| the same once autovacuum has passed (VACUUM ANALYZE of tickets.inc and closure_events) | ${
  fmt(median(noopVacuumed))
} | ≤ 0.4 s (${verdict(median(noopVacuumed) <= 400)}) |
| the same with ten times the history (${recorded?.n} closures recorded) | ${
  fmt(median(noopHistory))
} | ≤ 0.4 s (${verdict(median(noopHistory) <= 400)}) |
| peak RSS, 1× baseline (${baseline.rows} rows), whole process, median | ${
  mb(median(oursPeakKb))
} | |
| peak RSS, 10× baseline (${big.rows} rows, ${
  (new TextEncoder().encode(big.text).byteLength / 1e6).toFixed(0)
} MB), whole process | ${mb(bigRun.peakRssKb)} = **${rssRatio.toFixed(2)}×** the 1× peak (ingest ${
  fmt(bigRun.ms)
}, ${bigReport.totals.inserted} tickets) | ≤ 1.2× (${verdict(rssRatio <= 1.2)}) |
| PGlite boot (create + first query, PostGIS loaded) | ${fmt(pgliteBootMs)} | report |
| (c) baseline into embedded PGlite via ingest(), in-process, boot excluded, median | ${
  fmt(median(pgliteOurs))
} (${pgliteOurs.map(fmt).join(", ")}) | |
| (d) PGlite anchor: its own COPY … FROM '/dev/blob' + the same upsert, median | ${
  fmt(median(pgliteAnchor))
} (${pgliteAnchor.map(fmt).join(", ")}) | |
| (c)/(d) | **${pgliteRatio.toFixed(2)}** (without post-apply steps ${
  pgliteDrainRatio.toFixed(2)
}) | ≤ 1.3 (${verdict(pgliteRatio <= 1.3)}) |
| baseline rows/s, PostgreSQL (a) | ${Math.round(baseline.rows / (median(ours) / 1000))} | |
${bootFloor}`);

/**
 * The server's memory settings, and whether this machine has huge pages in use (a server on this
 * machine with `huge_pages = try` puts its shared memory there when `vm.nr_hugepages` allows):
 * without them, each new session pays to map the shared buffers it touches, 4 KiB at a time.
 */
async function serverMemory(url: string): Promise<string> {
  const db = createPostgresDatabase(url);
  try {
    const [row] = await db.query<{ buffers: string; huge: string }>(
      `select current_setting('shared_buffers') as buffers, current_setting('huge_pages') as huge`,
    );
    const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
    const field = (name: string) =>
      Number(new RegExp(`${name}:\\s+(\\d+)`).exec(meminfo)?.[1] ?? 0);
    const used = (field("HugePages_Total") - field("HugePages_Free") + field("HugePages_Rsvd")) *
      field("Hugepagesize") / 1024;
    return `PostgreSQL: shared_buffers ${row!.buffers}, huge_pages ${
      row!.huge
    }; huge pages in use on this machine: ${used} MB${
      used > 0 ? " (the server's shared memory)" : " (none: shared memory in 4 KiB pages)"
    }.`;
  } finally {
    await db.close();
  }
}

// ---- the read API (serve) under 32 concurrent clients, against the same SQL called directly -----
console.log(`\n### Read API (serve)\n\n${await runServeBench(base)}`);
await dropScratchDatabases();
await Deno.remove(work, { recursive: true }); // ~580 MB of generated files and databases
