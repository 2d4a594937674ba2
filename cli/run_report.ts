/**
 * `report` and `capture`: compute one result on the migrated database and print it (text, or JSON with `--json`).
 *
 * @module
 */

import { openDatabase } from "../app/open_database.ts";
import { capture, formatCaptureReport } from "../core/capture.ts";
import { FILE_LOCK_TIMEOUT_MS, READ_LOCK_TIMEOUT_MS, sayingLockWaits } from "../core/lock_wait.ts";
import type { Database } from "../core/ports/mod.ts";
import { buildReport, formatReport } from "../core/run_report.ts";
import { configToRead } from "./_config_to_read.ts";
import { type Context, parse, UsageError } from "./_context.ts";
import { runTeamReport } from "./run_team_report.ts";

/** Runs `capture`; returns the exit code. */
export async function runCapture(context: Context, args: string[]): Promise<number> {
  return await printFromDatabase(context, args, capture, formatCaptureReport, false);
}

/** Runs `report`; returns the exit code. */
export async function runReport(context: Context, args: string[]): Promise<number> {
  if (args.some((a) => a === "--by" || a.startsWith("--by="))) {
    return await runTeamReport(context, args);
  }
  const teamFlag = args.find((a) => /^--(window|from|to|cluster)(=|$)/.test(a));
  if (teamFlag !== undefined) {
    throw new UsageError(
      `The flag "${teamFlag.split("=")[0]}" goes with --by team|owner (the closure report); ` +
        `the daily report takes only --json`,
    );
  }
  return await printFromDatabase(context, args, buildReport, formatReport, true);
}

/**
 * Computes one result on the migrated database and prints it as text, or JSON with --json. The
 * database must exist (after `deno task demo` alone, the demo's): capture on a new folder would
 * make an empty one that hides the demo's.
 */
async function printFromDatabase<T>(
  context: Context,
  args: string[],
  compute: (db: Database) => Promise<T>,
  format: (result: T) => string,
  onlyReads: boolean,
): Promise<number> {
  const { out } = context;
  const values = parse(args, { json: { type: "boolean" } });
  // Bounded waits for tables another session holds (before: status and report waited, silent,
  // as long as a psql held tickets.inc locked); capture writes, and waits as long as ingest.
  const wait = onlyReads
    ? { command: "report", does: "reads", timeoutMs: READ_LOCK_TIMEOUT_MS } as const
    : { command: "capture", does: "writes", timeoutMs: FILE_LOCK_TIMEOUT_MS } as const;
  const db = await openDatabase(await configToRead(context, { writes: !onlyReads }), {
    requireMigrated: true,
    existing: true,
    lockWait: wait,
  });
  try {
    const result = await sayingLockWaits(db, wait, () => compute(db));
    out(values.json ? JSON.stringify(result) : format(result));
    return 0;
  } finally {
    await db.close();
  }
}
