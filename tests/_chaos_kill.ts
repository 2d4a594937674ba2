// Crash consistency (issue 7 item 1): drain a generated stream with the real CLI, SIGKILL the
// worker at chosen points, rerun until a run completes, then check the database and the bucket
// against the generator's expected state. Private to tests/chaos.ts.
//
// A trial is one fresh bucket and database and a few kills: the stream minus 1-3 "late" deltas
// is drained (with kills), then the late files are uploaded and drained (maybe with one more
// kill). Kills within a trial aim at different files, so later kills meet a database that has
// already been through crashes.

import { type GeneratedFile, generateStream } from "../demo/generate_stream.ts";
import { INC } from "../core/datasets.ts";
import {
  type ChaosEnv,
  checkCrashInvariants,
  checkFinalState,
  checkRunRecords,
  type CrashState,
  createRandom,
  ledgerNames,
  openTrial,
  parseReports,
  type Random,
  sleep,
  spawnWorker,
  type Trial,
  troubleLines,
  upload,
  waitForNoSessions,
  type WorkerProcess,
  type WorkerResult,
  workerSessions,
} from "./_chaos_env.ts";
import type { ProxyEvent } from "./_s3_fault_proxy.ts";

/** Where a kill is aimed. */
export type KillKind =
  | "download"
  | "copy"
  | "merge"
  | "archive-copy"
  | "archive-delete"
  | "random";

/** Every kind, in report order. */
export const KILL_KINDS: readonly KillKind[] = [
  "download",
  "copy",
  "merge",
  "archive-copy",
  "archive-delete",
  "random",
];

/** How each kind is reported. */
export const KILL_LABELS: Readonly<Record<KillKind, string>> = {
  download: "mid-download (GET body stalled)",
  copy: "mid-COPY (seen in pg_stat_activity)",
  merge: "mid-merge (seen in pg_stat_activity)",
  "archive-copy": "after commit, before archive copy",
  "archive-delete": "between archive copy and delete",
  random: "random time",
};

/**
 * Kinds that can aim at the late deltas: they need no big file, and (unlike a random-time kill,
 * which would mostly meet Deno starting up) they land inside the short late run.
 */
const LATE_KINDS: ReadonlySet<KillKind> = new Set(["download", "archive-copy", "archive-delete"]);

/** One SIGKILL (or the attempt at one). */
export interface KillRecord {
  trial: number;
  kind: KillKind;
  /** `main`: the stream without its late files; `late`: the late files after it. */
  wave: "main" | "late";
  /** The file aimed at (null for a random-time kill). */
  target: string | null;
  /** The kill landed where it was aimed. */
  hit: boolean;
  /** Set when the aimed point was missed and a random-time kill was tried instead. */
  fallback?: "random";
  /** A SIGKILL reached a running worker (aimed or fallback). */
  killed: boolean;
  /** Worker age at the kill, ms. */
  atMs: number;
  /** What the worker was doing when killed, or why the point was missed. */
  where: string;
  /** Crash invariants that did not hold right after the kill. */
  problems: string[];
  /** Committed files the kill left in `changes/` (the rerun archives them, never reapplies). */
  committedInChanges: number;
  /** Files the kill left in both `changes/` and `processed/`. */
  inBoth: number;
  /** How long the killed worker's database session outlived it, ms. */
  lingerMs: number;
  /** Killed, invariants held and the trial's final check passed. */
  survived: boolean;
}

/** One trial. */
export interface KillTrial {
  trial: number;
  /** Files uploaded only after the rest was applied. */
  lateFiles: string[];
  kills: KillRecord[];
  /** Worker processes started. */
  runs: number;
  /** Per wave that had kills: runs after the last kill until one completed cleanly. */
  reruns: number[];
  /** Reruns that found the lock still held. */
  lockedRuns: number;
  /** Rows of the late files left alone because a newer file had written the ticket (ledger). */
  lateOlderSkipped: number;
  /** Every failed check, with details. */
  problems: string[];
  durationMs: number;
}

/** Figures per kind. */
export interface KindFigures {
  attempted: number;
  hit: number;
  /** Missed the aimed point (fell back to a random-time kill when the worker still ran). */
  missed: number;
  /** SIGKILLs delivered (hits plus fallback kills). */
  killed: number;
  survived: number;
}

/** The outcome of `chaos` (kill mode). */
export interface KillSummary {
  mode: "kill";
  seed: number;
  runs: number;
  stream: { files: number; tickets: number; bytes: number; bigFiles: number };
  byKind: Record<KillKind, KindFigures>;
  trials: KillTrial[];
  workerRuns: number;
  /** How many reruns a wave needed after its last kill -> how often. */
  reruns: Record<string, number>;
  /** What the kills left behind, summed over kills. */
  crashStates: {
    /** Kills after which a committed file waited in `changes/` (archived, never reapplied). */
    committedInChanges: number;
    /** Kills after which a file was in both `changes/` and `processed/`. */
    inBoth: number;
    /** Longest a killed worker's database session (and its lock) outlived it, ms. */
    maxLingerMs: number;
  };
  failures: string[];
  durationMs: number;
  ok: boolean;
}

/** Options of {@linkcode runKillChaos}. */
export interface KillOptions {
  /** Kill points in all. */
  runs: number;
  seed: number;
  /** Kill points per trial (default 3). */
  perTrial?: number;
  /** Baseline tickets (default 3000). */
  tickets?: number;
  /** Files after the baseline (default 12). */
  deltas?: number;
  /** Progress lines. */
  log: (line: string) => void;
}

interface Context {
  env: ChaosEnv;
  trial: Trial;
  record: KillTrial;
  random: Random;
  sizes: Map<string, number>;
  big: Set<string>;
  /** Estimated worker time per byte still to apply, ms (calibrated by clean runs). */
  rate: { msPerByte: number };
  log: (line: string) => void;
}

const STARTUP_MS = 300;
const MAX_CLEAN_ATTEMPTS = 6;

/** Runs the kill trials and returns the figures; never throws for a failed check. */
export async function runKillChaos(env: ChaosEnv, options: KillOptions): Promise<KillSummary> {
  const started = performance.now();
  const random = createRandom(options.seed);
  const perTrial = Math.max(1, options.perTrial ?? 3);
  const stream = generateStream({
    dataset: "inc",
    tickets: options.tickets ?? 3000,
    deltas: options.deltas ?? 12,
    seed: options.seed,
  });
  const encoder = new TextEncoder();
  const sizes = new Map(stream.files.map((f) => [f.name, encoder.encode(f.text).length]));
  const big = new Set(stream.files.filter((f) => f.kind !== "delta").map((f) => f.name));
  const bytes = [...sizes.values()].reduce((a, b) => a + b, 0);
  options.log(
    `Stream: ${stream.files.length} files (${big.size} baseline/full), ` +
      `${stream.expected.size} tickets, ${(bytes / 1e6).toFixed(1)} MB; seed ${options.seed}`,
  );
  // Spread over the kinds, then shuffled so each trial gets a mix.
  const plan = random.shuffle(
    Array.from({ length: options.runs }, (_, i) => KILL_KINDS[i % KILL_KINDS.length]!),
  );
  const rate = { msPerByte: 0.0005 };
  const trials: KillTrial[] = [];
  for (let t = 0; t * perTrial < plan.length; t++) {
    const kinds = plan.slice(t * perTrial, (t + 1) * perTrial);
    const trial = await runTrial(env, {
      number: t + 1,
      kinds,
      files: stream.files,
      expected: stream.expected,
      random,
      sizes,
      big,
      rate,
      log: options.log,
    });
    trials.push(trial);
  }
  return summarise(options, stream.files.length, stream.expected.size, bytes, big.size, trials, {
    durationMs: Math.round(performance.now() - started),
  });
}

interface TrialPlan {
  number: number;
  kinds: KillKind[];
  files: GeneratedFile[];
  expected: Map<string, Record<string, string | null>>;
  random: Random;
  sizes: Map<string, number>;
  big: Set<string>;
  rate: { msPerByte: number };
  log: (line: string) => void;
}

async function runTrial(env: ChaosEnv, plan: TrialPlan): Promise<KillTrial> {
  const started = performance.now();
  const { random, files } = plan;
  // Late files: deltas older than the newest file, so newer rows exist when they arrive.
  const candidates = files.slice(1, -1).filter((f) => f.kind === "delta");
  const late = random.shuffle(candidates).slice(0, random.int(1, Math.min(3, candidates.length)));
  const lateNames = new Set(late.map((f) => f.name));
  const main = files.filter((f) => !lateNames.has(f.name));
  // COPY and merge kills first, while the big files are still to do; the last kill goes to the
  // late wave when it does not need a big file.
  const ordered = [
    ...plan.kinds.filter((k) => k === "copy" || k === "merge"),
    ...plan.kinds.filter((k) => k !== "copy" && k !== "merge"),
  ];
  const lateKills: KillKind[] = [];
  const last = ordered.at(-1);
  if (ordered.length >= 2 && last !== undefined && LATE_KINDS.has(last)) {
    lateKills.push(ordered.pop()!);
  }
  const record: KillTrial = {
    trial: plan.number,
    lateFiles: [...lateNames].sort(),
    kills: [],
    runs: 0,
    reruns: [],
    lockedRuns: 0,
    lateOlderSkipped: 0,
    problems: [],
    durationMs: 0,
  };
  plan.log(
    `Trial ${plan.number}: kills ${JSON.stringify(ordered)} then ${JSON.stringify(lateKills)} ` +
      `on late files ${JSON.stringify(record.lateFiles)}`,
  );
  const trial = await openTrial(env);
  const context: Context = {
    env,
    trial,
    record,
    random,
    sizes: plan.sizes,
    big: plan.big,
    rate: plan.rate,
    log: plan.log,
  };
  try {
    await upload(env, trial, main);
    await runWave(context, "main", main, main, ordered);
    await upload(env, trial, late);
    await runWave(context, "late", late, files, lateKills);
    const [skipped] = await trial.sql<{ n: number }[]>`
      select coalesce(sum(older_skipped), 0)::int as n from tickets.applied_files
      where file_name = any(${[...lateNames]}::text[])`;
    record.lateOlderSkipped = skipped?.n ?? 0;
    record.problems.push(...await checkFinalState(env, trial, files, plan.expected));
  } catch (error) {
    record.problems.push(`Trial stopped: ${error instanceof Error ? error.message : error}`);
  } finally {
    await trial.close().catch((error) =>
      record.problems.push(`Cannot clean up the trial: ${error}`)
    );
  }
  for (const kill of record.kills) {
    kill.survived = kill.killed && kill.problems.length === 0 && record.problems.length === 0;
  }
  record.durationMs = Math.round(performance.now() - started);
  plan.log(
    `Trial ${plan.number}: ${record.problems.length === 0 ? "ok" : "FAILED"} ` +
      `(${record.runs} worker runs, ${(record.durationMs / 1000).toFixed(1)} s)` +
      record.problems.map((p) => `\n  ${p}`).join(""),
  );
  return record;
}

/** Uploaded files of a wave are drained with `kinds` kills, then until a run is clean. */
async function runWave(
  context: Context,
  wave: "main" | "late",
  files: readonly GeneratedFile[],
  uploaded: readonly GeneratedFile[],
  kinds: readonly KillKind[],
): Promise<void> {
  const names = files.map((f) => f.name).sort();
  const uploadedNames = uploaded.map((f) => f.name);
  for (const [i, kind] of kinds.entries()) {
    const applied = new Set(await ledgerNames(context.trial));
    const pending = names.filter((n) => !applied.has(n));
    // Leave files for the kills still to come in this wave.
    const room = pending.slice(0, Math.max(1, pending.length - (kinds.length - 1 - i)));
    const kill = await killOnce(context, kind, wave, room, pending);
    const state = await checkCrashInvariants(context.env, context.trial, uploadedNames);
    kill.problems.push(...state.problems, ...checkAim(kill, state));
    // A kill aimed at a file that hit came after the run took its lock: its record begun, never
    // ended (a random one may meet the worker before the lock).
    if (kill.hit && kill.kind !== "random" && kill.fallback === undefined) {
      kill.problems.push(...await checkRunRecords(context.trial, "killed"));
    }
    kill.committedInChanges = state.committedInChanges;
    kill.inBoth = state.inBoth;
    context.record.kills.push(kill);
    context.log(
      `  ${kind} -> ${kill.hit ? "hit" : kill.killed ? "missed, random kill" : "missed"}: ` +
        `${kill.where}` + kill.problems.map((p) => `\n    ${p}`).join(""),
    );
  }
  const attempts = await runUntilClean(context);
  if (kinds.length > 0) context.record.reruns.push(attempts);
  const after = await checkCrashInvariants(context.env, context.trial, uploadedNames);
  context.record.problems.push(
    ...[...after.problems, ...await checkRunRecords(context.trial, "after a clean run")]
      .map((p) => `After the ${wave} wave: ${p}`),
  );
  if (after.committedInChanges > 0) {
    context.record.problems.push(
      `After the ${wave} wave: "${after.committedInChanges}" committed files left in changes/`,
    );
  }
}

/**
 * Where the target must be after a kill that hit: rolled back before its commit, committed but
 * not copied, or copied but not deleted. Anything else means the kill landed elsewhere (or the
 * engine committed or archived at the wrong moment).
 */
function checkAim(kill: KillRecord, state: CrashState): string[] {
  const target = kill.target;
  if (!kill.hit || target === null) return [];
  const where = {
    ledger: state.ledger.includes(target),
    changes: state.changes.includes(target),
    processed: state.processed.includes(target),
  };
  const want = kill.kind === "archive-copy"
    ? { ledger: true, changes: true, processed: false }
    : kill.kind === "archive-delete"
    ? { ledger: true, changes: true, processed: true }
    : { ledger: false, changes: true, processed: false };
  if (JSON.stringify(where) === JSON.stringify(want)) return [];
  return [
    `Target "${target}" is ${JSON.stringify(where)} after the kill, expected ${
      JSON.stringify(want)
    }`,
  ];
}

async function killOnce(
  context: Context,
  kind: KillKind,
  wave: "main" | "late",
  room: readonly string[],
  pending: readonly string[],
): Promise<KillRecord> {
  const { env, trial, random } = context;
  const proxy = env.proxy;
  const record: KillRecord = {
    trial: context.record.trial,
    kind,
    wave,
    target: null,
    hit: false,
    killed: false,
    atMs: 0,
    where: "",
    problems: [],
    committedInChanges: 0,
    inBoth: 0,
    lingerMs: 0,
    survived: false,
  };
  const mark = proxy.events.length;
  if (room.length === 0) {
    record.where = "nothing left to apply (an earlier kill missed)";
    return record;
  }
  const bigRoom = room.filter((n) => context.big.has(n));
  const target = kind === "random"
    ? null
    : random.pick(kind === "copy" || kind === "merge" ? (bigRoom.length ? bigRoom : room) : room);
  record.target = target;
  let detail = "";
  if (kind === "download" && target !== null) {
    const size = context.sizes.get(target) ?? 2;
    const afterBytes = random.int(1, Math.max(1, size - 1));
    detail = ` after ${afterBytes} of ${size} bytes`;
    proxy.addRule({
      label: "chaos: stall GET body",
      match: (r) => r.op === "get" && r.key === INC.changesPrefix + target,
      action: { kind: "stall", at: "body", afterBytes },
    });
  } else if (kind === "archive-copy" && target !== null) {
    proxy.addRule({
      label: "chaos: stall archive copy",
      match: (r) => r.op === "copy" && r.key === INC.processedPrefix + target,
      action: { kind: "stall", at: "request" },
    });
  } else if (kind === "archive-delete" && target !== null) {
    proxy.addRule({
      label: "chaos: stall archive delete",
      match: (r) => r.op === "delete" && r.key === INC.changesPrefix + target,
      action: { kind: "stall", at: "request" },
    });
  }
  const pendingBytes = pending.reduce((sum, n) => sum + (context.sizes.get(n) ?? 0), 0);
  const worker = spawnWorker(trial.workerEnv());
  context.record.runs++;
  try {
    if (kind === "download" || kind === "archive-copy" || kind === "archive-delete") {
      const stalled = await nextEvent(context, worker, mark, (e) => e.type === "stalled");
      if (stalled !== null && worker.kill()) {
        hit(record, worker, `${stalled.request.method} ${stalled.request.key} held${detail}`);
      } else {
        record.where = `no stall: worker ended first (${describeEnd(await worker.done)})`;
      }
    } else if (kind === "copy" || kind === "merge") {
      await pollAndKill(context, worker, record, target!, mark);
      if (!record.hit && !worker.exited) {
        record.fallback = "random";
        await randomKill(context, worker, record, mark, pendingBytes, `${record.where}; fallback`);
      }
    } else {
      await randomKill(context, worker, record, mark, pendingBytes, "random");
      record.hit = record.killed;
    }
  } finally {
    // No releaseAll(): a held request released now would still reach s3rver through the
    // proxy (the proxy has the whole request), moving the crash past the aimed point. A held
    // request ends by itself once the killed client's socket closes.
    proxy.clearRules();
  }
  const result = await worker.done;
  if (result.timedOut) record.problems.push(`Worker ${describeEnd(result)}`);
  if (record.killed && result.signal !== "SIGKILL") {
    // SIGKILL cannot be caught: a worker that ended otherwise had exited before it came (its end
    // not collected yet). Having ended well (exit 0), that is a miss, as a kill after the end is
    // (before: a failed trial, once on CI: "exit 0, status ok", not SIGKILL); any other end stays
    // a problem to look at.
    if (result.code === 0) {
      record.killed = false;
      record.hit = false;
      record.where += `; the worker had ended just before it`;
    } else record.problems.push(`Worker ended with "${describeEnd(result)}", not SIGKILL`);
  }
  if (!record.killed) record.where += `; ${describeEnd(result)}`;
  record.lingerMs = await waitForNoSessions(env, trial);
  return record;
}

function hit(record: KillRecord, worker: WorkerProcess, where: string): void {
  record.hit = true;
  record.killed = true;
  record.atMs = Math.round(performance.now() - worker.startedAt);
  record.where = `${where} at ${record.atMs} ms`;
}

/** The next proxy event after `mark` matching `predicate`, or null once the worker ended. */
async function nextEvent(
  context: Context,
  worker: WorkerProcess,
  mark: number,
  predicate: (event: ProxyEvent) => boolean,
): Promise<ProxyEvent | null> {
  const events = context.env.proxy.events;
  for (let seen = mark;;) {
    for (; seen < events.length; seen++) if (predicate(events[seen]!)) return events[seen]!;
    if (worker.exited) return null;
    await sleep(1);
  }
}

/**
 * Waits for the worker to fetch `target`, then polls `pg_stat_activity` every few ms for its
 * COPY into the stage (or its merge into tickets.inc) and kills it there, a random moment into
 * the statement. Leaves `record.hit` false when the statement was not seen in time.
 */
async function pollAndKill(
  context: Context,
  worker: WorkerProcess,
  record: KillRecord,
  target: string,
  mark: number,
): Promise<void> {
  const { env, trial, random } = context;
  const key = INC.changesPrefix + target;
  const fetched = await nextEvent(
    context,
    worker,
    mark,
    (e) => e.type === "request" && e.request.op === "get" && e.request.key === key,
  );
  if (fetched === null) {
    record.where = `worker ended before fetching "${target}"`;
    return;
  }
  const fetchedAt = env.proxy.events.indexOf(fetched);
  // The staging of a file: its COPY, and (the copy way) the scan that checks the copied rows
  // before the merge reads them; both run before any row of tickets.inc is written.
  const matches = record.kind === "copy"
    ? (query: string) =>
      query.trimStart().startsWith("copy fleettickets_") ||
      query.includes("from fleettickets_csv) r")
    : (query: string) => query.includes("-- merge the stage"); // core/_drain_queries.ts
  // A big file's merge lasts a few hundred ms, its staging a few tens (less on a fast machine):
  // aim somewhere into their first 100 or 20 ms.
  const delay = context.big.has(target) ? random.int(0, record.kind === "copy" ? 20 : 100) : 0;
  let firstSeen: number | undefined;
  let polls = 0;
  for (;;) {
    if (worker.exited) {
      record.where = `missed: worker ended after ${polls} polls`;
      return;
    }
    const sessions = await workerSessions(env, trial);
    polls++;
    const active = sessions.find((s) => s.state === "active" && matches(s.query));
    const now = performance.now();
    if (active !== undefined) {
      firstSeen ??= now;
      if (now - firstSeen >= delay) {
        if (worker.kill()) {
          const statement = active.query.trim().replace(/\s+/g, " ").slice(0, 40);
          hit(
            record,
            worker,
            `"${statement}…" active ${Math.round(now - firstSeen)} ms into it, file "${target}"`,
          );
        } else record.where = `missed: worker ended just before the kill`;
        return;
      }
    } else if (firstSeen !== undefined) {
      record.where = `missed: statement ended within the ${delay} ms aimed into it`;
      return;
    } else if (
      env.proxy.events.slice(fetchedAt + 1).some((e) =>
        e.type === "request" && (e.request.op === "copy" || e.request.op === "get")
      )
    ) {
      record.where = `missed: "${target}" finished between polls (${polls} polls)`;
      return;
    }
    await sleep(3);
  }
}

/** Kills after a random delay within the estimated rest of the run. */
async function randomKill(
  context: Context,
  worker: WorkerProcess,
  record: KillRecord,
  mark: number,
  pendingBytes: number,
  label: string,
): Promise<void> {
  const age = performance.now() - worker.startedAt;
  const estimate = STARTUP_MS + pendingBytes * context.rate.msPerByte;
  // From about when the worker has connected (earlier kills only ever meet Deno starting up)
  // well before it should be done (the estimate is rough; a kill after the end is a miss).
  const from = Math.max(0, STARTUP_MS * 0.8 - age);
  const delay = context.random.int(
    Math.round(from),
    Math.round(Math.max(from, estimate * 0.7 - age)),
  );
  const until = performance.now() + delay;
  while (!worker.exited && performance.now() < until) await sleep(2);
  if (worker.exited) {
    record.where = `${label}: worker ended before ${Math.round(age + delay)} ms`;
    return;
  }
  const where = await describeWorker(context, worker, mark);
  if (worker.kill()) {
    record.killed = true;
    record.atMs = Math.round(performance.now() - worker.startedAt);
    record.where = `${label} at ${record.atMs} ms: ${where}`;
  } else record.where = `${label}: worker ended just before the kill`;
}

/** What the worker is doing, from its last S3 request and its database session. */
async function describeWorker(
  context: Context,
  worker: WorkerProcess,
  mark: number,
): Promise<string> {
  const events = context.env.proxy.events;
  let last: ProxyEvent | undefined;
  for (let i = events.length - 1; i >= mark; i--) {
    const event = events[i]!;
    if (event.type === "request") {
      last = event;
      break;
    }
  }
  const sessions = await workerSessions(context.env, context.trial);
  const db = sessions.length === 0
    ? "no database session"
    : sessions.map((s) => `${s.state} "${s.query.trim().replace(/\s+/g, " ").slice(0, 40)}"`).join(
      ", ",
    );
  const s3 = last === undefined
    ? "no S3 request yet"
    : `last S3 ${last.request.op} ${last.request.key ?? ""}`.trim();
  return worker.exited ? "worker already ended" : `${s3}; db ${db}`;
}

function describeEnd(result: WorkerResult): string {
  if (result.timedOut) return `hung: SIGKILLed by the harness after ${result.durationMs} ms`;
  if (result.signal !== null) return `signal ${result.signal}`;
  const report = parseReports(result.stdout)?.find((r) => r.dataset === INC.name);
  return `exit ${result.code}, status "${report?.status ?? "unreadable"}"` +
    (report?.error ? `: ${report.error}` : "");
}

/** Runs the worker without faults until a run completes cleanly; returns the runs needed. */
async function runUntilClean(context: Context): Promise<number> {
  const { env, trial, record } = context;
  for (let attempt = 1; attempt <= MAX_CLEAN_ATTEMPTS; attempt++) {
    const worker = spawnWorker(trial.workerEnv());
    record.runs++;
    const result = await worker.done;
    const report = parseReports(result.stdout)?.find((r) => r.dataset === INC.name);
    if (report?.status === "locked" && result.code === 0) {
      // A killed worker's session can outlive our wait by a moment; try again.
      record.lockedRuns++;
      await waitForNoSessions(env, trial);
      continue;
    }
    const failed = report?.files.filter((f) => f.status !== "applied" && f.status !== "archived");
    const trouble = troubleLines(result.stderr);
    if (result.code === 0 && report?.status === "ok" && failed?.length === 0) {
      if (trouble.length > 0) {
        record.problems.push(`Clean run logged trouble: ${trouble.slice(0, 3).join(" | ")}`);
      }
      for (const error of report.afterApply?.errors ?? []) {
        record.problems.push(`Post-apply step failed: ${error}`);
      }
      calibrate(context, report.files, result.durationMs);
      return attempt;
    }
    record.problems.push(
      `Rerun ${attempt} did not complete: ${describeEnd(result)}` +
        (trouble.length > 0 ? `; stderr: ${trouble.slice(0, 3).join(" | ")}` : ""),
    );
    await waitForNoSessions(env, trial);
  }
  record.problems.push(`No clean run after ${MAX_CLEAN_ATTEMPTS} attempts`);
  return MAX_CLEAN_ATTEMPTS;
}

/** Updates the per-byte estimate from a clean run that applied enough to measure. */
function calibrate(
  context: Context,
  files: readonly { fileName: string; action: string }[],
  durationMs: number,
): void {
  const bytes = files.filter((f) => f.action === "apply")
    .reduce((sum, f) => sum + (context.sizes.get(f.fileName) ?? 0), 0);
  if (bytes < 1_000_000) return;
  const measured = Math.max(0, durationMs - STARTUP_MS) / bytes;
  context.rate.msPerByte = (context.rate.msPerByte + measured) / 2;
}

function summarise(
  options: KillOptions,
  fileCount: number,
  tickets: number,
  bytes: number,
  bigFiles: number,
  trials: KillTrial[],
  timing: { durationMs: number },
): KillSummary {
  const byKind = Object.fromEntries(
    KILL_KINDS.map((k) => [k, { attempted: 0, hit: 0, missed: 0, killed: 0, survived: 0 }]),
  ) as Record<KillKind, KindFigures>;
  const reruns: Record<string, number> = {};
  const failures: string[] = [];
  const crashStates = { committedInChanges: 0, inBoth: 0, maxLingerMs: 0 };
  for (const trial of trials) {
    for (const kill of trial.kills) {
      if (kill.committedInChanges > 0) crashStates.committedInChanges++;
      if (kill.inBoth > 0) crashStates.inBoth++;
      crashStates.maxLingerMs = Math.max(crashStates.maxLingerMs, kill.lingerMs);
      const figures = byKind[kill.kind];
      figures.attempted++;
      if (kill.hit) figures.hit++;
      else figures.missed++;
      if (kill.killed) figures.killed++;
      if (kill.survived) figures.survived++;
      for (const problem of kill.problems) {
        failures.push(`Trial ${trial.trial}, ${kill.kind} kill (${kill.where}): ${problem}`);
      }
    }
    for (const n of trial.reruns) reruns[n] = (reruns[n] ?? 0) + 1;
    for (const problem of trial.problems) {
      failures.push(
        `Trial ${trial.trial} (late files ${JSON.stringify(trial.lateFiles)}, kills ${
          JSON.stringify(trial.kills.map((k) => `${k.kind}@${k.target ?? "-"}`))
        }): ${problem}`,
      );
    }
  }
  return {
    mode: "kill",
    seed: options.seed,
    runs: options.runs,
    stream: { files: fileCount, tickets, bytes, bigFiles },
    byKind,
    trials,
    workerRuns: trials.reduce((sum, t) => sum + t.runs, 0),
    reruns,
    crashStates,
    failures,
    durationMs: timing.durationMs,
    ok: failures.length === 0,
  };
}

/** The human-readable summary. */
export function formatKillSummary(summary: KillSummary): string {
  const lines = [
    `Kill points by kind (seed ${summary.seed}, ${summary.trials.length} trials, ` +
    `${summary.stream.files} files, ${summary.stream.tickets} tickets):`,
    `  ${"kind".padEnd(40)}${
      ["attempted", "hit", "missed", "killed", "survived"].map((h) => h.padStart(10)).join("")
    }`,
  ];
  const total: KindFigures = { attempted: 0, hit: 0, missed: 0, killed: 0, survived: 0 };
  for (const kind of KILL_KINDS) {
    const f = summary.byKind[kind];
    for (const k of Object.keys(total) as (keyof KindFigures)[]) total[k] += f[k];
    lines.push(`  ${KILL_LABELS[kind].padEnd(40)}${row(f)}`);
  }
  lines.push(`  ${"total".padEnd(40)}${row(total)}`);
  const locked = summary.trials.reduce((sum, t) => sum + t.lockedRuns, 0);
  const lateFiles = summary.trials.reduce((sum, t) => sum + t.lateFiles.length, 0);
  const lateSkipped = summary.trials.reduce((sum, t) => sum + t.lateOlderSkipped, 0);
  const states = summary.crashStates;
  lines.push(
    `Worker runs: ${summary.workerRuns} (${total.killed} SIGKILLed, ${locked} found the lock ` +
      `still held); reruns until clean after the last kill of a wave: ${
        Object.entries(summary.reruns).map(([n, count]) => `${n} run(s) x${count}`).join(", ") ||
        "none"
      }`,
    `Late files: ${lateFiles} uploaded after newer files were applied; ${lateSkipped} of their ` +
      `rows left alone as older than the ticket's current row`,
    `Kills that left a committed file in changes/: ${states.committedInChanges}; ` +
      `a file in both changes/ and processed/: ${states.inBoth}; ` +
      `longest a killed worker's session outlived it: ${states.maxLingerMs} ms`,
    `Wall time: ${(summary.durationMs / 1000).toFixed(1)} s`,
  );
  if (summary.failures.length > 0) {
    lines.push(`FAILED (${summary.failures.length}):`, ...summary.failures.map((f) => `  ${f}`));
    lines.push(`Reproduce: deno task chaos --seed ${summary.seed} --runs ${summary.runs}`);
  } else lines.push("All checks passed.");
  return lines.join("\n");
}

function row(f: KindFigures): string {
  return [f.attempted, f.hit, f.missed, f.killed, f.survived].map((n) => String(n).padStart(10))
    .join("");
}
