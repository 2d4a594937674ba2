// Shared test harness: databases (embedded PGlite, and real PostgreSQL when TEST_DATABASE_URL is
// set), folder buckets, and expected-state comparison. Private to tests/.

import { COLUMNS } from "../demo/generate_stream.ts";
import { migrate } from "../core/migrate.ts";
import { createPgliteDatabase } from "../adapters/pglite_database.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import type { Database, ObjectStore } from "../core/ports/mod.ts";
import type { DrainReport } from "../core/drain_report.ts";
import postgres from "postgres";
import { migratedSnapshot } from "./_pglite_cache.ts";

/** A database backend the suite runs against. */
export interface Backend {
  name: "pglite" | "postgres";
  /** The shared, migrated database of this test file (opened on first use). */
  db(): Promise<Database>;
  /** Empties every table the drain writes, between tests. */
  reset(): Promise<void>;
  /** A URL for subprocess tests (postgres only). */
  url?: string;
  close(): Promise<void>;
}

async function migratedPglite(): Promise<Database> {
  // Booting PGlite + PostGIS and migrating takes ~12 s: every file starts from one migrated
  // snapshot (built once per schema), and migrate() checks it is this version's.
  const loadDataDir = new Blob([await Deno.readFile(await migratedSnapshot())]);
  const db = await createPgliteDatabase({ loadDataDir });
  await migrate(db);
  return db;
}

/** The scratch databases this test file created (name → the server URL it was made from). */
const scratchDatabases = new Map<string, string>();

/**
 * Creates a fresh database on the TEST_DATABASE_URL server and returns its URL. A test file that
 * calls it (or `backends()`) ends with {@linkcode removeTestDataAtEnd}.
 */
export async function createScratchDatabase(baseUrl: string, options = ""): Promise<string> {
  const name = `ft_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  await admin(baseUrl, (sql) => sql.unsafe(`create database ${name} ${options}`));
  scratchDatabases.set(name, baseUrl);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(baseUrl: string, fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const sql = postgres(baseUrl, { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}

/**
 * Drops every scratch database this test file created, ending the sessions still open on them
 * (a server or worker a test left running); the names of those still there afterwards.
 */
export async function dropScratchDatabases(): Promise<string[]> {
  const left: string[] = [];
  for (const name of [...scratchDatabases.keys()]) {
    if (!await dropScratch(name)) left.push(name);
  }
  return left;
}

/** Drops one scratch database made by {@linkcode createScratchDatabase} (by its URL). */
export async function dropScratchDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  if (!await dropScratch(name)) throw new Error(`Cannot drop the scratch database "${name}"`);
}

async function dropScratch(name: string): Promise<boolean> {
  const baseUrl = scratchDatabases.get(name);
  if (baseUrl === undefined) return true;
  const [row] = await admin(baseUrl, async (sql) => {
    await sql.unsafe(`drop database if exists ${name} with (force)`);
    return await sql`select count(*)::int as n from pg_database where datname = ${name}`;
  });
  if (row?.n !== 0) return false;
  scratchDatabases.delete(name);
  return true;
}

/** Temporary folders this test file made (buckets and the like). */
const tempDirs = new Set<string>();

/** A fresh temporary folder, removed by {@linkcode removeTestDataAtEnd}'s test. */
export async function tempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  tempDirs.add(dir);
  return dir;
}

/**
 * Registers a last test that removes this file's temporary folders and drops its scratch
 * databases, and fails if one is left. Call it after the file's last `Deno.test`.
 */
export function removeTestDataAtEnd(): void {
  Deno.test({
    name: "the temporary folders and scratch databases this file made are removed",
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      for (const dir of tempDirs) {
        await Deno.remove(dir, { recursive: true }).catch((error) => {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
        });
        tempDirs.delete(dir);
      }
      const left = await dropScratchDatabases();
      if (left.length > 0) throw new Error(`Cannot drop scratch databases ${left.join(", ")}`);
    },
  });
}

const TABLES = [
  "tickets.inc",
  "tickets.crq",
  "tickets.applied_files",
  "tickets.quarantine",
  "tickets.import_meta",
  "tickets.closure_events",
  "tickets.inc_daily_snapshot",
  "tickets.runs",
  "tickets.geo_clusters",
  "tickets.geo_locations",
];

function backend(name: Backend["name"], open: () => Promise<Database>, url?: string): Backend {
  let db: Promise<Database> | undefined;
  return {
    name,
    url,
    db: () => db ??= open(),
    async reset() {
      const d = await (db ??= open());
      await d.exec(`truncate ${TABLES.join(", ")}`);
    },
    async close() {
      if (db) await (await db).close();
    },
  };
}

/** The backends to run against: PGlite always, PostgreSQL when TEST_DATABASE_URL is set. */
export function backends(): Backend[] {
  const list = [backend("pglite", migratedPglite)];
  const base = Deno.env.get("TEST_DATABASE_URL");
  if (base) {
    let url: string | undefined;
    const b = backend("postgres", async () => {
      url = await createScratchDatabase(base);
      const db = createPostgresDatabase(url);
      await migrate(db);
      b.url = url;
      return db;
    });
    list.push(b);
  }
  return list;
}

/** Writes files into a temporary folder bucket under a dataset's changes prefix. */
export async function makeDirBucket(
  files: readonly { name: string; text: string | Uint8Array }[],
  prefix = "automations/inc/changes/",
): Promise<string> {
  const root = await tempDir("fleettickets-bucket-");
  await writeFiles(root, files, prefix);
  return root;
}

/** Adds files to a folder bucket. */
export async function writeFiles(
  root: string,
  files: readonly { name: string; text: string | Uint8Array }[],
  prefix = "automations/inc/changes/",
): Promise<void> {
  await Deno.mkdir(`${root}/${prefix}`, { recursive: true });
  for (const file of files) {
    const path = `${root}/${prefix}${file.name}`;
    if (typeof file.text === "string") await Deno.writeTextFile(path, file.text);
    else await Deno.writeFile(path, file.text);
  }
}

/** Lists file names in a folder bucket's prefix (sorted). */
export async function listNames(root: string, prefix: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(`${root}/${prefix}`)) if (e.isFile) names.push(e.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

/** Reads every row's raw record of a table, by ticket id. */
export async function readRaw(
  db: Database,
  table = "tickets.inc",
): Promise<Map<string, Record<string, unknown>>> {
  const rows = await db.query<{ ticket_id: string; raw: Record<string, unknown> }>(
    `select ticket_id, raw from ${table}`,
  );
  return new Map(rows.map((r) => [r.ticket_id, r.raw]));
}

/** Compares the table with the expected state; returns human-readable differences (max 10). */
export async function diffState(
  db: Database,
  expected: Map<string, Record<string, string | null>>,
  table = "tickets.inc",
): Promise<string[]> {
  const actual = await readRaw(db, table);
  const diffs: string[] = [];
  for (const [id, want] of expected) {
    const got = actual.get(id);
    if (got === undefined) diffs.push(`${id}: missing`);
    else if (JSON.stringify(sortKeys(got)) !== JSON.stringify(sortKeys(want))) {
      diffs.push(
        `${id}: got ${JSON.stringify(sortKeys(got))}, want ${JSON.stringify(sortKeys(want))}`,
      );
    }
  }
  for (const id of actual.keys()) if (!expected.has(id)) diffs.push(`${id}: unexpected`);
  return diffs.slice(0, 10);
}

function sortKeys(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a < b ? -1 : 1));
}

/**
 * Everything a drain writes that a user can see: ticket rows, quarantine entries and ledger
 * counts, in a stable order (to compare two drains of the same stream).
 */
export async function drainedState(db: Database, table = "tickets.inc"): Promise<unknown[][]> {
  return [
    await db.query(`select ticket_id, raw, source_file from ${table} order by ticket_id`),
    await db.query(
      `select dataset, file_name, key, line, reason, record from tickets.quarantine
       order by dataset, file_name, line`,
    ),
    await db.query(
      `select dataset, file_name, key, etag, rows_read, inserted, updated, unchanged,
              older_skipped, alarms_dropped, sentinels_dropped, duplicates, quarantined
       from tickets.applied_files order by dataset, file_name`,
    ),
  ];
}

/** How a {@linkcode slowStore} paces a body. */
export interface SlowPace {
  /** Wait before an object opens, ms. */
  openMs?: number;
  /** Wait before each piece, ms: a piece is read only when the reader asks for it. */
  pieceMs: number;
  /** Bytes a piece (default 64 KB). */
  pieceBytes?: number;
}

/** `store`, whose objects open after `openMs` and whose bodies come a piece at a time. */
export function slowStore(store: ObjectStore, pace: SlowPace): ObjectStore {
  const { openMs = 0, pieceMs, pieceBytes = 64 * 1024 } = pace;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  return {
    description: store.description,
    list: (prefix) => store.list(prefix),
    move: (from, to, options) => store.move(from, to, options),
    async read(key) {
      await sleep(openMs);
      const reader = (await store.read(key)).getReader();
      let rest: Uint8Array = new Uint8Array(0);
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          await sleep(pieceMs);
          while (rest.byteLength === 0) {
            const next = await reader.read();
            if (next.done) return controller.close();
            rest = next.value;
          }
          controller.enqueue(rest.slice(0, pieceBytes));
          rest = rest.subarray(pieceBytes);
        },
        cancel: (reason) => reader.cancel(reason),
      }, { highWaterMark: 0 });
    },
  };
}

/** Wraps a store so that chosen operations fail, to simulate crashes and faults. */
export function faultyStore(
  store: ObjectStore,
  faults: {
    failMove?: (from: string) => boolean;
    failReadAfterBytes?: (key: string) => number | undefined;
  },
): ObjectStore {
  return {
    description: store.description,
    list: (prefix) => store.list(prefix),
    async read(key) {
      const limit = faults.failReadAfterBytes?.(key);
      const body = await store.read(key);
      if (limit === undefined) return body;
      let seen = 0;
      return body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            seen += chunk.byteLength;
            if (seen > limit) {
              controller.error(new Error(`Simulated connection reset reading "${key}"`));
              return;
            }
            controller.enqueue(chunk);
          },
        }),
      );
    },
    async move(from, to) {
      if (faults.failMove?.(from)) throw new Error(`Simulated crash before archiving "${from}"`);
      await store.move(from, to);
    },
  };
}

/** Test options for tests sharing a database across tests of a file. */
export const shared = { sanitizeResources: false, sanitizeOps: false } as const;

/** All 32 export columns of an open Westlands INC ticket (the rest empty), then `overrides`. */
export function openTicket(
  id: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    ...Object.fromEntries(COLUMNS.map((c) => [c, ""])),
    ticket_id: id,
    service_type: "inc",
    raw_status: "In Progress",
    normalized_status: "in_progress",
    bucket: "pending",
    is_actionable: "true",
    is_alarm: "false",
    cluster: "Westlands",
    region: "Nairobi",
    location_name: "NW_WESTLANDS_SARIT_FDT12",
    ...overrides,
  };
}

/** The ledger row the drain writes for an INC file `file` (a release's drain, by hand). */
export function recordLedgerRow(db: Database, file: string) {
  return db.query(
    `insert into tickets.applied_files (dataset, file_name, key, etag, rows_read, inserted,
       updated, unchanged, older_skipped, alarms_dropped, sentinels_dropped, duplicates,
       quarantined)
     values ('inc', $1, $2, 'e', 1, 1, 0, 0, 0, 0, 0, 0, 0)`,
    [file, `automations/inc/changes/${file}`],
  );
}

/** An INC run's report as `recordRun` takes it, ended ok with `applied` files (a run, by hand). */
export function okRunReport(applied: number): DrainReport {
  return {
    mode: "apply",
    dataset: "inc",
    status: "ok",
    reseed: false,
    source: "dir:bucket",
    files: Array.from({ length: applied }, () => ({ status: "applied" })),
    totals: {},
  } as unknown as DrainReport;
}

/**
 * `promise`, or a failure naming `what` once `ms` passed: a test of a wait that must end (before its
 * fix, a wait for ever) fails instead of hanging the suite.
 */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still waited after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A session of another client on `url` (a psql, a stuck run), named `applicationName` as
 * pg_stat_activity shows it; the test ends it.
 */
export function anotherSession(url: string, applicationName: string): postgres.Sql {
  return postgres(url, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: applicationName },
  });
}
