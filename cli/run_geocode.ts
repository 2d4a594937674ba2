/**
 * `geocode`: looks up the places tickets need (dry run unless `--apply`).
 *
 * @module
 */

import { type Config, ConfigError } from "../app/config.ts";
import { createGeocoder } from "../app/create_geocoder.ts";
import { openDatabase } from "../app/open_database.ts";
import { FILE_LOCK_TIMEOUT_MS, sayingLockWaits } from "../core/lock_wait.ts";
import { geocode, GEOCODE_LOCK, type GeocodeReport } from "../core/geocode.ts";
import type { Dataset } from "../core/datasets.ts";
import type { Database, Geocoder } from "../core/ports/mod.ts";
import { configToRead } from "./_config_to_read.ts";
import { amount, type Context, datasetsFlag, parse, UsageError } from "./_context.ts";
import { watchStopSignals } from "./_stop_signals.ts";

/** geocode's waits for the tickets another session holds: as long as ingest's. */
const GEOCODE_WAIT = {
  command: "geocode",
  does: "writes",
  timeoutMs: FILE_LOCK_TIMEOUT_MS,
} as const;

/** Early stops that mean the run failed (a budget stop is the run doing what it was told). */
const FAILED_STOPS = ["provider", "provider unreachable", "provider failing", "signal"];

/**
 * One mode's report as the terminal shows it; `clusters`, this run's clusters report when it
 * looked (or, dry, would look) them up before the locations.
 */
function formatGeocodeReport(report: GeocodeReport, clusters?: GeocodeReport): string {
  return `${report.mode}: ${report.places} distinct places for ${report.tickets} tickets; ` +
    `${report.cached} cached, ${report.toLookUp} to look up` +
    (report.waitingForCluster
      ? `, ${report.waitingForCluster} waiting for a cluster centroid${
        waitingWhy(report, clusters)
      }`
      : "") +
    (report.apply
      ? `; ${report.calls} calls to ${report.provider}: ${report.hits} hits, ${report.misses} misses, ` +
        `${report.rejected} rejected; ${report.resolved} tickets re-resolved`
      : " (dry run: --apply looks them up)") +
    (report.stoppedBy ? `; stopped by ${report.stoppedBy}` : "") +
    (report.error ? `\n  ${report.error}` : "");
}

/**
 * Runs `geocode`; returns the exit code: 1 when it stopped on a failure or every call failed.
 * With both `--clusters` and `--locations`, clusters go first and both share the budget.
 */
export async function runGeocode(context: Context, args: string[]): Promise<number> {
  const run = readGeocodeRun(
    context.config,
    args,
    (text) => context.io.stderr(context.redact(`${text}\n`)),
  );
  // The loop stops between calls; a call in flight or a step that cannot be interrupted gets
  // the grace, and a second Ctrl-C ends it at once (what was written stays: each is committed).
  const stopping = watchStopSignals(context.io, {
    redact: context.redact,
    reason: (signal) => new Error(`Interrupted by ${signal}`),
    graceMs: GEOCODE_GRACE_MS,
  });
  let db: Database | undefined;
  try {
    // The tickets already there (after `deno task demo` alone, the demo's): a folder without a
    // database is refused, not made empty (a dry run writes nothing; an apply has nothing to do).
    db = await openDatabase(await configToRead(context, { writes: run.apply }), {
      requireMigrated: true,
      existing: true,
      lockWait: GEOCODE_WAIT,
    });
    if (run.apply && !await db.tryLock(GEOCODE_LOCK)) {
      // Two at once would each pay for every place (before: both looked all of them up).
      const said = "Another geocode run holds the lock (two at once would pay for the same " +
        "places twice): nothing was looked up; rerun once it has finished";
      context.out(run.json ? JSON.stringify({ status: "locked", error: said }) : said);
      return 0;
    }
    // Bounded waits for the tickets another session holds, as ingest's (before: as long as a
    // psql held them); then who holds them and how to end it.
    const opened = db;
    return await sayingLockWaits(
      opened,
      GEOCODE_WAIT,
      () => geocodeModes(context, opened, run, stopping.signal),
    );
  } finally {
    stopping.stop();
    await db?.close();
  }
}

/**
 * After a signal, a request in flight gets its whole timeout (10 s, adapters/_http_geocoder.ts)
 * and its answer is stored: it is paid for. Before, the 5 s grace could end the process first.
 */
const GEOCODE_GRACE_MS = 12_000;

/** The .env.example's placeholder key: sent, it is one paid-for refusal. */
const PLACEHOLDER_KEY = "CHANGE_ME";

/** What `geocode`'s flags ask for. */
interface GeocodeRun {
  modes: ("clusters" | "locations")[];
  apply: boolean;
  budget: number | undefined;
  datasets: Dataset[];
  retryMisses: boolean;
  json: boolean;
  geocoder: Geocoder | undefined;
}

/** Reads `geocode`'s flags; a usage error without a mode, a configuration one without a key. */
function readGeocodeRun(
  config: Config,
  args: string[],
  onWait: (text: string) => void,
): GeocodeRun {
  const values = parse(args, {
    clusters: { type: "boolean" },
    locations: { type: "boolean" },
    apply: { type: "boolean" },
    budget: { type: "string" },
    dataset: { type: "string", default: "all" },
    "retry-misses": { type: "boolean" },
    json: { type: "boolean" },
  });
  if (!values.clusters && !values.locations) {
    throw new UsageError("Choose --clusters, --locations, or both (clusters first, one budget)");
  }
  const modes = (["clusters", "locations"] as const).filter((mode) => values[mode]);
  const datasets = datasetsFlag(values.dataset);
  const budget = values.budget === undefined ? config.geocoder.budget : wholeCalls(values.budget);
  const geocoder = createGeocoder(config.geocoder, { onWait });
  if (values.apply && geocoder === undefined) {
    throw new ConfigError(
      `Cannot geocode with --apply: set GEOCODER_API_KEY for "${config.geocoder.provider}"`,
    );
  }
  // Nominatim sends a key only to a GEOCODER_BASE_URL service (never to OpenStreetMap's).
  const sendsKey = config.geocoder.provider !== "nominatim" ||
    config.geocoder.baseUrl !== undefined;
  if (values.apply && sendsKey && config.geocoder.apiKey === PLACEHOLDER_KEY) {
    throw new ConfigError(
      `Cannot geocode with --apply: GEOCODER_API_KEY is still .env.example's placeholder; set ` +
        `your ${config.geocoder.provider} key`,
    );
  }
  const apply = values.apply === true;
  const retryMisses = values["retry-misses"] === true;
  return { modes, apply, budget, datasets, retryMisses, json: Boolean(values.json), geocoder };
}

/**
 * A line on stderr every 5 s on a terminal (every minute in a log) while places are looked up:
 * before, nothing until the mode ended (50 s for 100 calls at LocationIQ's 2 a second).
 */
export function progressLine(
  io: Pick<Context["io"], "terminal" | "stderr">,
  redact: (text: string) => string,
  budgetLeft?: number,
  now: () => number = () => performance.now(),
): (report: GeocodeReport) => void {
  const everyMs = io.terminal.stderr ? 5_000 : 60_000;
  let last = now();
  return (report) => {
    if (now() - last < everyMs) return;
    last = now();
    io.stderr(redact(
      `${report.mode}: ${report.calls} of ${report.toLookUp} looked up so far` +
        (budgetLeft !== undefined && budgetLeft < report.toLookUp
          ? `, ${budgetLeft} at most this run (the budget)`
          : "") +
        ` (${report.hits} hits, ${report.misses} misses, ${report.rejected} rejected)\n`,
    ));
  };
}

/**
 * Why locations wait for their cluster, given this run's clusters report (if it ran that mode):
 * in a dry run of both, the clusters are not looked up yet (before, "0 to look up" read as nothing
 * to do); else theirs has no point a provider gave, and what to do (before, the same words run
 * after run, with no way out named).
 */
function waitingWhy(report: GeocodeReport, clusters: GeocodeReport | undefined): string {
  const manual = "place it with gazetteer import, kind cluster, status manual";
  // The clusters left to look up will be, dry or stopped; the others have no point to give.
  if (clusters && clusters.toLookUp > clusters.calls) {
    return report.apply
      ? ` (their cluster has no accepted point yet: the clusters stopped by ${clusters.stoppedBy}` +
        `; a miss or a rejected answer: ${manual})`
      : " (looked up once the clusters are: --apply does both)";
  }
  if (!report.apply && !clusters) return "";
  return clusters
    ? ` (their cluster has no accepted point: a miss, or an answer the 60 km guard rejected; ${manual})`
    : ` (their cluster has no accepted point: geocode --clusters if it was never looked up; a miss or a rejected answer: ${manual})`;
}

/** `--budget`: a whole number of calls, 0 or more (before: 1.5 made 2 calls). */
function wholeCalls(value: string | boolean): number {
  const refused = () =>
    new UsageError(`Cannot read --budget "${value}": expected a whole number of calls, 0 or more`);
  let n: number;
  try {
    n = amount(value, "--budget", "calls");
  } catch {
    throw refused(); // in the same words as 1.5 (before: "a number of calls" for 1e1 or -1)
  }
  if (!Number.isInteger(n)) throw refused();
  return n;
}

/** Geocodes each mode in turn within one budget, printing each report; returns the exit code. */
async function geocodeModes(
  { io, out, redact }: Context,
  db: Database,
  run: GeocodeRun,
  signal: AbortSignal,
): Promise<number> {
  // Clusters first: a place is looked up once its cluster has a point (the wrong-city guard).
  let spent = 0;
  let clustersReport: GeocodeReport | undefined;
  for (const mode of run.modes) {
    const report = await geocode(db, run.geocoder, {
      mode,
      apply: run.apply,
      budget: run.budget,
      budgetSpent: spent,
      datasets: run.datasets,
      retryMisses: run.retryMisses,
      signal,
      onLookup: progressLine(io, redact, run.budget === undefined ? undefined : run.budget - spent),
    });
    spent += report.calls;
    out(run.json ? JSON.stringify(report) : formatGeocodeReport(report, clustersReport));
    if (mode === "clusters") clustersReport = report;
    // Every call failed, or the provider stopped the run (a refused key, a quota): say why on
    // stderr, where cron's mail and the log look.
    const stopped = report.stoppedBy !== undefined && report.stoppedBy !== "signal" &&
      FAILED_STOPS.includes(report.stoppedBy);
    // Stopped by a signal, the calls it cut short are no setting to check.
    const why = report.stoppedBy === "signal"
      ? ""
      : report.failed ?? (stopped ? `stopped by ${report.stoppedBy}: ${report.error}` : "");
    if (why !== "") {
      // A rate limit or quota is waited out, not fixed in the settings (before: "check
      // GEOCODER_BASE_URL and GEOCODER_API_KEY" for those too).
      const fix = report.limited
        ? "the provider's rate limit or quota: the next run goes on once it resets; lower " +
          "GEOCODER_RATE or GEOCODER_BUDGET, or raise the plan's limits"
        : "check GEOCODER_BASE_URL and GEOCODER_API_KEY";
      io.stderr(redact(`Cannot geocode: ${why}; ${fix}\n`));
    }
    if (report.failed || FAILED_STOPS.includes(report.stoppedBy ?? "")) {
      return 1; // the provider is not answering: the next mode would fail the same way
    }
  }
  return 0;
}
