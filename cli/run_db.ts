/**
 * `db export FILE.sql|-`: the embedded database as SQL that `psql -f` loads into PostgreSQL +
 * PostGIS, for a deployment that outgrows the embedded default.
 *
 * @module
 */

import { ConfigError } from "../app/config.ts";
import {
  checkEmbeddedDir,
  IncompleteDatabaseError,
  incompleteNote,
  openPgliteFolder,
  requireCurrentEmbedded,
} from "../app/open_database.ts";
import { describeEmbedded, hasPgliteDatabase } from "../adapters/pglite_database.ts";
import { exportDatabase, type ExportSource, type ExportSummary } from "../core/export_database.ts";
import { configToRead } from "./_config_to_read.ts";
import { type Context, type MainIo, UsageError } from "./_context.ts";
import { outputPath } from "./_output_path.ts";
import { closest } from "./_suggest.ts";

/** Runs `db`; returns the exit code. */
export async function runDb(context: Context, args: string[]): Promise<number> {
  const file = exportFile(args);
  const dir = await embeddedDirToExport(context);
  const target = file === "-" ? undefined : await outputPath(file, { database: dir });
  // Opened first: a database held by another run fails the export before any file is touched.
  const db = await openPgliteFolder({ dataDir: dir });
  // Written beside the target and renamed at the end, so a failed export never leaves a cut-off
  // file, nor empties an earlier export of the same name.
  const partial = target === undefined ? undefined : `${target}.partial`;
  const written = { done: false };
  const unwatch = context.io.onSignal((signal) =>
    stopExport(context.io, signal, written.done ? undefined : partial, target)
  );
  try {
    // The script carries this version's schema and definitions: a database behind it is refused
    // (migrate it first, as every other command says), never upgraded here. Before, the export
    // migrated it without a word, so a backup copy exported became unusable by the release it
    // was taken from.
    await requireCurrentEmbedded(db, dir);
    const summary = await writeExport(db, dir, partial, context.io);
    if (target !== undefined && partial !== undefined) {
      await keepMode(target, partial);
      // Synchronous, and marked done in the same step: a signal is handled before or after both,
      // never told "not written" for a file that was.
      Deno.renameSync(partial, target);
      written.done = true;
      context.out(writtenLine(target, summary));
    }
    return 0;
  } catch (error) {
    if (partial !== undefined) await Deno.remove(partial).catch(() => {});
    throw error;
  } finally {
    unwatch();
    await db.close();
  }
}

/**
 * An export replacing an earlier one keeps that file's permissions (as `cp` onto it would): a
 * backup an operator made private (`chmod 600`) stays private. Before, it became `644`.
 */
async function keepMode(target: string, partial: string): Promise<void> {
  const mode = await Deno.stat(target).then((info) => info.mode, () => null);
  if (mode !== null) await Deno.chmod(partial, mode & 0o7777);
}

/**
 * Ctrl-C or SIGTERM during an export: the cut-off `.partial` file is removed (it was left behind)
 * and the process ends at once; an earlier export of the same name stays as it was. Once the
 * export is in place (`partial` undefined with a `target`), it says so.
 */
function stopExport(
  io: MainIo,
  signal: string,
  partial: string | undefined,
  target: string | undefined,
): void {
  if (partial !== undefined) {
    try {
      Deno.removeSync(partial);
    } catch { /* not written yet */ }
  }
  const what = target === undefined
    ? "the export was not written"
    : partial === undefined
    ? `the export was written to "${target}" just before`
    : `the export was not written ("${target}" is as it was)`;
  io.stderr(`Interrupted by ${signal}: ${what}\n`);
  io.exit?.(signal === "SIGINT" ? 130 : 143);
}

/** `db export FILE.sql|-`'s FILE; a usage error for any other command line. */
function exportFile(args: string[]): string {
  const [action, file, ...extra] = args;
  if (action !== undefined && action !== "export" && !action.startsWith("-")) {
    // An export is loaded with psql, not by fleettickets: say so to whoever looks for `import`.
    const hint = action === "import" || action === "load" || action === "restore"
      ? ': an export is loaded with psql (psql "$DATABASE_URL" -f FILE.sql)'
      : closest(action, ["export"]) === "export"
      ? ': did you mean "export"?'
      : "";
    throw new UsageError(`Unknown db action "${action}"${hint} (use: db export FILE.sql, or -)`);
  }
  if (action !== "export" || file === undefined || extra.length > 0) {
    throw new UsageError("Use: db export FILE.sql (or - for stdout)");
  }
  return file;
}

/** The embedded database's folder; refused with DATABASE_URL set or with no database there. */
async function embeddedDirToExport(context: Context): Promise<string> {
  if (context.config.databaseUrl !== undefined) {
    throw new ConfigError(
      "Cannot export: db export copies the embedded database, and DATABASE_URL is set; " +
        "unset it to export the embedded one (use pg_dump for a PostgreSQL server)",
    );
  }
  // After `deno task demo` alone, the demo's database (as serve, sql and report read it).
  const dir = (await configToRead(context)).pgliteDir;
  checkEmbeddedDir(dir);
  // A folder its builder left half-way (a stopped demo) is refused as by every other command.
  const note = await incompleteNote(dir);
  if (note !== undefined) throw new IncompleteDatabaseError(dir, note);
  if (!(await hasPgliteDatabase(dir))) {
    throw new ConfigError(
      `Cannot export: there is no embedded database in "${dir}" (PGLITE_DIR); ` +
        `run "deno task ingest" or "deno task demo" first, or point PGLITE_DIR at it`,
    );
  }
  return dir;
}

/** Writes the export to `partial`, or to stdout without one. */
async function writeExport(
  db: ExportSource,
  dir: string,
  partial: string | undefined,
  io: MainIo,
): Promise<ExportSummary> {
  const encoder = new TextEncoder();
  const sink = partial === undefined
    ? undefined
    : await Deno.open(partial, { write: true, create: true, truncate: true });
  const writer = sink?.writable.getWriter();
  return await exportDatabase(
    db,
    async (text) => writer ? await writer.write(encoder.encode(text)) : io.stdout(text),
    { description: describeEmbedded(dir) },
  ).finally(() => writer?.close().catch(() => {}));
}

/** What was written, and how to load it. */
function writtenLine(target: string, summary: ExportSummary): string {
  const rows = Object.entries(summary.tables).filter(([, n]) => n > 0)
    .map(([table, n]) => `${table} ${n}`).join(", ");
  return `Wrote ${target}: ${summary.migrations} migrations and ${rows || "no rows"}\n` +
    `Load it into an empty PostgreSQL database with PostGIS available (createdb NAME first):\n` +
    `  psql "postgres://USER@HOST/NAME" -v ON_ERROR_STOP=1 --single-transaction -f ${target}\n` +
    `then set DATABASE_URL to that URL and check with "deno task status"`;
}
