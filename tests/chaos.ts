/**
 * `deno task chaos`: proves with figures that the drain keeps its promises when the worker is
 * killed (default mode) or runs concurrently (`--concurrency`). Issue 7, items 1 and 4.
 *
 * ```sh
 * CHAOS_DATABASE_URL=postgres://postgres@127.0.0.1:55432/fleettickets_test deno task chaos
 * deno task chaos --runs 60 --seed 7          # more kill points, a fixed plan
 * deno task chaos --concurrency --trials 20   # 2 and 4 simultaneous processes, 20 trials each
 * ```
 *
 * Needs a real PostgreSQL + PostGIS server: `CHAOS_DATABASE_URL`, else `TEST_DATABASE_URL`.
 * Creates its own scratch databases there and drops them at the end. The worker is the real CLI
 * (`deno run -P=worker main.ts ingest --from-bucket --apply --json`) against s3rver behind the
 * fault proxy. Exit 0 when every check passed, 1 when any failed, 2 on a usage error.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type ConcurrencySummary,
  formatConcurrencySummary,
  runConcurrencyChaos,
} from "./_chaos_concurrency.ts";
import { openChaosEnv } from "./_chaos_env.ts";
import { formatKillSummary, type KillSummary, runKillChaos } from "./_chaos_kill.ts";

const USAGE = `Usage: deno task chaos [--runs N] [--seed S] [--json]
       deno task chaos --concurrency [--trials N] [--seed S] [--json]

  --runs N         kill points (default 20), spread over the kinds, about 3 per trial
  --per-trial K    kill points per trial (default 3)
  --concurrency    2 and 4 simultaneous ingest --apply processes instead of kills
  --trials N       trials per process count with --concurrency (default 20)
  --stagger MS     with --concurrency: start the processes within MS ms, not at once (default 0)
  --seed S         seed of the plan and the stream (default: random, printed)
  --json           one JSON summary on stdout (progress on stderr)

Database: CHAOS_DATABASE_URL, else TEST_DATABASE_URL (a PostgreSQL + PostGIS server).`;

/** Runs the harness with `args`; returns the exit code. */
export async function chaos(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        runs: { type: "string", default: "20" },
        "per-trial": { type: "string", default: "3" },
        concurrency: { type: "boolean", default: false },
        trials: { type: "string", default: "20" },
        stagger: { type: "string", default: "0" },
        seed: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const runs = count(values.runs, "--runs");
  const perTrial = count(values["per-trial"], "--per-trial");
  const trials = count(values.trials, "--trials");
  const staggerMs = count(values.stagger, "--stagger", 0);
  const seed = values.seed === undefined
    ? Math.floor(Math.random() * 1_000_000)
    : count(values.seed, "--seed", 0);
  if ([runs, perTrial, trials, staggerMs, seed].includes(undefined)) return 2;
  const baseUrl = Deno.env.get("CHAOS_DATABASE_URL") || Deno.env.get("TEST_DATABASE_URL");
  if (!baseUrl) {
    console.error(
      "Cannot run: set CHAOS_DATABASE_URL or TEST_DATABASE_URL to a PostgreSQL + PostGIS server " +
        '(e.g. "postgres://postgres@127.0.0.1:55432/fleettickets_test")',
    );
    return 2;
  }
  // With --json, stdout carries only the summary.
  const log = values.json
    ? (line: string) => console.error(line)
    : (line: string) => console.log(line);
  const env = await openChaosEnv(baseUrl);
  let summary: KillSummary | ConcurrencySummary;
  try {
    summary = values.concurrency
      ? await runConcurrencyChaos(env, { trials: trials!, seed: seed!, staggerMs, log })
      : await runKillChaos(env, { runs: runs!, perTrial, seed: seed!, log });
  } finally {
    await env.close();
  }
  if (values.json) console.log(JSON.stringify(summary));
  else {
    console.log(
      "\n" +
        (summary.mode === "kill" ? formatKillSummary(summary) : formatConcurrencySummary(summary)),
    );
  }
  return summary.ok ? 0 : 1;
}

/** A whole number from a flag, or undefined after printing why not. */
function count(value: string | undefined, flag: string, min = 1): number | undefined {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    console.error(`Cannot read ${flag} "${value}": expected a whole number >= ${min}\n\n${USAGE}`);
    return undefined;
  }
  return n;
}

if (import.meta.main) {
  Deno.exit(await chaos(Deno.args));
}
