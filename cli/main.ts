/**
 * fleettickets command line: parses the command and hands it to `cli/run_<command>.ts`.
 *
 * Exit codes: 0 done (including nothing to do, or another run holds the lock), 1 a file or the
 * run failed, 2 usage or configuration error.
 *
 * @module
 */

import { ConfigError, configSecrets, loadConfig } from "../app/config.ts";
import { PendingMigrationsError } from "../app/open_database.ts";
import { createRedactor } from "../app/redact.ts";
import { DatabaseLockedError } from "../adapters/pglite_database.ts";
import { DATASETS } from "../core/datasets.ts";
import { type Context, defaultIo, type MainIo, UsageError } from "./_context.ts";
import { runDemo } from "./run_demo.ts";
import { runGazetteer } from "./run_gazetteer.ts";
import { runGeocode } from "./run_geocode.ts";
import { runIngest } from "./run_ingest.ts";
import { runMigrate } from "./run_migrate.ts";
import { runCapture, runReport } from "./run_report.ts";
import { runServe } from "./run_serve.ts";
import { runStatus } from "./run_status.ts";

export type { MainIo };

const USAGE = `Usage: fleettickets <command> [options]

Commands:
  migrate                          apply pending schema migrations
  ingest --from-bucket|--from-dir DIR|--csv FILE [--apply] [--reseed] [--json] [--dataset NAME]
                                   drain change files (dry run unless --apply)
  geocode --clusters|--locations [--apply] [--budget N] [--dataset inc|crq|all] [--retry-misses]
                                   look up places tickets need (dry run unless --apply)
  capture [--json]                 append new INC closures, upsert today's backlog snapshot
  report [--json]                  backlog by cluster with SLA split, oldest open, closures,
                                   backlog over time, freshness
  report --by team|owner [--window 7d|today|yesterday|30d|mtd] [--from D --to D] [--cluster C]
                                   closure attribution: MTTR, SLA compliance, backlog, reopened
  gazetteer export FILE.csv|-      the review sheet (place, lat, lon, source, verified, reason)
  gazetteer import FILE.csv        curated coordinates back in (stored as verified "manual")
  status [--json] [--max-age HOURS] [--from-bucket|--from-dir DIR]
                                   per dataset: watermark, pending files, last run, backlog, lag;
                                   exit 1 when stale or failing
  demo                             drain a generated stream into a fresh embedded database
  serve [--port 8080] [--host 127.0.0.1]
                                   the read-only API and map page (docs/serve.md)

Options:
  --from-bucket       read the bucket named by TICKETS_BUCKET (RUSTFS_* / AWS_* credentials)
  --from-dir DIR      read a folder that mirrors the bucket root (DIR/automations/inc/changes/)
  --csv FILE          apply one local change file (dev use; never moved)
  --apply             write to the database and archive applied files (default: dry run)
  --reseed            apply every change file present, ignoring the watermark and ledger
  --dataset NAME      ${Object.keys(DATASETS).join(", ")} or all (default inc)
  --json              print one machine-readable report on stdout (with each file's profile)
  --profile           print where each file's time went (download/parse/COPY, merge, ledger, …)
  --wait-lock SECS    wait up to SECS for another run's lock instead of skipping (default 0)
  --log-format F      auto (default: text on a terminal, JSON lines otherwise), text or json
  -h, --help          show this help`;

/** Runs the CLI and returns the process exit code. */
export async function main(args: string[], io: MainIo = defaultIo): Promise<number> {
  let redact = (text: string) => text;
  const out = (text: string) => io.stdout(redact(text) + "\n");
  const err = (text: string) => io.stderr(redact(text) + "\n");
  try {
    const [command, ...rest] = args;
    if (command === undefined || command === "-h" || command === "--help") {
      out(USAGE);
      return command === undefined ? 2 : 0;
    }
    const config = loadConfig(io.env);
    redact = createRedactor(configSecrets(config));
    const context: Context = { config, io, redact, out };
    switch (command) {
      case "migrate":
        return await runMigrate(config, out);
      case "ingest":
        return await runIngest(context, rest);
      case "status":
        return await runStatus(context, rest);
      case "geocode":
        return await runGeocode(context, rest);
      case "capture":
        return await runCapture(context, rest);
      case "report":
        return await runReport(context, rest);
      case "gazetteer":
        return await runGazetteer(context, rest);
      case "demo":
        return await runDemo({ out });
      case "serve":
        return await runServe(context, rest);
      default:
        throw new UsageError(`Unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      err(`${error.message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof PendingMigrationsError) {
      err(error.message);
      return 2;
    }
    if (error instanceof DatabaseLockedError) {
      out(error.message);
      return 0;
    }
    err(`fleettickets: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}
