/**
 * `sql`: runs SQL on the configured database (the embedded one by default) and prints the rows,
 * or for a statement that returns none what it did (`INSERT 0 1`, `UPDATE 3`, as psql), so the
 * README's queries work without a PostgreSQL client. It runs on the schema as it is (never
 * migrated, never refused) and says when that is not this version's.
 *
 * @module
 */

import { openDatabase, schemaNotice } from "../app/open_database.ts";
import { eatIso } from "../core/eat_time.ts";
import type { Database, Row, StatementResult } from "../core/ports/mod.ts";
import { configToRead } from "./_config_to_read.ts";
import { type Context, parseWithPositionals, UsageError } from "./_context.ts";

/** Runs `sql`; returns the exit code. */
export async function runSql(context: Context, args: string[]): Promise<number> {
  const { out } = context;
  const { text, json, maxRows } = readArgs(args);
  const sql = text === "-" ? await new Response(Deno.stdin.readable).text() : text;
  if (sql.trim() === "") {
    // Before: a blank line and exit 0, as if something ran (a tester's).
    throw new UsageError(
      `Give the SQL to run: the SQL ${text === "-" ? "read from stdin" : "given"} is empty ` +
        `(deno task sql "select …", or - to read stdin)`,
    );
  }
  const target = await configToRead(context);
  const db = await openDatabase(target, { existing: true });
  try {
    // The schema as it is, never migrated nor refused: sql is how an operator looks at the
    // ledgers of a database another version migrated. It says so first.
    const notice = await schemaNotice(db, target);
    if (notice !== undefined) {
      context.io.stderr(context.redact(`Note: ${notice} (sql runs on the schema as it is)\n`));
    }
    const result = await runStatementOrScript(db, sql);
    if (result?.command === "" && result.columns.length === 0) {
      // Comments alone: the server ran nothing (before: a blank line, exit 0).
      if (onlyComments(sql)) {
        throw new UsageError(
          `Give the SQL to run: the SQL ${text === "-" ? "read from stdin" : "given"} holds ` +
            `only comments`,
        );
      }
      // A statement the database answered with nothing at all: PGlite does for some
      // set-returning functions in FROM (select * from postgis_srs_search(…); a tester's, told
      // before that the SQL held only comments).
      context.io.stderr(
        "Note: the database answered this statement with no columns, no rows and no error " +
          "(the embedded database does for some functions in FROM; call one in the select " +
          "list instead)\n",
      );
      out(json ? "[]" : "(no columns, no rows)");
      return 0;
    }
    if (result === undefined) {
      out(json ? "[]" : "Done (a script of several statements prints no rows)");
      return 0;
    }
    out(json ? rowsJson(result, maxRows) : formatStatement(result, maxRows, context.redact));
    const cut = json ? jsonCutNote(result.rows.length, maxRows) : undefined;
    if (cut !== undefined) context.io.stderr(`${cut}\n`);
    const twice = sharedColumnNames(result.columns);
    if (twice.length > 0) context.io.stderr(`${sharedNamesNote(twice)}\n`);
    return 0;
  } finally {
    await db.close();
  }
}

/**
 * Whether `sql` holds nothing but comments and white space (a `--` inside a string counts as a
 * comment here: such SQL is then taken as holding something, the safe side).
 */
export function onlyComments(sql: string): boolean {
  return sql.replace(/\/\*[^]*?\*\//g, "").replace(/--[^\n]*/g, "").trim() === "";
}

/** The arguments of `sql`: the SQL (or `-` for stdin), one argument, and its flags. */
function readArgs(args: string[]): { text: string; json: boolean; maxRows: number } {
  const { flags: values, positionals } = parseWithPositionals(sqlAsPositional(args), {
    json: { type: "boolean" },
    "max-rows": { type: "string" },
  });
  const [text, ...extra] = positionals;
  if (text === undefined) {
    throw new UsageError('Give the SQL to run: deno task sql "select …" (or - to read stdin)');
  }
  if (extra.length > 0) {
    throw new UsageError(
      `Give the SQL as one argument, in quotes: deno task sql "${positionals.join(" ")}"`,
    );
  }
  const maxRowsText = String(values["max-rows"] ?? "1000");
  // Decimal digits only: Number() also reads "0x10" (16) and "1e3".
  const maxRows = /^\d+$/.test(maxRowsText) ? Number(maxRowsText) : NaN;
  if (!Number.isInteger(maxRows)) {
    throw new UsageError(`Cannot read --max-rows "${values["max-rows"]}": expected a whole number`);
  }
  return { text, json: Boolean(values.json), maxRows };
}

/**
 * The arguments with SQL that starts with a dash (a `-- comment` line first) put after `--`,
 * where no flag is read: an argument that starts with `-` is SQL when it holds a line break or
 * starts `-- ` (a comment), as no flag does (before: `Unknown flag "-- open tickets\nselect …"`,
 * a tester's). `--json ` with a stray space stays a flag, refused as unknown.
 */
function sqlAsPositional(args: string[]): string[] {
  const isSql = (arg: string) => arg.startsWith("-") && (/\n/.test(arg) || /^--\s/.test(arg));
  const sql = args.filter(isSql);
  if (sql.length === 0) return args;
  const rest = args.filter((arg) => !isSql(arg));
  return rest.includes("--") ? [...rest, ...sql] : [...rest, "--", ...sql];
}

/** Runs the SQL as one statement; undefined when it ran as a script of several (no rows). */
async function runStatementOrScript(
  db: Database,
  sql: string,
): Promise<StatementResult | undefined> {
  try {
    return await db.runStatement(sql);
  } catch (error) {
    // Several statements cannot run as one prepared statement: run them as a script.
    if (!/multiple commands/.test((error as Error).message)) throw error;
    await db.exec(sql);
    return undefined;
  }
}

/**
 * What `--json` says on stderr when it printed fewer rows than the statement returned (the text
 * table says it under the table); undefined when it printed them all. Before, `--json` cut at
 * 1000 rows in silence (a tester nearly reported closures as lost).
 */
export function jsonCutNote(rows: number, maxRows: number): string | undefined {
  if (rows <= maxRows) return undefined;
  return `Note: the statement returned ${rows} rows; --json printed the first ${maxRows} ` +
    `(--max-rows ${rows} prints them all)`;
}

/** The rows shown (`--max-rows`) as JSON: instants in EAT, `date` columns as days. */
function rowsJson(result: StatementResult, maxRows: number): string {
  const days = new Set(result.dateColumns ?? []);
  return JSON.stringify(result.rows.slice(0, maxRows), function (key, value) {
    const raw = (this as Record<string, unknown>)[key];
    return raw instanceof Date ? timeText(raw, days.has(key)) : value;
  });
}

/**
 * An instant in EAT; a `date` column's value (an instant at UTC midnight) as its day,
 * `2026-06-15`, not `2026-06-15T03:00:00+03:00`.
 */
function timeText(value: Date, day: boolean): string {
  return day ? value.toISOString().slice(0, 10) : eatIso(value);
}

function cell(value: unknown, day = false): string {
  if (value === null || value === undefined) return "";
  if (value instanceof Date) return timeText(value, day);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/**
 * What `sql` prints for a statement, as psql does: its rows as a table; for a statement that
 * returns none, what it did (`INSERT 0 1`, `UPDATE 3`, `CREATE`); both for one that returns rows
 * and is no SELECT (`insert … returning`).
 */
export function formatStatement(
  result: StatementResult,
  maxRows = Infinity,
  redact?: (text: string) => string,
): string {
  if (result.columns.length === 0) return commandTag(result);
  const tag = result.command === "SELECT" ? [] : [commandTag(result)];
  const table = formatRows(result.rows, maxRows, result.columns, result.dateColumns, redact);
  return [table, ...tag].join("\n");
}

/** Column names a statement gives more than one column (`count` for `count(*), count(geog)`). */
export function sharedColumnNames(columns: readonly string[]): string[] {
  return [...new Set(columns.filter((name, i) => columns.indexOf(name) !== i))];
}

/**
 * The note for {@linkcode sharedColumnNames}: a row holds one value per name, so only the last
 * column of a name shows (before: silently).
 */
export function sharedNamesNote(names: readonly string[]): string {
  const quoted = names.map((n) => `"${n}"`).join(", ");
  return `Note: several columns are named ${quoted}; only the last of each shows: name them ` +
    `apart with "as" (select count(*) as tickets, count(geog) as placed …)`;
}

/**
 * psql's command tag: `INSERT 0 2` (the 0 is an OID PostgreSQL no longer gives), `UPDATE 3`,
 * `SELECT 1`, `CREATE`.
 */
export function commandTag({ command, count }: Pick<StatementResult, "command" | "count">): string {
  if (count === undefined) return command;
  return command === "INSERT" ? `INSERT 0 ${count}` : `${command} ${count}`;
}

/**
 * Rows as an aligned table, psql style, with the row count; `statementColumns` (the statement's)
 * head it also when there are no rows to take them from; `dateColumns` print as days. Two
 * columns of one name show once: a row holds one value for it. Cells are redacted before they
 * are measured (before, a password's length still set its column's width).
 */
export function formatRows(
  rows: readonly Row[],
  maxRows = Infinity,
  statementColumns: readonly string[] = rows.length > 0 ? Object.keys(rows[0]!) : [],
  dateColumns: readonly string[] = [],
  redact: (text: string) => string = (text) => text,
): string {
  const columns = [...new Set(statementColumns)];
  const shown = rows.slice(0, maxRows)
    .map((row) => columns.map((c) => redact(cell(row[c], dateColumns.includes(c)))));
  const widths = columns.map((c, i) => Math.max(c.length, ...shown.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((v, i) => v.padEnd(widths[i]!)).join(" | ").trimEnd();
  const count = `(${rows.length} row${rows.length === 1 ? "" : "s"}${
    rows.length > shown.length ? `, first ${shown.length} shown; --max-rows N shows more` : ""
  })`;
  if (columns.length === 0) return count;
  return [line(columns), widths.map((w) => "-".repeat(w)).join("-+-"), ...shown.map(line), count]
    .join("\n");
}
