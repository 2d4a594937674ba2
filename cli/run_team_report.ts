/**
 * `report --by team|owner [--window W] [--from D --to D] [--cluster C] [--json]`: closure
 * attribution in the terminal, the same table as `/api/teams`.
 *
 * @module
 */

import { openDatabase } from "../app/open_database.ts";
import { readOnly } from "../core/read_only.ts";
import {
  formatTeamPerformance,
  type TeamPerformance,
  teamPerformance,
} from "../core/team_performance.ts";
import { configToRead } from "./_config_to_read.ts";
import { type Context, type Flags, parse, UsageError } from "./_context.ts";
import { type ReportWindow, reportWindow, WindowError } from "../core/report_window.ts";

/** Prints closure attribution; returns the exit code. */
export async function runTeamReport(context: Context, args: string[]): Promise<number> {
  const { config, out } = context;
  const values = parse(args, {
    by: { type: "string" },
    window: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    cluster: { type: "string" },
    json: { type: "boolean" },
  });
  const by = String(values.by);
  if (by !== "team" && by !== "owner") {
    throw new UsageError(`Cannot read --by "${by}": expected team or owner`);
  }
  const { window, from, to } = checkedWindow(values);
  const db = await openDatabase(await configToRead(context), {
    requireMigrated: true,
    existing: true,
  });
  try {
    const text = await readOnly(
      db,
      { timeoutMs: config.serve.statementTimeoutMs },
      (tx) => teamPerformance(tx, { by, window, from, to, cluster: values.cluster as string }),
    );
    out(values.json ? text : formatTeamPerformance(JSON.parse(text) as TeamPerformance));
    return 0;
  } finally {
    await db.close();
  }
}

/** The window flags, checked before the database opens (a mistake is exit 2 naming the flag). */
function checkedWindow(values: Flags): ReportWindow {
  try {
    return reportWindow({
      window: values.window as string | undefined,
      from: values.from as string | undefined,
      to: values.to as string | undefined,
    }, (parameter) => `--${parameter}`);
  } catch (error) {
    if (error instanceof WindowError) throw new UsageError(error.message);
    throw error;
  }
}
