/**
 * A database as one SQL script that `psql -f` loads into an empty PostgreSQL + PostGIS database:
 * the applied migrations and definitions (so the schema, functions and views are exactly this
 * version's) with their ledger rows, then every table's stored columns as `COPY … FROM stdin` (generated columns are
 * recomputed by the target), then the identity sequences. The way out of the embedded default.
 *
 * @module
 */

import { eatIso } from "./eat_time.ts";
import { LEDGER, loadDefinitions, loadMigrations, type Migration } from "./migrate.ts";
import type { Row } from "./ports/mod.ts";
import { ident } from "./_sql.ts";

/** What the export reads: queries, and one table's rows in COPY text format. */
export interface ExportSource {
  /** Runs one statement. */
  query<T extends Row = Row>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** The rows of `table` (only `columns`) in COPY text format, newline-terminated. */
  copyOut(table: string, columns: readonly string[]): Promise<string>;
}

/** What an export wrote. */
export interface ExportSummary {
  /** Migrations included. */
  migrations: number;
  /** Rows per table. */
  tables: Record<string, number>;
}

const TABLES = `
select c.table_schema || '.' || c.table_name as name,
       array_agg(c.column_name::text order by c.ordinal_position) as columns,
       array_agg(c.column_name::text order by c.ordinal_position)
         filter (where c.is_identity = 'YES') as identity
from information_schema.columns c
join information_schema.tables t using (table_schema, table_name)
where c.table_schema in ('tickets', 'reporting') and t.table_type = 'BASE TABLE'
  and c.is_generated = 'NEVER'
  and c.table_name not in ('schema_migrations', 'schema_definitions')
group by 1 order by 1`;

/** A row of `tickets.schema_migrations`. */
type MigrationRow = { version: number; checksum: string; applied_at: Date };

/** Writes the export script through `write`; returns what it holds. */
export async function exportDatabase(
  db: ExportSource,
  write: (text: string) => Promise<void>,
  options: {
    description: string;
    now?: Date;
    migrations?: Migration[];
    definitions?: Migration[];
  },
): Promise<ExportSummary> {
  const ledger = await db.query<MigrationRow>(
    `select version, checksum, applied_at from tickets.schema_migrations order by version`,
  );
  const shipped = new Map(
    (options.migrations ?? await loadMigrations()).map((m) => [m.version, m]),
  );
  await write(header(options.description, options.now ?? new Date()));
  await writeMigrations(write, ledger, shipped);
  await writeDefinitions(db, write, options.definitions);
  return { migrations: ledger.length, tables: await writeTables(db, write) };
}

/**
 * Stops a load into a database that holds fleettickets tables already (one `migrate` or an
 * earlier load made), with words that say what to do: before, PostgreSQL's own
 * `relation "inc" already exists`, halfway through the script.
 */
const REFUSE_NOT_EMPTY = `do $$ begin
  if to_regclass('tickets.inc') is not null then
    raise exception 'Cannot load this export: the database already holds fleettickets tables '
      '(tickets.inc); load it into an empty database (createdb NAME), not one that '
      '"deno task migrate" or an earlier load made';
  end if;
end $$;`;

/** What the script is, how to load it, the session settings, and the ledger tables. */
function header(description: string, now: Date): string {
  return `-- fleettickets export of ${description} at ${eatIso(now)}\n` +
    `-- Load into an empty PostgreSQL database where PostGIS is available:\n` +
    `--   psql "postgres://USER@HOST/NEW_DATABASE" -v ON_ERROR_STOP=1 --single-transaction ` +
    `-f THIS_FILE.sql\n` +
    // psql stops at the first error even when loaded without -v ON_ERROR_STOP=1: the guard
    // below, or a failed statement, must not be followed by the rest of the script.
    `\\set ON_ERROR_STOP on\n` +
    `set client_encoding = 'UTF8';\nset standard_conforming_strings = on;\n` +
    `set client_min_messages = warning;\n${REFUSE_NOT_EMPTY}\n${LEDGER};\n`;
}

/** Each applied migration's text with its ledger row; refuses one this version does not ship. */
async function writeMigrations(
  write: (text: string) => Promise<void>,
  ledger: MigrationRow[],
  shipped: Map<number, Migration>,
): Promise<void> {
  for (const row of ledger) {
    const migration = shipped.get(row.version);
    if (migration === undefined) {
      throw new RangeError(
        `Cannot export: the database has migration ${row.version}, which this version does not ship`,
      );
    }
    await write(
      `\n-- migration ${migration.name}\n${migration.sql}\n;\n` +
        `insert into tickets.schema_migrations (version, name, checksum, applied_at) values (${row.version}, ${
          literal(migration.name)
        }, ${literal(row.checksum)}, ${literal(row.applied_at.toISOString())});\n`,
    );
  }
}

/** Each applied definition this version still ships, with its ledger row. */
async function writeDefinitions(
  db: ExportSource,
  write: (text: string) => Promise<void>,
  given: Migration[] | undefined,
): Promise<void> {
  const definitions = await db.query<{ name: string; checksum: string; applied_at: Date }>(
    `select name, checksum, applied_at from tickets.schema_definitions order by name`,
  );
  const shippedDefinitions = new Map((given ?? await loadDefinitions()).map((d) => [d.name, d]));
  for (const row of definitions) {
    const definition = shippedDefinitions.get(row.name);
    if (definition === undefined) continue; // retired: nothing refers to it any more
    await write(
      `\n-- definition ${definition.name}\n${definition.sql}\n;\n` +
        `insert into tickets.schema_definitions (name, checksum, applied_at) values (${
          literal(definition.name)
        }, ${literal(row.checksum)}, ${literal(row.applied_at.toISOString())});\n`,
    );
  }
}

/** Every table's stored columns as `COPY … FROM stdin`, then its identity sequences; rows per table. */
async function writeTables(
  db: ExportSource,
  write: (text: string) => Promise<void>,
): Promise<Record<string, number>> {
  const rows: Record<string, number> = {};
  const tables = await db.query<{ name: string; columns: string[]; identity: string[] | null }>(
    TABLES,
  );
  for (const table of tables) {
    const name = ident(table.name);
    const data = await db.copyOut(name, table.columns.map(ident));
    rows[table.name] = data === "" ? 0 : data.split("\n").length - 1;
    await write(
      `\ncopy ${name} (${table.columns.map(ident).join(", ")}) from stdin;\n${data}\\.\n`,
    );
    for (const column of table.identity ?? []) {
      await write(
        `do $$ begin perform setval(pg_get_serial_sequence(${literal(table.name)}, ${
          literal(column)
        }), coalesce(max(${ident(column)}), 0) + 1, false) from ${name}; end $$;\n`,
      );
    }
  }
  return rows;
}

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}
