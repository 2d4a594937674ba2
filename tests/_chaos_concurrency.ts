// Concurrency (issue 7 item 4): 2 and 4 `ingest --from-bucket --apply --json` processes started
// together over the same bucket and database, trial after trial: every process exits 0, a
// process that does not drain says the lock is held, nothing else goes wrong, and every file is
// applied and archived exactly once. Private to tests/chaos.ts.

import { generateStream } from "../demo/generate_stream.ts";
import { INC } from "../core/datasets.ts";
import {
  type ChaosEnv,
  checkFinalState,
  createRandom,
  openTrial,
  parseReports,
  type ReportSummary,
  sleep,
  spawnWorker,
  troubleLines,
  upload,
  type WorkerResult,
} from "./_chaos_env.ts";
import type { ProxyEvent } from "./_s3_fault_proxy.ts";

/** Outcome counts of the processes of one process count. */
export interface ConcurrencyFigures {
  /** Processes per trial. */
  processes: number;
  trials: number;
  /** Trials whose checks all passed. */
  passed: number;
  /** Processes that held the lock and applied files. */
  applied: number;
  /** Processes that held the lock after the files were gone (nothing left to do). */
  emptyRuns: number;
  /** Processes that found the lock held and stopped ("locked"). */
  locked: number;
  /** Trials in which more than one process applied files. */
  splitTrials: number;
  /** Slowest trial, ms. */
  maxTrialMs: number;
}

/** The outcome of `chaos --concurrency`. */
export interface ConcurrencySummary {
  mode: "concurrency";
  seed: number;
  /** Start spread, ms (0: all at once). */
  staggerMs: number;
  stream: { files: number; tickets: number };
  figures: ConcurrencyFigures[];
  failures: string[];
  durationMs: number;
  ok: boolean;
}

/** Options of {@linkcode runConcurrencyChaos}. */
export interface ConcurrencyOptions {
  /** Trials per process count. */
  trials: number;
  seed: number;
  /** Process counts (default 2 and 4). */
  processes?: readonly number[];
  /**
   * Start the processes over this many ms instead of at once (default 0), so that some take the
   * lock just as another lets it go.
   */
  staggerMs?: number;
  /** Progress lines. */
  log: (line: string) => void;
}

const LOCK_HELD = /^Another run holds the lock for dataset "[a-z]+"/;

/** Runs the trials; never throws for a failed check. */
export async function runConcurrencyChaos(
  env: ChaosEnv,
  options: ConcurrencyOptions,
): Promise<ConcurrencySummary> {
  const started = performance.now();
  const random = createRandom(options.seed);
  // Small on purpose: the point is the lock, and many trials must fit in a CI minute.
  const stream = generateStream({
    dataset: "inc",
    tickets: 400,
    deltas: 4,
    fullEvery: 0,
    seed: options.seed,
  });
  const names = stream.files.map((f) => f.name);
  const failures: string[] = [];
  const figures: ConcurrencyFigures[] = [];
  for (const processes of options.processes ?? [2, 4]) {
    const f: ConcurrencyFigures = {
      processes,
      trials: 0,
      passed: 0,
      applied: 0,
      emptyRuns: 0,
      locked: 0,
      splitTrials: 0,
      maxTrialMs: 0,
    };
    figures.push(f);
    for (let t = 1; t <= options.trials; t++) {
      const trialStarted = performance.now();
      const problems: string[] = [];
      const trial = await openTrial(env);
      try {
        await upload(env, trial, stream.files);
        // Through the proxy (no rules): it counts the archive copies and deletes per file.
        const mark = env.proxy.events.length;
        const stagger = options.staggerMs ?? 0;
        const workers = await Promise.all(
          Array.from({ length: processes }, async (_, i) => {
            if (stagger > 0 && i > 0) await sleep(Math.round(random.next() * stagger));
            return spawnWorker(trial.workerEnv());
          }),
        );
        const results = await Promise.all(workers.map((w) => w.done));
        const appliedBy = new Map<string, number>();
        let appliers = 0;
        for (const [i, result] of results.entries()) {
          const outcome = judge(result, problems, `Process ${i + 1}`);
          if (outcome === "applied") {
            appliers++;
            f.applied++;
          } else if (outcome === "empty") f.emptyRuns++;
          else if (outcome === "locked") f.locked++;
          const inc = parseReports(result.stdout)?.find((r) => r.dataset === INC.name);
          for (const file of inc?.files ?? []) {
            if (file.status === "applied") {
              appliedBy.set(file.fileName, (appliedBy.get(file.fileName) ?? 0) + 1);
            }
          }
        }
        if (appliers > 1) f.splitTrials++;
        for (const name of names) {
          const n = appliedBy.get(name) ?? 0;
          if (n !== 1) problems.push(`File "${name}" was applied by "${n}" processes`);
        }
        await settled(env.proxy.events, mark);
        problems.push(...countArchives(env.proxy.events.slice(mark), trial.bucket, names));
        problems.push(...await checkFinalState(env, trial, stream.files, stream.expected));
      } catch (error) {
        problems.push(`Trial stopped: ${error instanceof Error ? error.message : error}`);
      } finally {
        await trial.close().catch((error) => problems.push(`Cannot clean up the trial: ${error}`));
      }
      const ms = Math.round(performance.now() - trialStarted);
      f.trials++;
      f.maxTrialMs = Math.max(f.maxTrialMs, ms);
      if (problems.length === 0) f.passed++;
      failures.push(...problems.map((p) => `${processes} processes, trial ${t}: ${p}`));
      options.log(
        `${processes} processes, trial ${t}: ${problems.length === 0 ? "ok" : "FAILED"} ` +
          `(${ms} ms)` + problems.map((p) => `\n  ${p}`).join(""),
      );
    }
  }
  return {
    mode: "concurrency",
    seed: options.seed,
    staggerMs: options.staggerMs ?? 0,
    stream: { files: names.length, tickets: stream.expected.size },
    figures,
    failures,
    durationMs: Math.round(performance.now() - started),
    ok: failures.length === 0,
  };
}

/**
 * Waits (up to 2 s) until every request since `mark` has its closing event: the proxy records
 * `done` only after it read the upstream's end, which can come after the client, having its
 * whole answer, already went on and exited.
 */
async function settled(events: readonly ProxyEvent[], mark: number): Promise<void> {
  const deadline = performance.now() + 2000;
  for (;;) {
    const open = new Set<number>();
    for (const event of events.slice(mark)) {
      if (event.type === "request") open.add(event.request.id);
      else if (event.type === "done" || event.type === "error") open.delete(event.request.id);
    }
    if (open.size === 0 || performance.now() > deadline) return;
    await sleep(5);
  }
}

/** Every file must have been copied to `processed/` once and deleted from `changes/` once. */
function countArchives(events: readonly ProxyEvent[], bucket: string, names: string[]): string[] {
  const problems: string[] = [];
  const count = (op: "copy" | "delete", key: string) =>
    events.filter((e) =>
      e.type === "done" && e.request.op === op && e.request.key === key &&
      e.request.target.startsWith(`/${bucket}/`) && (e.status ?? 0) < 300
    ).length;
  for (const name of names) {
    const copies = count("copy", INC.processedPrefix + name);
    const deletes = count("delete", INC.changesPrefix + name);
    if (copies !== 1 || deletes !== 1) {
      problems.push(`File "${name}" was archived with "${copies}" copies and "${deletes}" deletes`);
    }
  }
  return problems;
}

/**
 * Checks one process's exit and output; returns what it did. Every dataset report must be `ok`
 * without error, or `locked` saying so; stderr may hold info-level log lines only.
 */
function judge(
  result: WorkerResult,
  problems: string[],
  who: string,
): "applied" | "empty" | "locked" | "bad" {
  const before = problems.length;
  if (result.timedOut) {
    problems.push(`${who} hung: SIGKILLed by the harness after ${result.durationMs} ms`);
  } else if (result.code !== 0 || result.signal !== null) {
    problems.push(`${who} exited with code "${result.code}" signal "${result.signal}"`);
  }
  const reports = parseReports(result.stdout);
  if (reports === null) {
    problems.push(
      `${who} printed no JSON report: ${JSON.stringify(result.stdout.slice(0, 300))}; stderr: ${
        JSON.stringify(result.stderr.slice(-600))
      }`,
    );
    return "bad";
  }
  for (const line of troubleLines(result.stderr)) problems.push(`${who} logged: ${line}`);
  let applied = false;
  let locked = false;
  for (const report of reports) {
    checkReport(report, problems, who);
    if (report.status === "locked") locked = true;
    if (report.files.some((f) => f.status === "applied")) applied = true;
  }
  if (problems.length > before) return "bad";
  return applied ? "applied" : locked ? "locked" : "empty";
}

function checkReport(report: ReportSummary, problems: string[], who: string): void {
  const where = `${who} (dataset "${report.dataset}")`;
  if (report.status === "locked") {
    if (!LOCK_HELD.test(report.error ?? "")) {
      problems.push(`${where} is locked with error ${JSON.stringify(report.error)}`);
    }
    if (report.files.length > 0) problems.push(`${where} is locked but lists files`);
    return;
  }
  if (report.status !== "ok") {
    problems.push(`${where} has status "${report.status}": ${report.error}`);
  } else if (report.error !== undefined) {
    problems.push(`${where} is ok but has error ${JSON.stringify(report.error)}`);
  }
  for (const file of report.files) {
    // `not_reached` files follow a failed one, already reported.
    if (file.status === "failed") {
      problems.push(`${where}: file "${file.fileName}" failed: ${file.error}`);
    }
    if (file.action === "archive") {
      // Nothing crashed: a committed file still waiting in changes/ means two runs overlapped.
      problems.push(`${where}: file "${file.fileName}" was committed by another run`);
    }
  }
  for (const error of report.afterApply?.errors ?? []) {
    problems.push(`${where}: post-apply step failed: ${error}`);
  }
}

/** The human-readable summary. */
export function formatConcurrencySummary(summary: ConcurrencySummary): string {
  const lines = [
    `Concurrent ingest --apply runs (seed ${summary.seed}, ${summary.stream.files} files, ` +
    `${summary.stream.tickets} tickets per trial, started ${
      summary.staggerMs > 0 ? `within ${summary.staggerMs} ms` : "at once"
    }):`,
  ];
  for (const f of summary.figures) {
    lines.push(
      `  ${f.processes} processes x ${f.trials} trials: ${f.passed} passed; ` +
        `${f.applied} applied, ${f.locked} "locked", ${f.emptyRuns} found nothing left; ` +
        `${f.splitTrials} trials with more than one applier; slowest trial ${f.maxTrialMs} ms`,
    );
  }
  lines.push(`Wall time: ${(summary.durationMs / 1000).toFixed(1)} s`);
  if (summary.failures.length > 0) {
    lines.push(`FAILED (${summary.failures.length}):`, ...summary.failures.map((f) => `  ${f}`));
  } else lines.push("All checks passed.");
  return lines.join("\n");
}
