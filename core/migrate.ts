/**
 * Schema migrations, in two kinds (Flyway's versioned and repeatable migrations):
 *
 * - numbered `migrations/NNN_name.sql` files (tables, indexes, generated columns): applied once,
 *   in order, each in its own transaction, recorded with a checksum in
 *   `tickets.schema_migrations`; a released one is never edited.
 * - replaceable `definitions/NN_name.sql` files (views and functions, `create or replace`, one
 *   concept per file): applied after the numbered ones, in file-name order, and applied again
 *   whenever their checksum changes (recorded in `tickets.schema_definitions`). A fix to a view
 *   or a function is an edit to its file.
 *
 * A database a later version migrated is refused, never migrated back: one that records a
 * numbered migration this version does not ship, or a definition text this version never had
 * (`definitions/known_checksums.txt` lists every text each definition has had). A numbered
 * migration edited after a release (six were, before this rule was kept) is accepted with any
 * text `migrations/known_checksums.txt` lists for it; a later migration brings such a database to
 * what the current texts create (014).
 *
 * @module
 */

import type { Database, SqlSession } from "./ports/mod.ts";
import { LOCK_NOT_AVAILABLE, lockHolders } from "./_lock_holders.ts";
import { sqlState } from "./_sql.ts";
import { NoSchemaYetError } from "./write_refused.ts";

/** Creates the migration ledger (and the `tickets` schema) when missing. */
export const LEDGER = `
create schema if not exists tickets;
create table if not exists tickets.schema_migrations (
  version integer primary key,
  name text not null,
  checksum text not null,
  applied_at timestamptz not null default now()
);
create table if not exists tickets.schema_definitions (
  name text primary key,
  checksum text not null,
  applied_at timestamptz not null default now()
)`;

/** One migration file. */
export interface Migration {
  /** Number from the file name. */
  version: number;
  /** File name. */
  name: string;
  /** SQL script. */
  sql: string;
}

/**
 * The migrations shipped with this version, read from the `migrations/` folder.
 *
 * @example Usage
 * ```ts
 * import { loadMigrations } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const migrations = await loadMigrations();
 * assert.equal(migrations[0]?.name, "001_tickets_schema.sql");
 * assert.ok(migrations.every((m, i) => i === 0 || m.version > migrations[i - 1]!.version));
 * ```
 */
export async function loadMigrations(
  dir: URL = new URL("../migrations/", import.meta.url),
): Promise<Migration[]> {
  const migrations = await loadSqlFiles(dir);
  return migrations.sort((a, b) => a.version - b.version);
}

/**
 * The replaceable definitions shipped with this version, from `definitions/`, in apply order.
 *
 * @example Usage
 * ```ts
 * import { loadDefinitions } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const names = (await loadDefinitions()).map((d) => d.name);
 * assert.deepEqual(names, [...names].sort()); // applied in file-name order
 * assert.ok(names.every((name) => /^\d+_.+\.sql$/.test(name)));
 * ```
 */
export async function loadDefinitions(
  dir: URL = new URL("../definitions/", import.meta.url),
): Promise<Migration[]> {
  const definitions = await loadSqlFiles(dir);
  return definitions.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * Every text each definition has had in this version's history, by file name: the checksums in
 * `definitions/known_checksums.txt` (current and earlier texts, of renamed and removed files too).
 */
export function loadKnownDefinitions(
  file: URL = new URL("../definitions/known_checksums.txt", import.meta.url),
): Promise<Map<string, Set<string>>> {
  return loadChecksums(file);
}

/**
 * Every text each numbered migration has had, by file name (the current ones, and the earlier
 * texts of the six edited after a release): the checksums in `migrations/known_checksums.txt`.
 */
export function loadKnownMigrations(
  file: URL = new URL("../migrations/known_checksums.txt", import.meta.url),
): Promise<Map<string, Set<string>>> {
  return loadChecksums(file);
}

/** Reads `sha256sum`'s lines (`<hex>  <file name>`) into the checksums of each file name. */
async function loadChecksums(file: URL): Promise<Map<string, Set<string>>> {
  const known = new Map<string, Set<string>>();
  for (const line of (await Deno.readTextFile(file)).split("\n")) {
    const m = /^([0-9a-f]{64}) +(\S+)$/.exec(line.trim());
    if (m === null) continue; // a comment or a blank line
    known.set(m[2]!, (known.get(m[2]!) ?? new Set()).add(m[1]!));
  }
  return known;
}

async function loadSqlFiles(dir: URL): Promise<Migration[]> {
  const files: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const m = /^(\d+)_.+\.sql$/.exec(entry.name);
    if (!entry.isFile || m === null) continue;
    const sql = await Deno.readTextFile(new URL(entry.name, dir));
    files.push({ version: Number(m[1]), name: entry.name, sql });
  }
  return files;
}

/** The checksum the ledgers record for a file's text: its SHA-256, in hex (as `sha256sum`). */
export async function checksum(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What {@linkcode pendingMigrations} and {@linkcode migrate} report. */
export interface MigrationStatus {
  /** Numbered migrations already applied. */
  applied: string[];
  /** Numbered migrations not yet applied (applied by `migrate`). */
  pending: string[];
  /** Definitions new or changed since they were last applied (applied by `migrate`). */
  changedDefinitions: string[];
}

/** What to migrate from; defaults to the folders shipped with this version. */
export interface MigrationSources {
  /** Numbered migrations (default: `migrations/`). */
  migrations?: Migration[];
  /** Replaceable definitions (default: `definitions/`). */
  definitions?: Migration[];
  /**
   * Every text each definition has had, by name (default: `definitions/known_checksums.txt`);
   * the texts of `definitions` count as known too.
   */
  knownDefinitions?: Map<string, Set<string>>;
  /**
   * Every text each numbered migration has had, by name (default:
   * `migrations/known_checksums.txt`): a database that recorded one of them is not refused.
   */
  knownMigrations?: Map<string, Set<string>>;
  /** How long a file waits for a table another session holds, ms (default 10 s; PostgreSQL). */
  lockTimeoutMs?: number;
}

/**
 * The database's schema is one this version cannot run on as it is: what was found, and what to
 * do. No command works on it (`sql` only looks); every command exits 2 naming both.
 */
export class SchemaRefusedError extends Error {
  /** Creates the error: `Cannot run: <found>; <remedy>`. */
  constructor(
    /** What the database holds that this version cannot take, in words. */
    readonly found: string,
    /** What to do. */
    readonly remedy: string,
  ) {
    super(`Cannot run: ${found}; ${remedy}`);
    this.name = "SchemaRefusedError";
  }
}

/**
 * The database records migrations or definition texts this version does not know: a later
 * version migrated it, and `migrate` must not put its definitions back to this version's texts.
 */
export class NewerSchemaError extends SchemaRefusedError {
  /**
   * Creates the error naming the unknown migrations and definitions; `where` names the database
   * (`at host:port (database "db") `, with its trailing space) when it is PostgreSQL.
   */
  constructor(
    readonly migrations: string[],
    readonly definitions: string[],
    remedy = "run the release that migrated it, or restore the backup taken before that upgrade",
    where = "",
  ) {
    const counts = [
      ...(migrations.length > 0 ? [`${migrations.length} migration(s)`] : []),
      // Texts: a definition of the same name may be known, its later text not (a tester read
      // "20_sla_rule.sql" as a file this version lacked).
      ...(definitions.length > 0 ? [`${definitions.length} definition text(s)`] : []),
    ];
    super(
      `the database ${where}holds ${counts.join(" and ")} this version does not know (${
        [...migrations, ...definitions].join(", ")
      }): a later release migrated it`,
      remedy,
    );
    this.name = "NewerSchemaError";
  }
}

/**
 * A numbered migration's file is neither the text the database applied nor, with it, a text a
 * release shipped (`migrations/known_checksums.txt`): the file (or the build that migrated the
 * database) was edited. Nothing is applied.
 */
export class EditedMigrationError extends SchemaRefusedError {
  /** Creates the error naming the migration's file. */
  constructor(readonly migration: string) {
    super(
      `"${migration}" is not the text the database applied, and no release shipped both: the ` +
        `file (or the build that migrated the database) was edited`,
      `put the file back as released (git checkout -- migrations/${migration}), or run the ` +
        `build that migrated the database; a change to the schema is a new numbered migration`,
    );
    this.name = "EditedMigrationError";
  }
}

interface Plan extends MigrationStatus {
  todo: Migration[];
  todoDefinitions: Migration[];
}

/**
 * Lists applied and pending migrations and changed definitions. Throws an
 * {@linkcode EditedMigrationError} when an applied numbered migration's file changed since (and
 * is not an earlier text a release shipped: released migrations are never edited), and a
 * {@linkcode NewerSchemaError} when the database records a numbered migration this version does
 * not ship or a definition text it never had (a later version migrated it).
 *
 * @example Usage
 * ```ts ignore
 * import { createPgliteDatabase, pendingMigrations } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * const { pending, changedDefinitions } = await pendingMigrations(db);
 * if (pending.length > 0 || changedDefinitions.length > 0) {
 *   console.log(`run "deno task migrate": ${[...pending, ...changedDefinitions].join(", ")}`);
 * }
 * await db.close();
 * ```
 */
export async function pendingMigrations(
  db: Database,
  sources: MigrationSources = {},
): Promise<Plan> {
  const all = sources.migrations ?? await loadMigrations();
  const definitions = sources.definitions ?? await loadDefinitions();
  const done = await recordedChecksums(db, "schema_migrations", "version");
  const defined = await recordedChecksums(db, "schema_definitions", "name");
  // Refused before anything is compared or applied: a later version's schema is never mixed
  // with this one's, nor its definitions replaced by earlier texts.
  const unknownMigrations = unknownVersions(all, done);
  const { current, unknownDefinitions } = await hashDefinitions(
    definitions,
    defined,
    sources.knownDefinitions,
  );
  if (unknownMigrations.length > 0 || unknownDefinitions.length > 0) {
    throw new NewerSchemaError(unknownMigrations, unknownDefinitions);
  }
  const knownMigrations = sources.knownMigrations ?? await loadKnownMigrations();
  const { applied, pending, todo } = await planMigrations(all, done, knownMigrations);
  const { changedDefinitions, todoDefinitions } = planDefinitions(definitions, defined, current);
  return { applied, pending, changedDefinitions, todo, todoDefinitions };
}

/** The recorded migrations this version does not ship, by file name, in version order. */
function unknownVersions(all: Migration[], done: Map<string, Recorded>): string[] {
  const shipped = new Set(all.map((m) => String(m.version)));
  return [...done.values()]
    .filter((row) => !shipped.has(row.key))
    .sort((a, b) => Number(a.key) - Number(b.key))
    .map((row) => row.name);
}

/**
 * Hashes each shipped definition's text, and names the recorded definitions whose text this
 * version never had (neither shipped nor in the known texts).
 */
async function hashDefinitions(
  definitions: Migration[],
  defined: Map<string, Recorded>,
  knownDefinitions: Map<string, Set<string>> | undefined,
): Promise<{ current: Map<string, string>; unknownDefinitions: string[] }> {
  const known = new Map<string, Set<string>>();
  for (const [name, sums] of knownDefinitions ?? await loadKnownDefinitions()) {
    known.set(name, new Set(sums));
  }
  // Each definition's text hashed once: known here, compared below.
  const current = new Map<string, string>();
  for (const definition of definitions) {
    const sum = await checksum(definition.sql);
    current.set(definition.name, sum);
    known.set(definition.name, (known.get(definition.name) ?? new Set()).add(sum));
  }
  const unknownDefinitions = [...defined.values()]
    .filter((row) => !known.get(row.key)?.has(row.checksum))
    .map((row) => row.key)
    .sort();
  return { current, unknownDefinitions };
}

/**
 * Which migrations are applied and which pending; refuses one whose file is not the text the
 * database applied, unless both are texts a release shipped (`known`: an edit before the rule).
 */
async function planMigrations(
  all: Migration[],
  done: Map<string, Recorded>,
  known: Map<string, Set<string>>,
): Promise<Pick<Plan, "applied" | "pending" | "todo">> {
  const plan: Pick<Plan, "applied" | "pending" | "todo"> = { applied: [], pending: [], todo: [] };
  for (const migration of all) {
    const recorded = done.get(String(migration.version))?.checksum;
    const texts = known.get(migration.name);
    if (recorded === undefined) {
      plan.pending.push(migration.name);
      plan.todo.push(migration);
    } else if (!sameRelease(recorded, await checksum(migration.sql), texts)) {
      throw new EditedMigrationError(migration.name);
    } else {
      plan.applied.push(migration.name);
    }
  }
  return plan;
}

/**
 * Whether the text a database applied and the file's are one migration as released: the same
 * text, or two texts a release shipped (the file not edited since).
 */
function sameRelease(recorded: string, file: string, texts: Set<string> | undefined): boolean {
  return recorded === file || (texts?.has(recorded) === true && texts.has(file));
}

/** The definitions new or changed since they were last applied. */
function planDefinitions(
  definitions: Migration[],
  defined: Map<string, Recorded>,
  current: Map<string, string>,
): Pick<Plan, "changedDefinitions" | "todoDefinitions"> {
  const plan: Pick<Plan, "changedDefinitions" | "todoDefinitions"> = {
    changedDefinitions: [],
    todoDefinitions: [],
  };
  for (const definition of definitions) {
    if (defined.get(definition.name)?.checksum === current.get(definition.name)) continue;
    plan.changedDefinitions.push(definition.name);
    plan.todoDefinitions.push(definition);
  }
  return plan;
}

/** A ledger row: its key (version or name), the file name and the checksum of its text. */
type Recorded = {
  key: string;
  name: string;
  checksum: string;
};

async function recordedChecksums(
  db: Database,
  table: "schema_migrations" | "schema_definitions",
  key: "version" | "name",
): Promise<Map<string, Recorded>> {
  const checksums = new Map<string, Recorded>();
  const [exists] = await db.query<{ ok: boolean }>(
    `select to_regclass($1) is not null as ok`,
    [`tickets.${table}`],
  );
  if (!exists?.ok) return checksums;
  const rows = await db.query<Recorded>(
    `select ${key}::text as key, name, checksum from tickets.${table}`,
  );
  for (const row of rows) checksums.set(row.key, row);
  return checksums;
}

/**
 * Applies every pending numbered migration in order, then every new or changed definition in
 * order, each in its own transaction; returns what was applied. Applies nothing on a database a
 * later version migrated ({@linkcode NewerSchemaError}).
 *
 * @example Usage
 * ```ts ignore
 * import { createPgliteDatabase, migrate } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 * const applied = await migrate(db);
 * console.log(applied.pending, applied.changedDefinitions); // what this call applied
 * await migrate(db); // a second run applies nothing
 * await db.close();
 * ```
 */
export async function migrate(
  db: Database,
  sources: MigrationSources = {},
): Promise<MigrationStatus> {
  await db.exec(LEDGER).catch(async (error) => {
    throw await whenNoSchemaYet(db, error) ?? error;
  });
  const plan = await pendingMigrations(db, sources);
  for (const migration of plan.todo) {
    await applyOne(db, migration.name, sources, async (tx) => {
      await tx.exec(migration.sql);
      await tx.query(
        `insert into tickets.schema_migrations (version, name, checksum) values ($1, $2, $3)`,
        [migration.version, migration.name, await checksum(migration.sql)],
      );
    });
  }
  for (const definition of plan.todoDefinitions) {
    await applyOne(db, definition.name, sources, async (tx) => {
      await tx.exec(definition.sql);
      await tx.query(
        `insert into tickets.schema_definitions (name, checksum) values ($1, $2)
         on conflict (name) do update set checksum = excluded.checksum, applied_at = now()`,
        [definition.name, await checksum(definition.sql)],
      );
    });
  }
  const { applied, pending, changedDefinitions } = plan;
  return { applied, pending, changedDefinitions };
}

/**
 * A refusal to create the schema ("permission denied for database X") in a database that holds
 * none yet, as a {@linkcode NoSchemaYetError} (its hint names the grant); undefined otherwise.
 */
async function whenNoSchemaYet(db: Database, error: unknown): Promise<Error | undefined> {
  const database = /permission denied for database (.+)$/.exec(
    error instanceof Error ? error.message : "",
  )?.[1];
  if (database === undefined || sqlState(error) !== "42501") return undefined;
  const [row] = await db.query<{ exists: boolean }>(
    `select to_regnamespace('tickets') is not null as exists`,
  ).catch(() => [{ exists: true }]);
  if (row?.exists !== false) return undefined;
  return new NoSchemaYetError(database.replace(/^"(.*)"$/, "$1"), { cause: error });
}

/**
 * How long a migration waits for a table another session holds, ms (PostgreSQL). Without a bound
 * it waited as long as that session lasted (a psql left in an open transaction: 44 s, without a
 * word), and every session that came after waited behind it (`status` 36 s).
 */
export const MIGRATION_LOCK_TIMEOUT_MS = 10_000;

/** Applies one file in its transaction; a table held past the lock timeout is said in words. */
async function applyOne(
  db: Database,
  name: string,
  sources: MigrationSources,
  apply: (tx: SqlSession) => Promise<void>,
): Promise<void> {
  const timeoutMs = Math.max(1, Math.round(sources.lockTimeoutMs ?? MIGRATION_LOCK_TIMEOUT_MS));
  try {
    await db.transaction(async (tx) => {
      if (db.kind === "postgres") await tx.exec(`set local lock_timeout = ${timeoutMs}`);
      await apply(tx);
    });
  } catch (error) {
    if (sqlState(error) !== LOCK_NOT_AVAILABLE) throw error;
    throw new Error(await lockedOutWords(db, name, timeoutMs), { cause: error });
  }
}

/** Why `name` was not applied: who holds the tables (best effort), and what to do. */
async function lockedOutWords(db: Database, name: string, timeoutMs: number): Promise<string> {
  const { said, first } = await lockHolders(db, "any");
  return `Cannot apply ${name}: another session held its tables for ${timeoutMs / 1000} s${
    said.length > 0 ? ` (${said.join(", ")})` : ""
  }; end it${
    first === undefined ? "" : ` (select pg_terminate_backend(${first}))`
  } or wait for it to finish, then run migrate again (nothing of ${name} was applied)`;
}
