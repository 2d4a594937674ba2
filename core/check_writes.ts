/**
 * Whether the database role can write what an applying run writes: the datasets' tables and the
 * run's own (ledger, watermark, quarantine, run record), by privilege (`has_table_privilege`),
 * and whether its sessions start read only (`default_transaction_read_only`, as the read-only
 * role `serve` is meant to run as sets it). `status` and `doctor` say so before a run fails.
 *
 * @module
 */

import type { SqlSession } from "./ports/mod.ts";

/** Tables an applying run writes besides the datasets' own. */
export const RUN_TABLES = [
  "tickets.applied_files",
  "tickets.import_meta",
  "tickets.quarantine",
  "tickets.runs",
];

const NOT_WRITABLE = `
select t as table_name from unnest($1::text[]) t
where not (has_table_privilege(t, 'INSERT') and has_table_privilege(t, 'UPDATE'))`;

/** Those of `tables` (schema-qualified) the current role cannot insert into or update. */
export async function tablesNotWritable(
  db: SqlSession,
  tables: readonly string[],
): Promise<string[]> {
  const rows = await db.query<{ table_name: string }>(NOT_WRITABLE, [tables]);
  return rows.map((r) => r.table_name);
}

/** Whether the role's sessions start read only (`default_transaction_read_only = on`). */
export async function readOnlySessions(db: SqlSession): Promise<boolean> {
  const [row] = await db.query<{ on: boolean }>(
    `select current_setting('default_transaction_read_only') = 'on' as on`,
  );
  return row?.on === true;
}
