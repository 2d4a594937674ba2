/**
 * Which privileges a database role lacks to read what a command reads: `usage` on the schemas,
 * `select` on the tables, `execute` on the functions, each checked for `current_user` in one
 * read-only query (`has_schema_privilege`, `has_table_privilege`, `has_function_privilege`),
 * and returned as the GRANT statements the schema owner runs. `serve` refuses to start without
 * {@linkcode SERVE_READS}; every command that checks the schema needs {@linkcode LEDGER_READS}.
 *
 * @module
 */

import { DATASETS } from "./datasets.ts";
import type { SqlSession } from "./ports/mod.ts";

/** What a command reads, by the names the GRANT statements take. */
export interface ReadGrants {
  /** Schemas it uses (`usage`). */
  schemas: readonly string[];
  /** Tables and views it selects from, schema-qualified (`select`). */
  tables: readonly string[];
  /**
   * Functions it calls, directly or through the functions it calls, as `regprocedure` prints
   * them (`tickets.eat_iso(timestamp with time zone)`): an overloaded name is one of its
   * signatures (`execute`).
   */
  functions: readonly string[];
}

/** The migration ledgers, read by every command that checks the schema is this version's. */
export const LEDGER_READS: ReadGrants = {
  schemas: ["tickets"],
  tables: ["tickets.schema_migrations", "tickets.schema_definitions"],
  functions: [],
};

/** What `status` reads: the datasets' counts, freshness, the run record, ledger and quarantine. */
export const STATUS_READS: ReadGrants = {
  schemas: ["tickets"],
  tables: [
    ...Object.values(DATASETS).map((d) => d.table),
    "tickets.import_meta",
    "tickets.runs",
    "tickets.applied_files",
    "tickets.quarantine",
  ],
  functions: [],
};

/**
 * What the read API reads on PostgreSQL (`serve`): the ticket tables, history and freshness,
 * and every function its statements call, with the helpers those call in turn (PostgreSQL
 * checks `execute` on each). PostGIS's functions live in `public`, executable by everyone. The
 * SLA view `tickets.inc_open_sla` is not read: the API calls `tickets.inc_open_sla_at` itself.
 */
export const SERVE_READS: ReadGrants = {
  schemas: ["tickets", "reporting"],
  tables: [
    "tickets.inc",
    "tickets.crq",
    "tickets.closure_events",
    "tickets.inc_daily_snapshot",
    "tickets.import_meta",
  ],
  functions: [
    // The payloads (/api/dashboard, /webhook/*, /api/teams).
    "reporting.fn_inc_dashboard(text,text,text,date,date,timestamp with time zone)",
    "reporting.fn_inc_dashboard_summary(text,text,text,date,date,timestamp with time zone)",
    "reporting.fn_tickets_for_map(boolean,timestamp with time zone)",
    "reporting.fn_team_performance(text,text,text,date,date,timestamp with time zone)",
    // Called by the API's own statements (core/read_*.ts, core/nearest.ts, core/data_version.ts).
    "tickets.eat_iso(timestamp with time zone)",
    "tickets.eat_date(timestamp with time zone)",
    "tickets.eat_day_start(date)",
    "tickets.tickets_read_at(timestamp with time zone)",
    "tickets.inc_open_sla_at(timestamp with time zone)",
    "tickets.minutes_to_breach(timestamp with time zone,timestamp with time zone)",
    "tickets.name_key(text)",
    "tickets.dispatch_score(double precision,integer)",
    // Called by those functions.
    "tickets.eat_ts(text)",
    "tickets.inc_dashboard(text,text,text,date,date,timestamp with time zone,boolean)",
    "tickets.eat_window(text,date,date,timestamp with time zone)",
    "tickets.freshness(text,timestamp with time zone)",
    "tickets.geojson_feature(geometry,jsonb)",
    "tickets.sla_state(interval)",
    "tickets.sla_clock_plausible(timestamp with time zone,timestamp with time zone)",
    "tickets.sla_clock_at(timestamp with time zone,timestamp with time zone,timestamp with time zone)",
    "tickets.inc_created_between(timestamp with time zone,timestamp with time zone,timestamp with time zone)",
    "tickets.dated_ahead(timestamp with time zone,timestamp with time zone)",
    "tickets.sla_breach_after()",
    "tickets.sla_warn_after()",
    "tickets.sla_split(text[])",
  ],
};

/** What {@linkcode missingReadGrants} found. */
export interface MissingGrants {
  /** The role checked (`current_user`), as it is named. */
  role: string;
  /**
   * The GRANT statements the schema owner runs, one per privilege lacking, in the order of the
   * {@linkcode ReadGrants} given (schemas, tables, functions); the role quoted when it needs to
   * be (`to "Fleet Reader"`). Empty when nothing is lacking.
   */
  grants: string[];
  /** Listed objects the database does not have (not checked; the schema check's concern). */
  absent: string[];
}

// Looked up in the catalogs by name, never through a name cast (`'tickets.inc'::regclass`,
// `to_regprocedure`): those raise "permission denied for schema" when `usage` is what lacks.
// The lists come as JSON text: postgres.js can send an array parameter of a connection's first
// statement as "a,b" (its array types not yet fetched), which PostgreSQL refuses.
const SELECT = `
with schemas as (
  select s.name, s.i, n.oid
  from json_array_elements_text($1::text::json) with ordinality s(name, i)
  left join pg_namespace n on n.nspname = s.name
), tables as (
  select t.name, t.i, c.oid
  from json_array_elements_text($2::text::json) with ordinality t(name, i)
  left join pg_namespace n on n.nspname = split_part(t.name, '.', 1)
  left join pg_class c on c.relnamespace = n.oid and c.relname = split_part(t.name, '.', 2)
), functions as (
  select f.name, f.i, p.oid
  from json_array_elements_text($3::text::json) with ordinality f(name, i)
  left join pg_namespace n on n.nspname = split_part(f.name, '.', 1)
  left join pg_proc p on p.pronamespace = n.oid
    and p.proname = split_part(split_part(f.name, '(', 1), '.', 2)
    -- regprocedure's text leaves out a schema on the search path (the function's, and a type's:
    -- "public.geometry" when public is not on it): compared without schemas, by its arguments.
    and regexp_replace(substr(p.oid::regprocedure::text, strpos(p.oid::regprocedure::text, '(')),
                       '([(,])[a-z_][a-z0-9_]*\\.', '\\1', 'g') = substr(f.name, strpos(f.name, '('))
)
select current_user::text as role, quote_ident(current_user) as grantee, kind, name,
       oid is not null as present, coalesce(granted, false) as granted
from (
  select 1 as k, i, 'usage on schema' as kind, name, oid,
         has_schema_privilege(oid, 'usage') as granted
  from schemas
  union all
  select 2, i, 'select on', name, oid, has_table_privilege(oid, 'select') from tables
  union all
  select 3, i, 'execute on function', name, oid, has_function_privilege(oid, 'execute')
  from functions
) listed
order by k, i`;

/**
 * The GRANT statements `current_user` lacks to read `reads` ({@linkcode SERVE_READS} by
 * default), from one read-only query. A superuser lacks none. PostgreSQL only: the embedded
 * database has one role.
 *
 * @example Refuse to start without the read API's privileges
 * ```ts ignore
 * import { missingReadGrants } from "./check_read_grants.ts";
 *
 * const { role, grants } = await missingReadGrants(db);
 * if (grants.length > 0) {
 *   throw new Error(`The role "${role}" lacks privileges; run: ${grants.join("; ")}`);
 * }
 * ```
 */
export async function missingReadGrants(
  db: SqlSession,
  reads: ReadGrants = SERVE_READS,
): Promise<MissingGrants> {
  const rows = await db.query<{
    role: string;
    grantee: string;
    kind: string;
    name: string;
    present: boolean;
    granted: boolean;
  }>(SELECT, [reads.schemas, reads.tables, reads.functions].map((list) => JSON.stringify(list)));
  const role = rows[0]?.role ?? "";
  const grants = rows.filter((r) => r.present && !r.granted)
    .map((r) => `grant ${r.kind} ${r.name} to ${r.grantee}`);
  const absent = rows.filter((r) => !r.present).map((r) => r.name);
  return { role, grants, absent };
}

/**
 * The lacking privileges in words, after what failed: `the database role "fleettickets_reader"
 * lacks 2 privileges the read API needs; as the schema owner run: grant …; grant …`.
 */
export function describeMissingGrants(
  missing: MissingGrants,
  purpose: string,
  instead?: string,
): string {
  const n = missing.grants.length;
  return `the database role "${missing.role}" lacks ${n} privilege${n === 1 ? "" : "s"} ` +
    `${purpose}; ${instead === undefined ? "" : `${instead}, or `}as the schema owner run: ` +
    missing.grants.join("; ");
}

/** Whether `error` is the server's "permission denied" (SQLSTATE 42501, insufficient_privilege). */
export function isPermissionDenied(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === "42501";
}

/**
 * When `error` is a permission denied met reading the schema's ledgers: the GRANT statements the
 * role lacks for them, in words ({@linkcode describeMissingGrants}, `purpose` after "lacks N
 * privileges"); undefined for any other error, or when none is found lacking (the error stands).
 */
export function ledgerGrantsLacking(
  db: SqlSession,
  error: unknown,
  purpose: string,
  instead?: string,
): Promise<string | undefined> {
  return grantsLacking(db, error, LEDGER_READS, purpose, instead);
}

/**
 * The other fix for a command that writes or checks what ingest writes, refused the ledgers: the
 * role that ran `migrate` (the `tickets` schema's owner, named), as `use the role that ran migrate
 * ("fleet") in DATABASE_URL`; undefined when the schema is not there, or is the role's own.
 * Granting reads is the fix only for the read-only role `serve` runs as.
 */
export async function ownerRoleInstead(db: SqlSession): Promise<string | undefined> {
  const [row] = await db.query<{ owner: string; own: boolean }>(
    `select pg_get_userbyid(nspowner)::text as owner, pg_get_userbyid(nspowner) = current_user as own
     from pg_namespace where nspname = 'tickets'`,
  ).catch(() => []);
  if (row === undefined || row.own) return undefined;
  return `use the role that ran migrate ("${row.owner}") in DATABASE_URL`;
}

/**
 * As {@linkcode ledgerGrantsLacking}, for what `reads` lists; `instead` comes before the GRANT
 * statements as the other fix ({@linkcode describeMissingGrants}).
 */
export async function grantsLacking(
  db: SqlSession,
  error: unknown,
  reads: ReadGrants,
  purpose: string,
  instead?: string,
): Promise<string | undefined> {
  if (!isPermissionDenied(error)) return undefined;
  const missing = await missingReadGrants(db, reads).catch(() => undefined);
  if (missing === undefined || missing.grants.length === 0) return undefined;
  return describeMissingGrants(missing, purpose, instead);
}
