/**
 * Opens the configured database: PostgreSQL when `DATABASE_URL` is set, else embedded PGlite.
 *
 * @module
 */

import { statfs } from "node:fs/promises";
import { dirname } from "node:path";
import { allowedPath } from "./allowed_path.ts";
import { type Config, ConfigError, DEMO_PGLITE_DIR, sameDir } from "./config.ts";
import {
  migrate,
  type MigrationStatus,
  NewerSchemaError,
  pendingMigrations,
  SchemaRefusedError,
} from "../core/migrate.ts";
import {
  createPgliteDatabase,
  hasPgliteDatabase,
  isPgliteLocked,
  lockedBy,
  type PgliteDatabaseHandle,
  type PgliteDatabaseOptions,
  pgliteLockFile,
} from "../adapters/pglite_database.ts";
import { connectPostgresDatabase, DatabaseUrlError } from "../adapters/postgres_database.ts";
import { ledgerGrantsLacking, ownerRoleInstead } from "../core/check_read_grants.ts";
import type { Database } from "../core/ports/mod.ts";
import { type LockWait, sayingLockWaits } from "../core/lock_wait.ts";

/** An embedded database a command left half-built: exit 2, with what to do. */
export class IncompleteDatabaseError extends ConfigError {
  /** Creates the error naming the folder; `note` is the marker's text (what to do). */
  constructor(dir: string, note: string) {
    super(`Cannot open the embedded database "${dir}": ${note}`);
    this.name = "IncompleteDatabaseError";
  }
}

/**
 * What is pending, in the words every command and `doctor` use: `1 pending migration(s) and 2
 * definition(s) (views, functions) to install`, then the names (`names` of them at most).
 */
export function describePending(
  pending: readonly string[],
  definitions: readonly string[] = [],
  names = Infinity,
): string {
  const counts = [
    ...(pending.length > 0 ? [`${pending.length} pending migration(s)`] : []),
    ...(definitions.length > 0
      ? [`${definitions.length} definition(s) (views, functions) to install`]
      : []),
  ];
  const all = [...pending, ...definitions];
  const listed = all.length > names ? `${all[0]} … ${all.at(-1)}` : all.join(", ");
  return `${counts.join(" and ")} (${listed})`;
}

/** Raised when the database has migrations this version needs and has not applied. */
export class PendingMigrationsError extends Error {
  /** Creates the error naming the pending migrations and the definitions to install. */
  constructor(
    pending: string[],
    definitions: string[] = [],
    remedy = 'run "deno task migrate" first',
    where = "",
  ) {
    super(
      `Cannot run: the database ${where}has ${describePending(pending, definitions)}; ${remedy}`,
    );
    this.name = "PendingMigrationsError";
  }
}

/** Options for {@linkcode openDatabase}. */
export interface OpenDatabaseOptions {
  /**
   * Require this version's schema, on PostgreSQL and on the embedded database alike: refuse a
   * database with pending migrations or definitions ({@linkcode PendingMigrationsError}) or one
   * a later version migrated ({@linkcode NewerSchemaError}). Every command but `sql` (which runs
   * on the schema as it is and says so) and `migrate` (which checks for itself).
   */
  requireMigrated?: boolean;
  /**
   * The command only reads, and touches no geometry (status): the embedded database then opens
   * without PostGIS, about half the boot time and memory.
   */
  readOnly?: boolean;
  /**
   * Embedded: migrate a database that has no migration applied yet (a new folder, or a first
   * boot cut short) when the command may make one, that is neither `existing` nor
   * `writesNothing` (`ingest --apply`). Default true; `migrate` sets false (it migrates, and
   * says what it applied). A database made earlier is never migrated on open.
   */
  migrate?: boolean;
  /**
   * The command looks at data (serve, status, sql, report): an embedded folder without a
   * database is refused instead of created empty (an empty database would answer "healthy, no
   * tickets" and hide the one the user meant).
   */
  existing?: boolean;
  /**
   * The command writes nothing (a dry run): an embedded folder without a database is left
   * alone and the command runs against a new, empty database in memory (`ephemeral`); creating
   * one there would be a write, and would hide the demo's database from the commands that fall
   * back to it. A folder whose first boot is running is still
   * reported locked, and one an apply could not use is still refused.
   */
  writesNothing?: boolean;
  /** Stops waiting for the connection (SIGTERM, Ctrl-C). */
  signal?: AbortSignal;
  /** PostgreSQL connections to pool (default 1; the read API uses several). */
  poolSize?: number;
  /** PostgreSQL: keep parameterised statements prepared per connection (the read API). */
  prepare?: boolean;
  /**
   * PostgreSQL: open every connection read only with this statement timeout, milliseconds (the
   * read API: its reads of one statement then need no transaction).
   */
  readOnlyTimeoutMs?: number;
  /**
   * PostgreSQL: the command's bound on waits for rows or tables another session holds, set on
   * every connection from the start, so the schema check is bounded too and a wait that runs
   * out is said in words ({@linkcode sayingLockWaits}). Before, a command bounded its waits
   * after the schema check, which could wait unbounded behind a lock on the ledgers, and a
   * replaced connection lost the bound.
   */
  lockWait?: LockWait;
}

/** Opens the database named by the configuration. */
export async function openDatabase(
  config: Config,
  options: OpenDatabaseOptions = {},
): Promise<Database> {
  if (config.databaseUrl === undefined) return await openEmbedded(config.pgliteDir, options);
  // Bounded: gives up after CONNECT_TIMEOUT_S naming host:port and database, or on the signal.
  const db = await connectPostgresDatabase(config.databaseUrl, {
    connectTimeout: config.connectTimeoutS,
    // serve's pool has a deadline of its own per read, and must outlive a frozen spell: a stall
    // ends the pool it watches.
    stallAfterS: options.readOnlyTimeoutMs === undefined ? config.stallAfterS : 0,
    signal: options.signal,
    max: options.poolSize,
    prepare: options.prepare,
    readOnlyTimeoutMs: options.readOnlyTimeoutMs,
    lockTimeoutMs: options.lockWait?.timeoutMs,
  }).catch((error) => {
    // A port that is not PostgreSQL's, TLS the server refuses: a setting to fix (exit 2, not
    // transient), not an outage.
    throw error instanceof DatabaseUrlError ? new ConfigError(error.message) : error;
  });
  try {
    if (options.requireMigrated) {
      await (options.lockWait === undefined
        ? requireCurrent(db)
        : sayingLockWaits(db, options.lockWait, () => requireCurrent(db)));
    }
  } catch (error) {
    const named = await ledgerGrantsError(db, error, options);
    await db.close();
    throw named ?? error;
  }
  return db;
}

/**
 * The schema check refused by the server (permission denied, SQLSTATE 42501) as a setting to fix
 * (exit 2) that names the GRANT statements the role lacks to read the migration ledgers; else
 * undefined (the error stands as it is).
 */
async function ledgerGrantsError(
  db: Database,
  error: unknown,
  options: OpenDatabaseOptions,
): Promise<Error | undefined> {
  // serve runs as a read-only role that the grants are for; every other command is meant to run
  // as the role that ran migrate (before: a role with no grants was told to grant reads).
  const serve = options.readOnlyTimeoutMs !== undefined;
  const instead = serve ? undefined : await ownerRoleInstead(db);
  const lacking = await ledgerGrantsLacking(db, error, "the check needs", instead);
  if (lacking === undefined) return undefined;
  return new ConfigError(`Cannot check that the database's schema is this version's: ${lacking}`);
}

async function openEmbedded(dir: string, options: OpenDatabaseOptions): Promise<Database> {
  checkEmbeddedDir(dir);
  // A link under .data must not carry the embedded cluster (or its lock file) elsewhere: the
  // folder's real path is checked by checkWritableFolder, before it writes its probe there.
  await checkWritableFolder(dir);
  await allowedPath(`${dir}.lock`, "write", "the embedded database lock file");
  await refuseIncomplete(dir);
  if (options.existing && !(await hasPgliteDatabase(dir))) {
    // A first boot still running holds the lock before it has written PG_VERSION: that is a
    // database being made (wait, or skip), not none.
    const held = await lockedBy(dir);
    if (held !== undefined) throw held;
    // PGLITE_DIR=.data/demo for the demo's .data/demo/pglite: the folder one down is named.
    const inside = `${dir.replace(/\/+$/, "")}/pglite`;
    throw new NoEmbeddedDatabaseError(dir, await hasPgliteDatabase(inside) ? inside : undefined);
  }
  if (options.writesNothing && !(await hasPgliteDatabase(dir))) {
    // A first boot still running is a database being made: wait or skip, as an apply would.
    const held = await lockedBy(dir);
    if (held !== undefined) throw held;
    await checkNewDatabaseFolder(dir); // an apply could not make one there: say so now
    return await openInMemory();
  }
  await checkNewDatabaseFolder(dir);
  const db = await openPgliteFolder({ dataDir: dir, postgis: !options.readOnly });
  try {
    if (options.migrate === false) return db;
    // Made by this command (ingest --apply): a database with no migration applied yet. One
    // made earlier is only checked, as PostgreSQL is: reading commands and dry runs never
    // migrate it, and `migrate` alone upgrades it.
    const makes = !options.existing && !options.writesNothing && !options.readOnly;
    if (!makes && !options.requireMigrated) return db;
    const remedy = demoRemedy(dir);
    const plan = await readPlan(db, remedy);
    if (makes && plan.applied.length === 0) await migrate(db);
    else if (options.requireMigrated) refusePending(plan, remedy);
    return db;
  } catch (error) {
    await db.close();
    throw error;
  }
}

/**
 * The file beside an embedded database folder that says the command building it has not finished
 * (`deno task demo` writes it first and removes it last); its text says what to do.
 */
export function incompleteMarker(dir: string): string {
  return `${dir}.incomplete`;
}

/**
 * What to do, when the command building the folder stopped half-way (Ctrl-C, a crash): the
 * marker's text. Undefined when there is no marker, or the folder is being built now (then the
 * lock says so: a reader waits or skips as for any held database).
 */
export async function incompleteNote(dir: string): Promise<string | undefined> {
  const note = await Deno.readTextFile(incompleteMarker(dir)).catch(() => undefined);
  if (note === undefined || await isPgliteLocked(dir)) return undefined;
  return note.trim();
}

/** Refuses a folder its builder left half-way ({@linkcode incompleteNote}). */
async function refuseIncomplete(dir: string): Promise<void> {
  const note = await incompleteNote(dir);
  if (note !== undefined) throw new IncompleteDatabaseError(dir, note);
}

/**
 * Refuses a database whose schema is not this version's: pending migrations or definitions
 * ({@linkcode PendingMigrationsError}), or a later version's ({@linkcode NewerSchemaError}).
 */
async function requireCurrent(db: Database, remedy?: string): Promise<void> {
  refusePending(await readPlan(db, remedy), remedy, db);
}

/** What is applied and pending; refuses a later version's database. */
async function readPlan(db: Database, remedy?: string) {
  try {
    return await pendingMigrations(db);
  } catch (error) {
    throw namingDatabase(error, db, remedy);
  }
}

/**
 * A later version's schema met in `db` ({@linkcode NewerSchemaError}), naming a PostgreSQL
 * database as the pending-migrations refusal does (and with `remedy` when given); any other
 * error as it is.
 */
export function namingDatabase(error: unknown, db: Database, remedy?: string): unknown {
  if (!(error instanceof NewerSchemaError)) return error;
  const { migrations, definitions } = error;
  return new NewerSchemaError(migrations, definitions, remedy ?? error.remedy, named(db));
}

/** `at host:port (database "…") ` for a PostgreSQL database (with its trailing space), else "". */
function named(db: Database | undefined): string {
  return db?.kind === "postgres" && db.description !== undefined
    ? `${db.description.replace(/^PostgreSQL /, "")} `
    : "";
}

/**
 * Refuses a database with pending migrations or definitions; a PostgreSQL one is named (`at
 * host:port (database "…")`): a URL naming no database reaches the user's, maybe not the one meant.
 */
function refusePending(plan: MigrationStatus, remedy?: string, db?: Database): void {
  if (plan.pending.length + plan.changedDefinitions.length > 0) {
    throw new PendingMigrationsError(plan.pending, plan.changedDefinitions, remedy, named(db));
  }
}

/**
 * Refuses the embedded database at `dir` when its schema is not this version's, as every
 * command but `migrate` and `sql` does (the demo's: rebuild it). For a command that opens it
 * itself (`db export`).
 */
export async function requireCurrentEmbedded(db: Database, dir: string): Promise<void> {
  await requireCurrent(db, demoRemedy(dir));
}

/**
 * What to do with the demo's database when it is not this version's: `migrate` would upgrade
 * PGLITE_DIR's (and make one there, hiding the demo's), so rebuild it.
 */
export function demoRemedy(dir: string): string | undefined {
  return sameDir(dir, DEMO_PGLITE_DIR)
    ? 'run "deno task demo" again to rebuild the demo\'s database at this version'
    : undefined;
}

/**
 * Why the database is not this version's schema, in words (`the database has 1 pending
 * migration(s) …; run "deno task migrate" first`), or undefined when it is: `sql` runs on the
 * schema as it is (an operator looks at the ledgers with it) and says so.
 */
export async function schemaNotice(db: Database, config: Config): Promise<string | undefined> {
  try {
    await requireCurrent(db, config.databaseUrl ? undefined : demoRemedy(config.pgliteDir));
    return undefined;
  } catch (error) {
    if (error instanceof SchemaRefusedError) return `${error.found}; ${error.remedy}`;
    if (error instanceof PendingMigrationsError) {
      return error.message.replace(/^Cannot (run|migrate): /, "");
    }
    throw error;
  }
}

async function openInMemory(): Promise<Database> {
  const db = await createPgliteDatabase({});
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

/** What a first boot writes into the folder (PGlite unpacks a data folder): left by one cut short. */
const DATA_FOLDER_ENTRY =
  /^(base|global|pg_[a-z_]+|postgresql(\.auto)?\.conf|pg_hba\.conf|pg_ident\.conf|postmaster\.\w+)$/;

/**
 * A database is made only in a new or empty folder (as initdb), or over what a first boot cut
 * short left there: PGLITE_DIR naming a folder of other files (a bucket folder, a typo) would
 * otherwise get a database written among them. A folder whose first boot is running (its lock
 * held) is left to that run.
 */
export async function checkNewDatabaseFolder(dir: string): Promise<void> {
  if (await hasPgliteDatabase(dir)) return;
  const entries: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.startsWith(".") && !DATA_FOLDER_ENTRY.test(entry.name)) {
        entries.push(entry.name);
      }
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return; // made on first use
    throw error;
  }
  if (entries.length === 0 || await isPgliteLocked(dir)) return;
  const named = entries.sort().slice(0, 3).map((name) => `"${name}"`).join(", ");
  throw new ConfigError(
    `Cannot make the embedded database in "${dir}": the folder holds other files (${named}) ` +
      `and no database; set PGLITE_DIR to a new or empty folder`,
  );
}

/** The embedded folder holds no database, and the command only looks at data. */
export class NoEmbeddedDatabaseError extends ConfigError {
  /**
   * Creates the error naming the folder and what makes a database there; `inside`: a folder in
   * it that holds one (PGLITE_DIR one level too high).
   */
  constructor(dir: string, inside?: string) {
    super(
      inside === undefined
        ? `Cannot open the embedded database "${dir}": there is none there yet; run "deno task ` +
          `demo" (it fills .data/demo/pglite) or "deno task ingest … --apply", or set PGLITE_DIR ` +
          `to the folder that has one, or DATABASE_URL`
        : `Cannot open the embedded database "${dir}": there is none there, but "${inside}" ` +
          `holds one: set PGLITE_DIR=${inside}`,
    );
    this.name = "NoEmbeddedDatabaseError";
  }
}

/**
 * Opens an embedded database folder; PGlite's failure to open it (the adapter names the folder:
 * read-only files, a damaged cluster) is a setting to fix, exit 2 and not transient, as every
 * rerun fails the same way until someone looks (before: exit 1, and `transient: true` under cron).
 */
export async function openPgliteFolder(
  options: PgliteDatabaseOptions & { dataDir: string },
): Promise<PgliteDatabaseHandle> {
  try {
    return await createPgliteDatabase(options);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith("Cannot open the embedded database ")) {
      throw new ConfigError(error.message);
    }
    throw error;
  }
}

/**
 * Refuses a PGLITE_DIR where no database can be made or opened, before PGlite tries (its words
 * were "[object Object]" or "PGlite failed to initialize properly", exit 1): a part of the path
 * that is a file, or a folder this user may not write in (another owner, read-only, immutable),
 * found by writing and removing a small file in the folder or, when it is not there yet, in its
 * nearest existing parent, or a full disk. A setting to fix (exit 2). Returns the bytes free on
 * the folder's disk, when the system says.
 */
export async function checkWritableFolder(dir: string): Promise<number | undefined> {
  // Where it really leads first: the probe below must not write through a link out of ./.data.
  await allowedPath(dir, "write", "the embedded database folder PGLITE_DIR");
  let existing = dir;
  for (;;) {
    // Only where the permission set lets the worker write (outside it, checkEmbeddedDir says so).
    if (Deno.permissions.querySync({ name: "write", path: existing }).state !== "granted") return;
    const stat = await Deno.stat(existing).catch((error) => {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        return undefined; // not there yet (or under a file, found above it)
      }
      throw error;
    });
    if (stat?.isDirectory) break;
    if (stat !== undefined) {
      throw new ConfigError(
        `Cannot open the embedded database "${dir}": "${existing}" is a file, not a folder; ` +
          `set PGLITE_DIR to a folder under ./.data`,
      );
    }
    if (dirname(existing) === existing) return;
    existing = dirname(existing);
  }
  try {
    const probe = await Deno.makeTempFile({ dir: existing, prefix: ".fleettickets-write-check-" });
    await Deno.remove(probe);
  } catch (error) {
    throw new ConfigError(
      `Cannot open the embedded database "${dir}": this user may not write in "${existing}"` +
        `${reasonOf(error)}; make it writable (chown, chmod, chattr -i), or set PGLITE_DIR to ` +
        `another folder under ./.data`,
    );
  }
  const free = await freeBytes(existing);
  if (free !== undefined && free < FULL_BELOW_BYTES) {
    // Before: a full disk passed (an empty probe file needs no block), and PGlite then failed.
    throw new ConfigError(
      `Cannot open the embedded database "${dir}": the disk holding "${existing}" is full ` +
        `(${formatBytes(free)} free); free space on it, or set PGLITE_DIR to a folder on ` +
        `another disk`,
    );
  }
  if (existing === dir) await checkWritableLock(dir);
  return free;
}

/** Below this many free bytes a disk counts as full: PGlite cannot start on it. */
export const FULL_BELOW_BYTES = 1024 * 1024;

/**
 * The bytes this user may still write on the disk holding `path` (`df`'s "Avail"), or undefined
 * where the system does not say (no `--allow-sys`, or no `statfs`).
 */
export async function freeBytes(path: string): Promise<number | undefined> {
  // Asked first: without the permission, a run that may prompt would stop to ask.
  if (Deno.permissions.querySync({ name: "sys", kind: "statfs" }).state !== "granted") return;
  try {
    const { bavail, bsize } = await statfs(path);
    return bavail * bsize;
  } catch {
    return undefined;
  }
}

/** `18.8 GB`, `120 MB`, `512 KB`: a size in decimal units, as `df -H` prints it. */
export function formatBytes(bytes: number): string {
  const units = [[1e9, "GB"], [1e6, "MB"], [1e3, "KB"]] as const;
  for (const [size, unit] of units) {
    if (bytes >= size) return `${(bytes / size).toFixed(bytes >= 10 * size ? 0 : 1)} ${unit}`;
  }
  return `${bytes} bytes`;
}

/**
 * The lock file beside an existing database folder must be writable, or made in its parent
 * (before: "Permission denied (os error 13): open '….lock'", in the system's words alone).
 */
async function checkWritableLock(dir: string): Promise<void> {
  const lock = await pgliteLockFile(dir);
  try {
    (await Deno.open(lock, { write: true, create: true })).close();
  } catch (error) {
    if (!(error instanceof Deno.errors.PermissionDenied)) return; // PGlite's open says it
    throw new ConfigError(
      `Cannot open the embedded database "${dir}": this user may not write its lock file ` +
        `"${lock}"${reasonOf(error)}; make it (or "${dirname(lock)}") writable for the user ` +
        `the worker runs as (chown, chmod, chattr -i)`,
    );
  }
}

/** ` (permission denied)`: an OS error's words without its number, or nothing. */
function reasonOf(error: unknown): string {
  const reason = error instanceof Error ? error.message.replace(/ \(os error \d+\).*$/, "") : "";
  return reason ? ` (${reason.toLowerCase()})` : "";
}

/**
 * Refuses, before anything is created, an embedded database folder the process may not write
 * (under `deno task` only `./.data` is writable), or a path that is a file: the message names
 * PGLITE_DIR and what to do.
 */
export function checkEmbeddedDir(dir: string): void {
  for (const path of [dir, `${dir}.lock`]) {
    if (Deno.permissions.querySync({ name: "write", path }).state !== "granted") {
      throw new ConfigError(
        `Cannot open the embedded database "${dir}": PGLITE_DIR must name a folder inside ` +
          `./.data (fleettickets may write only there; its lock file "${dir}.lock" too); ` +
          `set PGLITE_DIR=.data/<name>, or set DATABASE_URL to use PostgreSQL`,
      );
    }
  }
  // Only now, inside what the permission set grants (a stat elsewhere could prompt).
  const stat = (() => {
    try {
      return Deno.statSync(dir);
    } catch {
      return undefined; // not there yet: created on first use
    }
  })();
  if (stat !== undefined && !stat.isDirectory) {
    throw new ConfigError(
      `Cannot open the embedded database "${dir}": PGLITE_DIR names a file, not a folder; ` +
        `set PGLITE_DIR=.data/<name>`,
    );
  }
}
