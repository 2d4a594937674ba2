/**
 * Whether the database role can write what an applying run writes: the datasets' tables and the
 * run's own (ledger, watermark, quarantine, run record), by privilege (`has_table_privilege`),
 * and whether its sessions start read only (`default_transaction_read_only`, as the read-only
 * role `serve` is meant to run as sets it). `status` and `doctor` say so before a run fails.
 *
 * @module
 */

import type { SqlSession } from "./ports/mod.ts";

/** What the drain writes besides the datasets' tables, and the run record, with the privileges. */
const DRAIN_WRITES: readonly (readonly [string, readonly string[]])[] = [
  ["tickets.applied_files", ["insert", "update"]],
  ["tickets.import_meta", ["insert", "update"]],
  ["tickets.quarantine", ["insert", "update", "delete"]],
  ["tickets.runs", ["insert", "update"]],
];

/** Tables an applying run writes besides the datasets' own (the history's not counted). */
export const RUN_TABLES = DRAIN_WRITES.map(([table]) => table);

/** Those of `tables` (schema-qualified) the current role cannot insert into or update. */
export async function tablesNotWritable(
  db: SqlSession,
  tables: readonly string[],
): Promise<string[]> {
  const lacking = await privilegesLacking(db, tables.map((t) => [t, ["insert", "update"]]));
  return [...new Set(lacking.map((r) => r.table_name))];
}

/**
 * What an applying run writes besides the datasets' tables, with the privileges each takes: the
 * drain's, then the history capture's.
 */
const RUN_WRITES: readonly (readonly [string, readonly string[]])[] = [
  ...DRAIN_WRITES,
  ["tickets.closure_events", ["insert"]],
  ["tickets.inc_daily_snapshot", ["insert", "update"]],
];

const PRIVILEGES_LACKING = `
select t as table_name, p as privilege
from unnest($1::text[], $2::text[]) with ordinality x(t, p, i)
where not has_table_privilege(t, p)
order by i`;

/** Which of `needs` (a table and the privileges it takes) the current role lacks, in order. */
async function privilegesLacking(
  db: SqlSession,
  needs: readonly (readonly [string, readonly string[]])[],
): Promise<{ table_name: string; privilege: string }[]> {
  const pairs = needs.flatMap(([table, privileges]) => privileges.map((p) => [table, p] as const));
  return await db.query<{ table_name: string; privilege: string }>(PRIVILEGES_LACKING, [
    pairs.map(([table]) => table),
    pairs.map(([, privilege]) => privilege),
  ]);
}

/**
 * What the current role lacks to run `ingest --apply` on the datasets' `tables`: per table the
 * privileges (`tickets.inc (insert, update)`), then `temporary tables` when it may not make the
 * stage; none when it lacks nothing. Throws when the schema is not there (not migrated yet).
 */
export async function applyPrivilegesLacking(
  db: SqlSession,
  tables: readonly string[],
): Promise<string[]> {
  const rows = await privilegesLacking(db, [
    ...tables.map((t) => [t, ["insert", "update"]] as const),
    ...RUN_WRITES,
  ]);
  const byTable = new Map<string, string[]>();
  for (const r of rows) {
    byTable.set(r.table_name, [...byTable.get(r.table_name) ?? [], r.privilege]);
  }
  const lacking = [...byTable].map(([table, privileges]) => `${table} (${privileges.join(", ")})`);
  const [temp] = await db.query<{ ok: boolean }>(
    `select has_database_privilege(current_database(), 'temporary') as ok`,
  );
  return temp?.ok === false ? [...lacking, "temporary tables"] : lacking;
}

/**
 * Why no write can succeed in this role's sessions, if none can: the server is a hot standby, or
 * the role's sessions start read only (`default_transaction_read_only`); undefined when they can
 * write.
 */
export async function readOnlyReason(
  db: SqlSession,
): Promise<"standby" | "read-only sessions" | undefined> {
  const [row] = await db.query<{ standby: boolean; read_only: boolean }>(
    `select pg_is_in_recovery() as standby,
            current_setting('default_transaction_read_only') = 'on' as read_only`,
  );
  return row?.standby ? "standby" : row?.read_only ? "read-only sessions" : undefined;
}
