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
import { closest } from "./_suggest.ts";
import type { Database } from "../core/ports/mod.ts";
import { terminalText } from "../core/terminal_text.ts";
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
  // Any case, as --window (before: "Team" refused while "7D" was taken, a tester's).
  const by = String(values.by).trim().toLowerCase();
  if (by !== "team" && by !== "owner") {
    throw new UsageError(`Cannot read --by "${values.by}": expected team or owner`);
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
    const report = JSON.parse(text) as TeamPerformance;
    out(values.json ? text : formatTeamPerformance(report));
    const cluster = values.cluster as string | undefined;
    if (cluster !== undefined && report.rows.length === 0) {
      context.io.stderr(await unknownClusterNote(db, cluster));
    }
    return 0;
  } finally {
    await db.close();
  }
}

/**
 * Why a `--cluster` report is empty when no ticket has that cluster (a typo, most often):
 * a note on stderr with the closest name; empty when the cluster exists (no closures then).
 */
async function unknownClusterNote(db: Database, cluster: string): Promise<string> {
  const rows = await db.query<{ cluster: string }>(
    `select distinct cluster from tickets.inc where cluster is not null order by 1`,
  );
  const names = rows.map((r) => r.cluster);
  if (names.some((name) => name.toLowerCase() === cluster.toLowerCase())) return "";
  const guess = closest(cluster, names);
  // The feed's names (and the flag) escaped, as the report's table writes them: a cluster's
  // control characters must not reach the terminal.
  return terminalText(
    `No INC ticket has cluster "${cluster}"` +
      (guess ? `: did you mean "${guess}"?` : "") +
      (names.length > 0 && names.length <= 30 ? ` (clusters: ${names.join(", ")})` : ""),
  ) + "\n";
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
