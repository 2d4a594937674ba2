// The chaos harness's shared environment: one s3rver (behind the fault proxy) and one migrated
// template database for the whole invocation, a fresh bucket and a fresh database per trial,
// the worker as a real child process, and the checks against the generator's expected state.
// Private to tests/chaos.ts.

import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import postgres from "postgres";
import type { GeneratedFile } from "../demo/generate_stream.ts";
import { INC } from "../core/datasets.ts";
import { migrate } from "../core/migrate.ts";
import { RUN_SESSION_ALIVE } from "../core/record_run.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import { createScratchDatabase, readRaw } from "./_harness.ts";
import { type S3FaultProxy, startS3FaultProxy } from "./_s3_fault_proxy.ts";
import { createS3Client, type S3TestServer, startS3TestServer } from "./_s3_test_server.ts";

/** The repository root: the worker runs from here, as `deno task ingest` does. */
export const REPO_ROOT: string = new URL("..", import.meta.url).pathname;

/** What every worker of this harness runs. */
export const WORKER_ARGS: readonly string[] = [
  "run",
  "-P=worker",
  "--quiet",
  "main.ts",
  "ingest",
  "--from-bucket",
  "--apply",
  "--json",
];

/** `application_name` of the worker's PostgreSQL sessions (lib/postgres_database.ts). */
const WORKER_APPLICATION = "fleettickets";

/** A seeded pseudo-random source (mulberry32), so a seed reproduces a plan. */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number;
  /** One element (the array must not be empty). */
  pick<T>(items: readonly T[]): T;
  /** A shuffled copy. */
  shuffle<T>(items: readonly T[]): T[];
}

/** Creates a {@linkcode Random} from a 32-bit seed. */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  function next(): number {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  function int(min: number, max: number): number {
    return min + Math.floor(next() * (max - min + 1));
  }
  return {
    next,
    int,
    pick: (items) => items[int(0, items.length - 1)]!,
    shuffle(items) {
      const copy = [...items];
      for (let i = copy.length - 1; i > 0; i--) {
        const j = int(0, i);
        [copy[i], copy[j]] = [copy[j]!, copy[i]!];
      }
      return copy;
    },
  };
}

/** The long-lived parts of one harness invocation. */
export interface ChaosEnv {
  server: S3TestServer;
  proxy: S3FaultProxy;
  /** Direct to s3rver (never through the proxy): the harness's own uploads and checks. */
  s3: S3Client;
  /** Admin connection to the server's base database: creates and drops, `pg_stat_activity`. */
  admin: postgres.Sql;
  /** Base URL the scratch databases are created next to. */
  baseUrl: string;
  /** Name of the migrated template every trial database is copied from. */
  template: string;
  /** Trial databases not dropped yet (dropped by `close` if a trial could not). */
  databases: Set<string>;
  /** Drops every database created and stops the servers. */
  close(): Promise<void>;
}

/** One trial's bucket and database. */
export interface Trial {
  bucket: string;
  dbName: string;
  dbUrl: string;
  /** Connection to the trial database for checks (not named like the worker's sessions). */
  sql: postgres.Sql;
  /** Environment of a worker of this trial; `endpoint` defaults to the proxy. */
  workerEnv(endpoint?: string): Record<string, string>;
  /** Drops the database and the bucket. */
  close(): Promise<void>;
}

/** Starts s3rver, the proxy and a migrated template database on `baseUrl`'s server. */
export async function openChaosEnv(baseUrl: string): Promise<ChaosEnv> {
  const databases = new Set<string>();
  let template: string | undefined;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  let server: S3TestServer | undefined;
  let proxy: S3FaultProxy | undefined;
  let s3: S3Client | undefined;
  async function close(): Promise<void> {
    for (const name of [...databases, ...(template ? [template] : [])]) {
      await admin.unsafe(`drop database if exists ${name} with (force)`).catch(() => {});
    }
    await admin.end({ timeout: 5 });
    s3?.destroy();
    await proxy?.close();
    await server?.close();
  }
  try {
    const templateUrl = await createScratchDatabase(baseUrl);
    template = new URL(templateUrl).pathname.slice(1);
    const db = createPostgresDatabase(templateUrl);
    try {
      await migrate(db);
    } finally {
      await db.close();
    }
    server = await startS3TestServer();
    proxy = startS3FaultProxy(server.endpoint);
    s3 = createS3Client(server);
    return {
      server,
      proxy,
      s3,
      admin,
      baseUrl,
      template,
      databases,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

let trialCount = 0;

/** A fresh bucket holding nothing and a fresh database copied from the migrated template. */
export async function openTrial(env: ChaosEnv): Promise<Trial> {
  trialCount++;
  const suffix = `${Date.now().toString(36)}${trialCount}`;
  const bucket = `chaos-${suffix}-${Math.random().toString(36).slice(2, 8)}`;
  const dbName = `${env.template}_${suffix}`.slice(0, 63);
  // Copying the template is much faster than migrating (PostGIS) and leaves nothing from
  // earlier trials: a truncate list would miss tables a later migration adds.
  await env.admin.unsafe(`create database ${dbName} template ${env.template}`);
  env.databases.add(dbName);
  const url = new URL(env.baseUrl);
  url.pathname = `/${dbName}`;
  const dbUrl = url.toString();
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  await env.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    bucket,
    dbName,
    dbUrl,
    sql,
    workerEnv(endpoint = env.proxy.endpoint) {
      return {
        PATH: Deno.env.get("PATH") ?? "",
        HOME: Deno.env.get("HOME") ?? "",
        DATABASE_URL: dbUrl,
        RUSTFS_ENDPOINT: endpoint,
        RUSTFS_ACCESS_KEY: env.server.accessKeyId,
        RUSTFS_SECRET_KEY: env.server.secretAccessKey,
        RUSTFS_REGION: env.server.region,
        TICKETS_BUCKET: bucket,
      };
    },
    async close() {
      await sql.end({ timeout: 5 });
      await env.admin.unsafe(`drop database if exists ${dbName} with (force)`);
      env.databases.delete(dbName);
      await emptyBucket(env.s3, bucket);
      await env.s3.send(new DeleteBucketCommand({ Bucket: bucket }));
    },
  };
}

/** Uploads change files under the INC changes prefix. */
export async function upload(
  env: ChaosEnv,
  trial: Trial,
  files: readonly GeneratedFile[],
): Promise<void> {
  await Promise.all(files.map((file) =>
    env.s3.send(
      new PutObjectCommand({
        Bucket: trial.bucket,
        Key: INC.changesPrefix + file.name,
        Body: file.text,
      }),
    )
  ));
}

/** Every key in a bucket (sorted). */
export async function listKeys(s3: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

async function emptyBucket(s3: S3Client, bucket: string): Promise<void> {
  const keys = await listKeys(s3, bucket);
  for (let i = 0; i < keys.length; i += 1000) {
    await s3.send(
      new DeleteObjectsCommand({
        Bucket: bucket,
        Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
      }),
    );
  }
}

/** A worker process and, once it ended, what it printed. */
export interface WorkerProcess {
  pid: number;
  /** `performance.now()` at spawn. */
  startedAt: number;
  /** True once the process ended. */
  readonly exited: boolean;
  /** Resolves when the process ended. */
  done: Promise<WorkerResult>;
  /** SIGKILL; returns false when the process had already ended. */
  kill(): boolean;
}

/** How a worker ended. */
export interface WorkerResult {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** The harness SIGKILLed it because it ran past its time limit (a hang, not a chosen kill). */
  timedOut: boolean;
}

/**
 * Starts `deno run -P=worker main.ts ingest --from-bucket --apply --json` (the real CLI). A run
 * still going after `timeoutMs` is SIGKILLed and reported as `timedOut`: a clean run of the
 * harness's streams takes seconds, so that is a hang.
 */
export function spawnWorker(env: Record<string, string>, timeoutMs = 60_000): WorkerProcess {
  const startedAt = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [...WORKER_ARGS],
    cwd: REPO_ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let exited = false;
  let timedOut = false;
  const watchdog = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch { /* ended meanwhile */ }
  }, timeoutMs);
  const decoder = new TextDecoder();
  const done = child.output().then((output) => {
    exited = true;
    clearTimeout(watchdog);
    return {
      timedOut,
      code: output.code,
      signal: output.signal,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
      durationMs: Math.round(performance.now() - startedAt),
    };
  });
  return {
    pid: child.pid,
    startedAt,
    get exited() {
      return exited;
    },
    done,
    kill() {
      if (exited) return false;
      try {
        child.kill("SIGKILL");
        return true;
      } catch {
        return false; // ended between the check and the signal
      }
    },
  };
}

/** The part of a drain report the harness reads. */
export interface ReportSummary {
  dataset: string;
  status: string;
  error?: string;
  files: { fileName: string; action: string; status: string; error?: string }[];
  afterApply?: { errors: string[] };
}

/** The per-dataset reports of a `--json` run (one object, or `{datasets: [...]}`); null if unreadable. */
export function parseReports(stdout: string): ReportSummary[] | null {
  try {
    const parsed = JSON.parse(stdout) as ReportSummary | { datasets: ReportSummary[] };
    return "datasets" in parsed ? parsed.datasets : [parsed];
  } catch {
    return null;
  }
}

/** Lines of a `--json` run's stderr that are not info-level JSON log lines. */
export function troubleLines(stderr: string): string[] {
  const lines: string[] = [];
  for (const line of stderr.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const entry = JSON.parse(line) as { level?: string };
      if (entry.level === "info" || entry.level === "debug") continue;
    } catch { /* not a log line: keep it */ }
    lines.push(line.length > 300 ? `${line.slice(0, 300)}…` : line);
  }
  return lines;
}

/** A worker session on the trial database, as `pg_stat_activity` shows it. */
export interface WorkerSession {
  pid: number;
  state: string | null;
  query: string;
}

/** The worker sessions connected to the trial database. */
export async function workerSessions(env: ChaosEnv, trial: Trial): Promise<WorkerSession[]> {
  const rows = await env.admin<WorkerSession[]>`
    select pid, state, query from pg_stat_activity
    where datname = ${trial.dbName} and application_name = ${WORKER_APPLICATION}`;
  return Array.from(rows);
}

/**
 * Waits until no worker session is left on the trial database. A killed worker's backend lives
 * on until it notices the closed socket (after its current statement), still holding the
 * run's advisory lock; a rerun before that would only report "locked".
 */
export async function waitForNoSessions(
  env: ChaosEnv,
  trial: Trial,
  timeoutMs = 30_000,
): Promise<number> {
  const started = performance.now();
  while ((await workerSessions(env, trial)).length > 0) {
    if (performance.now() - started > timeoutMs) {
      throw new Error(
        `Worker sessions still open on "${trial.dbName}" after ${timeoutMs} ms`,
      );
    }
    await sleep(5);
  }
  return Math.round(performance.now() - started);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Checks that hold at every instant, even right after a SIGKILL: a file's rows, ledger row and
 * counter commit together, and a file is archived only after its commit, so nothing is lost.
 */
export async function checkCrashInvariants(
  env: ChaosEnv,
  trial: Trial,
  uploaded: readonly string[],
): Promise<CrashState> {
  const problems: string[] = [];
  const ledger = await ledgerNames(trial);
  const applied = await filesApplied(trial);
  if (applied !== ledger.length) {
    problems.push(
      `Counter files_applied is "${applied}" but the ledger has "${ledger.length}" rows`,
    );
  }
  const keys = await listKeys(env.s3, trial.bucket);
  const changes = namesUnder(keys, INC.changesPrefix);
  const processed = namesUnder(keys, INC.processedPrefix);
  for (const name of processed) {
    if (!ledger.includes(name)) problems.push(`File "${name}" is archived but not in the ledger`);
  }
  for (const name of uploaded) {
    if (!changes.includes(name) && !processed.includes(name)) {
      problems.push(`File "${name}" is in neither changes/ nor processed/`);
    }
  }
  for (const name of ledger) {
    if (!uploaded.includes(name)) problems.push(`Ledger names "${name}", which was never uploaded`);
  }
  const [quarantine] = await trial.sql<{ n: number }[]>`
    select count(*)::int as n from tickets.quarantine`;
  if ((quarantine?.n ?? 0) > 0) problems.push(`Quarantine holds "${quarantine?.n}" rows`);
  return {
    problems,
    ledger,
    changes,
    processed,
    committedInChanges: changes.filter((n) => ledger.includes(n)).length,
    inBoth: changes.filter((n) => processed.includes(n)).length,
  };
}

/**
 * What a run killed after it took the dataset's lock leaves in `tickets.runs`: its record begun
 * (`running`, no end) and its session gone, so `status` reads it as died (before: no row at all,
 * and `status` reported the run before it). Once a later run took the lock, no row is left
 * `running`: that run marked it `died`.
 */
export async function checkRunRecords(
  trial: Trial,
  when: "killed" | "after a clean run",
): Promise<string[]> {
  const rows = await trial.sql.unsafe<{ status: string; ended: boolean; alive: boolean }[]>(
    `select r.status, r.finished_at is not null as ended, ${RUN_SESSION_ALIVE} as alive
     from tickets.runs r where r.status <> 'locked' order by r.id desc`,
  );
  const running = rows.filter((r) => r.status === "running");
  if (when === "killed") {
    const last = rows[0];
    return last?.status === "running" && !last.ended && !last.alive ? [] : [
      `The killed run's record is ${JSON.stringify(last ?? null)}, expected it running ` +
      `with no end and its session gone`,
    ];
  }
  return running.length === 0 ? [] : [
    `"${running.length}" run records still "running" after a clean run (expected "died")`,
  ];
}

/** What {@linkcode checkCrashInvariants} found. */
export interface CrashState {
  /** Invariants that did not hold. */
  problems: string[];
  /** File names with a ledger row, in `changes/` and in `processed/`. */
  ledger: string[];
  changes: string[];
  processed: string[];
  /** Committed files still in `changes/` (the next run only archives them). */
  committedInChanges: number;
  /** Files both in `changes/` and `processed/` (killed between archive copy and delete). */
  inBoth: number;
}

/**
 * The final checks, independent of any worker's report: every ticket's `raw` equals the
 * generator's expected state, each file has one ledger row and was counted once, `processed/`
 * holds every file and `changes/` nothing, the quarantine is empty.
 */
export async function checkFinalState(
  env: ChaosEnv,
  trial: Trial,
  files: readonly GeneratedFile[],
  expected: Map<string, Record<string, string | null>>,
): Promise<string[]> {
  const problems: string[] = [];
  const names = files.map((f) => f.name).sort();
  const db = createPostgresDatabase(trial.dbUrl);
  try {
    problems.push(...diffTickets(await readRaw(db), expected));
  } finally {
    await db.close();
  }
  const rows = await trial.sql<{ file_name: string; n: number; unplaced: number }[]>`
    select file_name, count(*)::int as n, count(*) filter (where placed_at is null)::int as unplaced
    from tickets.applied_files
    where dataset = ${INC.name} group by file_name order by file_name`;
  for (const row of rows) {
    if (row.n !== 1) problems.push(`Ledger has "${row.n}" rows for "${row.file_name}"`);
    // A kill between a file's commit and the post-apply steps: a later run places its tickets.
    if (row.unplaced > 0) problems.push(`File "${row.file_name}" was never placed (placed_at)`);
  }
  const ledger = rows.map((r) => r.file_name);
  if (JSON.stringify(ledger) !== JSON.stringify(names)) {
    problems.push(
      `Ledger holds "${ledger.length}" files, expected "${names.length}": missing ${
        JSON.stringify(names.filter((n) => !ledger.includes(n)))
      }, extra ${JSON.stringify(ledger.filter((n) => !names.includes(n)))}`,
    );
  }
  const applied = await filesApplied(trial);
  if (applied !== names.length) {
    problems.push(
      `Counter files_applied is "${applied}", expected "${names.length}" (a file applied twice?)`,
    );
  }
  const keys = await listKeys(env.s3, trial.bucket);
  const changes = namesUnder(keys, INC.changesPrefix);
  const processed = namesUnder(keys, INC.processedPrefix);
  if (changes.length > 0) problems.push(`changes/ still holds ${JSON.stringify(changes)}`);
  if (JSON.stringify(processed) !== JSON.stringify(names)) {
    problems.push(
      `processed/ holds ${JSON.stringify(processed)}, expected ${JSON.stringify(names)}`,
    );
  }
  const others = keys.filter((k) =>
    !k.startsWith(INC.changesPrefix) && !k.startsWith(INC.processedPrefix)
  );
  if (others.length > 0) problems.push(`Unexpected keys ${JSON.stringify(others)}`);
  const [quarantine] = await trial.sql<{ n: number }[]>`
    select count(*)::int as n from tickets.quarantine`;
  if ((quarantine?.n ?? 0) > 0) problems.push(`Quarantine holds "${quarantine?.n}" rows`);
  return problems;
}

/**
 * The comparison of `diffState` (tests/_harness.ts), reporting how many tickets differ and, for
 * the first few, only the fields that differ: whole records would bury the difference.
 */
export function diffTickets(
  actual: Map<string, Record<string, unknown>>,
  expected: Map<string, Record<string, string | null>>,
): string[] {
  const diffs: string[] = [];
  let count = 0;
  for (const [id, want] of expected) {
    const got = actual.get(id);
    if (got === undefined) {
      if (count++ < 10) diffs.push(`Ticket "${id}" is missing`);
      continue;
    }
    const fields = [...new Set([...Object.keys(want), ...Object.keys(got)])].sort()
      .filter((f) => JSON.stringify(got[f]) !== JSON.stringify(want[f]));
    if (fields.length > 0 && count++ < 10) {
      diffs.push(
        `Ticket "${id}" differs: ${
          fields.map((f) =>
            `${f} is ${JSON.stringify(got[f])}, expected ${JSON.stringify(want[f])}`
          )
            .join("; ")
        }`,
      );
    }
  }
  for (const id of actual.keys()) {
    if (!expected.has(id) && count++ < 10) diffs.push(`Ticket "${id}" is not expected`);
  }
  if (count > 10) diffs.push(`${count} tickets differ in all (first 10 shown)`);
  return diffs;
}

/** File names with a ledger row (INC). */
export async function ledgerNames(trial: Trial): Promise<string[]> {
  const rows = await trial.sql<{ file_name: string }[]>`
    select file_name from tickets.applied_files where dataset = ${INC.name} order by file_name`;
  return rows.map((r) => r.file_name);
}

async function filesApplied(trial: Trial): Promise<number> {
  const [meta] = await trial.sql<{ files_applied: number }[]>`
    select files_applied::int as files_applied from tickets.import_meta
    where dataset = ${INC.name}`;
  return meta?.files_applied ?? 0;
}

function namesUnder(keys: readonly string[], prefix: string): string[] {
  return keys.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)).sort();
}
