/**
 * `gazetteer export|import`: the review sheet out, the rows a person edited or added back in.
 *
 * @module
 */

import { isAbsolute } from "node:path";
import { type Config, DEMO_PGLITE_DIR, sameDir } from "../app/config.ts";
import { openDatabase } from "../app/open_database.ts";
import { FILE_LOCK_TIMEOUT_MS, sayingLockWaits } from "../core/lock_wait.ts";
import { exportGazetteer, importGazetteer } from "../core/gazetteer.ts";
import type { Database } from "../core/ports/mod.ts";
import { configToRead } from "./_config_to_read.ts";
import { type Context, UsageError } from "./_context.ts";
import { checkReadableFile } from "./_open_store.ts";
import { OUTPUT_ROOT, outputPath } from "./_output_path.ts";
import { closest } from "./_suggest.ts";

/** Runs `gazetteer`; returns the exit code. */
export async function runGazetteer(context: Context, args: string[]): Promise<number> {
  const { action, file } = readArgs(args);
  // Never inside the embedded database's folder (its files would be written over).
  const database = context.config.databaseUrl === undefined ? context.config.pgliteDir : undefined;
  // Through the real path (outputPath): a link must not carry the write outside ./.data.
  const target = action === "export" && file !== "-"
    ? await outputPath(file, { database, what: "the gazetteer sheet", extension: ".csv" })
    : undefined;
  // The sheet to import must be a file inside the checkout, checked before the database opens.
  const sheet = action === "import" ? await sheetToRead(file) : file;
  if (action === "import") await checkReadableFile(sheet, "the gazetteer sheet");
  // The data already there (after `deno task demo` alone, the demo's): a folder without a
  // database is refused, not made empty (which would hide the demo's from every later command).
  const config = await configToRead(context, { writes: action === "import" });
  const text = action === "import" ? await readSheetText(sheet) : "";
  if (action === "import") refuseDemoSheet(config, sheet, text);
  // Bounded waits for the tickets another session holds, as ingest's (before: as long as a
  // psql held them); then who holds them and how to end it.
  const wait = { command: "gazetteer", does: "writes", timeoutMs: FILE_LOCK_TIMEOUT_MS } as const;
  const db = await openDatabase(config, { requireMigrated: true, existing: true, lockWait: wait });
  try {
    return await sayingLockWaits(
      db,
      wait,
      () =>
        action === "export"
          ? exportSheet(context, db, target)
          : importSheet(context, db, sheet, text),
    );
  } finally {
    await db.close();
  }
}

/**
 * The demo's sheet (its rows' reason says DEMO DATA) goes only into the demo's database: anywhere
 * else its made-up points would become curated ones no geocoder overwrites (before: imported
 * without a word, over a real database's provider answers).
 */
function refuseDemoSheet(config: Config, sheet: string, text: string): void {
  const demo = config.databaseUrl === undefined && sameDir(config.pgliteDir, DEMO_PGLITE_DIR);
  if (demo || !text.includes("DEMO DATA")) return;
  throw new UsageError(
    `Cannot import "${sheet}": its rows are the demo's made-up points (DEMO DATA), which would ` +
      `become curated points no geocoder overwrites; they go only into the demo's database ` +
      `("deno task demo" puts them there), geocode this one with a provider`,
  );
}

/** The largest sheet `import` reads: about 50,000 places as `export` writes them. */
const MAX_SHEET_BYTES = 10_000_000;

/**
 * The sheet's text, which must be UTF-8 (as `export` writes it). Before, a Latin-1 sheet was
 * stored with U+FFFD for its accented letters, and a UTF-16 one failed with csv-parse's words.
 */
async function readSheetText(sheet: string): Promise<string> {
  // Read whole and checked whole before anything is written, so bounded: before, a 50 MB sheet
  // (808,243 rows) took 1.85 GB and over two minutes; a 10 MB one of 50,061 places, 264 MB and 42 s.
  const { size } = await Deno.stat(sheet);
  if (size > MAX_SHEET_BYTES) {
    throw new Error(
      `Cannot read the gazetteer sheet "${sheet}": it is ${(size / 1e6).toFixed(1)} MB, over the ` +
        `${MAX_SHEET_BYTES / 1e6} MB a sheet may be (about 50,000 places); ` +
        `is it the right file? Split a larger one and import each part`,
    );
  }
  const bytes = await Deno.readFile(sheet);
  // A BOM says UTF-16; without one, its NUL bytes do (they decode as UTF-8, the letters apart).
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) ||
    (bytes[0] === 0xfe && bytes[1] === 0xff) || bytes.includes(0);
  try {
    if (!utf16) return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch { /* said below */ }
  // Exit 1, as a sheet that cannot be read otherwise (empty, semicolons): the file is the fix.
  throw new Error(
    `Cannot read the gazetteer sheet "${sheet}": it is not UTF-8 (${
      utf16 ? "UTF-16" : "Latin-1 or a Windows code page?"
    }); save it as "CSV UTF-8"`,
  );
}

/** The action (`export` or `import`) and its file; anything else is a usage error. */
function readArgs(args: string[]): { action: "export" | "import"; file: string } {
  const [action, file, ...extra] = args;
  const actions = ["export", "import"];
  if (action !== undefined && !actions.includes(action) && !action.startsWith("-")) {
    const guess = closest(action, actions);
    throw new UsageError(
      `Unknown gazetteer action "${action}"${guess ? `: did you mean "${guess}"?` : ""} ` +
        "(use: gazetteer export FILE.csv|-, or gazetteer import FILE.csv)",
    );
  }
  if ((action !== "export" && action !== "import") || file === undefined || extra.length > 0) {
    throw new UsageError("Use: gazetteer export FILE.csv|- or gazetteer import FILE.csv");
  }
  return { action, file };
}

/** Writes the review sheet to `target`, or to stdout when undefined (`-`). */
async function exportSheet(
  context: Context,
  db: Database,
  target: string | undefined,
): Promise<number> {
  const csv = await exportGazetteer(db);
  if (target === undefined) context.io.stdout(csv);
  else {
    await Deno.writeTextFile(target, csv);
    context.out(`Wrote ${csv.split("\n").length - 2} gazetteer entries to ${target}`);
  }
  return 0;
}

/** Imports the sheet and says what changed; exit 1, importing nothing, when a row is wrong. */
async function importSheet(
  context: Context,
  db: Database,
  sheet: string,
  text: string,
): Promise<number> {
  const { out, io, redact } = context;
  const report = await importGazetteer(db, text, {
    name: `the gazetteer sheet "${sheet}"`,
  });
  // On stderr, where every command's failure goes (before: stdout).
  const fail = (text: string) => io.stderr(redact(`${text}\n`));
  for (const e of report.errors) fail(`${sheet}: line ${e.line} ${e.reason}`);
  if (report.errors.length > 0) {
    fail(`Imported nothing: fix the ${report.errors.length} row(s) above and import again`);
    return 1;
  }
  const skipped = report.skipped > 0 ? `, ${report.skipped} without coordinates left alone` : "";
  out(
    `Imported ${sheet}: ${report.changed} changed, ${report.unchanged} unchanged, ` +
      `${report.added} new${skipped}; ${report.resolved} tickets re-resolved`,
  );
  for (const w of report.warnings) out(`${sheet}: warning: line ${w.line}: ${w.reason}`);
  return 0;
}

/**
 * The sheet to import: a relative name that is no file here is looked for under `.data/`, where
 * `gazetteer export` writes it (so `export review.csv` then `import review.csv` round-trips).
 */
async function sheetToRead(file: string): Promise<string> {
  const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
  if (isAbsolute(file) || await exists(file)) return file;
  const under = `${OUTPUT_ROOT}/${file}`;
  return await exists(under) ? under : file;
}
