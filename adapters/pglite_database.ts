/**
 * Embedded PostgreSQL (PGlite + PostGIS) adapter: the zero-configuration default.
 *
 * @module
 */

import type { PGlite, Transaction } from "@electric-sql/pglite";
import { encodeCopyText } from "./_copy_text.ts";
import { DATE_OID } from "./_pg_types.ts";
import type { Database, Row, SqlSession, StatementResult } from "../core/ports/mod.ts";

/**
 * Thrown when another process has the embedded database open.
 *
 * @example Usage
 * ```ts ignore
 * import { createPgliteDatabase, DatabaseLockedError } from "../mod.ts";
 *
 * try {
 *   const db = await createPgliteDatabase({ dataDir: ".data/pglite" });
 *   await db.close();
 * } catch (error) {
 *   if (!(error instanceof DatabaseLockedError)) throw error;
 *   // Another run holds the lock on the embedded database ".data/pglite"
 *   console.log(error.message);
 * }
 * ```
 */
export class DatabaseLockedError extends Error {
  /** Who holds it, when the holder wrote so into the lock file (this version's processes do). */
  readonly holder: LockHolder | undefined;

  /** Creates the error for a data directory, naming its holder when known. */
  constructor(dir: string, holder?: LockHolder) {
    const who = holder && `"${holder.command}", process ${holder.pid}, since ${holder.since}`;
    super(
      holder?.command === "serve"
        ? `A running "serve" (process ${holder.pid}, since ${holder.since}) holds the embedded ` +
          `database "${dir}"`
        : `Another run holds the lock on the embedded database "${dir}"${who ? ` (${who})` : ""}`,
    );
    this.name = "DatabaseLockedError";
    this.holder = holder;
  }

  /** Whether a running serve holds it: it keeps the database until stopped, not for a run. */
  get heldByServe(): boolean {
    return this.holder?.command === "serve";
  }
}

/** Who holds an embedded database, as its holder wrote into the lock file. */
export interface LockHolder {
  /** Its process id. */
  pid: number;
  /** Its command (`serve`, `ingest`, …). */
  command: string;
  /** When it took the lock (UTC, to the second). */
  since: string;
}

/** The command this process names in the lock files it takes ({@linkcode nameLockHolder}). */
let holderCommand = "fleettickets";

/**
 * Names this process's command in the lock files it takes from now on: a process that finds the
 * database held can then say who holds it (before: "another run", also for a serve that never
 * lets go: a tester's cron skipped every run in silence). The CLI calls it once.
 */
export function nameLockHolder(command: string): void {
  holderCommand = command;
}

/** Writes this process into the lock file it holds (best effort: a lock is a lock without it). */
async function writeLockHolder(lockFile: Deno.FsFile): Promise<void> {
  const holder: LockHolder = {
    pid: Deno.pid,
    command: holderCommand,
    since: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
  };
  try {
    await lockFile.truncate(0);
    await lockFile.seek(0, Deno.SeekMode.Start);
    await lockFile.write(new TextEncoder().encode(`${JSON.stringify(holder)}\n`));
  } catch { /* the holder stays unnamed */ }
}

/** The holder the lock file of `dataDir` names; undefined when none is written (or readable). */
async function readLockHolder(lockPath: string): Promise<LockHolder | undefined> {
  try {
    const h = JSON.parse(await Deno.readTextFile(lockPath));
    const named = Number.isInteger(h?.pid) && typeof h.command === "string" &&
      typeof h.since === "string";
    return named ? { pid: h.pid, command: h.command, since: h.since } : undefined;
  } catch {
    return undefined;
  }
}

/** The error for `dataDir` held by another process, naming the holder when the lock file does. */
export async function databaseLockedError(dataDir: string): Promise<DatabaseLockedError> {
  return new DatabaseLockedError(dataDir, await readLockHolder(await pgliteLockFile(dataDir)));
}

/**
 * Who holds `dataDir`: the {@linkcode DatabaseLockedError} naming the process that holds its lock
 * ({@linkcode isPgliteLocked}), or undefined when none does.
 */
export async function lockedBy(dataDir: string): Promise<DatabaseLockedError | undefined> {
  return await isPgliteLocked(dataDir) ? await databaseLockedError(dataDir) : undefined;
}

/** Whether `dataDir` holds a database (PGlite writes `PG_VERSION` once it has made one). */
export async function hasPgliteDatabase(dataDir: string): Promise<boolean> {
  return await Deno.stat(`${dataDir}/PG_VERSION`).then((s) => s.isFile, () => false);
}

/**
 * The lock file of `dataDir`: beside the folder, named after where it really is, so that every
 * spelling of one folder (`.data/x`, `.data/x/`, a link to it) takes the same lock.
 */
export async function pgliteLockFile(dataDir: string): Promise<string> {
  const real = await Deno.realPath(dataDir).catch(() => undefined);
  return `${real ?? (dataDir.replace(/\/+$/, "") || dataDir)}.lock`;
}

/**
 * Whether another process holds the lock of `dataDir` (see {@linkcode createPgliteDatabase}):
 * false when none does, or no process ever took it.
 */
export async function isPgliteLocked(dataDir: string): Promise<boolean> {
  const path = await pgliteLockFile(dataDir);
  const file = await Deno.open(path, { write: true }).catch(() => undefined);
  if (file === undefined) return false;
  try {
    return !(await file.tryLock(true));
  } finally {
    file.close();
  }
}

/** Options for {@linkcode createPgliteDatabase}. */
export interface PgliteDatabaseOptions {
  /** Data directory; omit for an in-memory database (tests). */
  dataDir?: string;
  /** Start from a `dumpDataDir()` tarball (tests share one migrated snapshot). */
  loadDataDir?: Blob;
  /**
   * Load the PostGIS extension (default true). Without it PGlite boots in about half the time
   * and memory, and every query that does not touch a geometry or geography value still works
   * (status, counts, the ledger); writes to ticket tables and spatial queries need it.
   */
  postgis?: boolean;
}

/** The embedded database, with what only it can do. */
export interface PgliteDatabaseHandle extends Database {
  /** The data directory as a tarball (`loadDataDir` takes it back). */
  dump(): Promise<Blob>;
  /** A table's rows (only `columns`, already quoted) in COPY text format. */
  copyOut(table: string, columns: readonly string[]): Promise<string>;
}

/** How reports and messages name the embedded database in `dir` (its `description`). */
export function describeEmbedded(dir: string): string {
  return `the embedded database "${dir}"`;
}

/**
 * Takes the data directory's lock file (refused with the holder's name when another process
 * holds it) and writes this process as its holder. `killedHolder`: the file still named a holder,
 * which therefore ended without closing.
 */
async function lockDataDir(
  dataDir: string,
): Promise<{ file: Deno.FsFile; dataDir: string; killedHolder: boolean }> {
  await Deno.mkdir(dataDir, { recursive: true });
  const path = await pgliteLockFile(dataDir);
  const file = await Deno.open(path, { write: true, create: true });
  if (!(await file.tryLock(true))) {
    file.close();
    throw new DatabaseLockedError(dataDir, await readLockHolder(path));
  }
  const killedHolder = await readLockHolder(path) !== undefined;
  await writeLockHolder(file);
  return { file, dataDir, killedHolder };
}

/**
 * Opens (creating if needed) an embedded PGlite database with PostGIS. PGlite is single-process,
 * so a data directory is guarded by an OS file lock; a second process gets {@linkcode DatabaseLockedError}.
 *
 * @example Usage
 * ```ts ignore
 * import { createPgliteDatabase, migrate } from "../mod.ts";
 *
 * const db = await createPgliteDatabase({ dataDir: ".data/pglite" }); // omit dataDir: in memory
 * await migrate(db);
 * const [row] = await db.query<{ n: number }>(`select count(*)::int as n from tickets.inc`);
 * console.log(row?.n);
 * await db.close();
 * ```
 */
export async function createPgliteDatabase(
  options: PgliteDatabaseOptions = {},
): Promise<PgliteDatabaseHandle> {
  const lock = options.dataDir === undefined ? undefined : await lockDataDir(options.dataDir);
  try {
    // The last holder ended without closing (killed): it may have left temporary files.
    if (lock?.killedHolder) await removeOrphanTempFiles(lock.dataDir);
    // Loaded here, not at the top: a run on PostgreSQL never pays for loading PGlite (~150 ms).
    const { PGlite } = await import("@electric-sql/pglite");
    const { postgisCore } = await import("./pglite_postgis.ts");
    const pg = await PGlite.create({
      // Where it really is: PGlite's file system cannot open a folder through a link (errno 20,
      // a tester's link inside ./.data to a database there).
      dataDir: options.dataDir === undefined
        ? undefined
        : await Deno.realPath(options.dataDir).catch(() => options.dataDir),
      loadDataDir: options.loadDataDir,
      extensions: options.postgis === false ? {} : { postgis: postgisCore },
    });
    const description = options.dataDir === undefined
      ? "a database in memory (nothing kept)"
      : describeEmbedded(options.dataDir);
    return new PgliteDatabase(pg, lock?.file, description, {
      ephemeral: options.dataDir === undefined,
      postgis: options.postgis !== false,
    });
  } catch (error) {
    lock?.file.close();
    throw openError(options.dataDir, error);
  }
}

/** A temporary table's file (`t3_17827`, its forks and segments), as PostgreSQL names them. */
const TEMP_RELATION_FILE = /^t\d+_\d+(_(fsm|vm|init))?(\.\d+)?$/;

/**
 * Removes the files of temporary tables that a killed process left in `dataDir` (a drain's stage
 * table is one): PostgreSQL removes them when its server starts, PGlite never does (before: ~60
 * MB left for good by each run killed during a large file's merge; a tester's). Called with the
 * folder's lock held, before PGlite opens it, when no session can own one, and only when the
 * lock file still names the last holder (it ended without closing).
 */
export async function removeOrphanTempFiles(dataDir: string): Promise<number> {
  let removed = 0;
  const databases = await Array.fromAsync(Deno.readDir(`${dataDir}/base`)).catch(() => []);
  for (const database of databases) {
    if (!database.isDirectory) continue;
    const folder = `${dataDir}/base/${database.name}`;
    for await (const entry of Deno.readDir(folder)) {
      if (!entry.isFile || !TEMP_RELATION_FILE.test(entry.name)) continue;
      await Deno.remove(`${folder}/${entry.name}`);
      removed++;
    }
  }
  return removed;
}

/**
 * PGlite's failure to open a folder, naming it: its file system's errors are objects with an
 * `errno` and no message (they read "[object Object]"), and its own ("PGlite failed to initialize
 * properly", "aborted()", for a folder whose files are read-only) say nothing of where.
 */
export function openError(dataDir: string | undefined, error: unknown): unknown {
  if (dataDir === undefined) return error;
  const errno = (error as { errno?: unknown } | null)?.errno;
  const full = typeof errno === "number" ? DISK_FULL[errno] : undefined;
  if (full !== undefined) {
    // Before: "its file system refused it (errno 51) … make it writable", on a full disk.
    return new Error(
      `Cannot open the embedded database "${dataDir}": ${full}; free space on the disk that ` +
        `holds it (df -h "${dataDir}"), or set PGLITE_DIR to a folder on another, then run again`,
      { cause: error },
    );
  }
  const why = error instanceof Error
    // Emscripten's advice to its own builders is no help here.
    ? error.message.replace(/\s*Build with -s\w+ for more info\.?/, "").replace(/\.$/, "")
    : typeof errno === "number"
    ? `its file system refused it (errno ${errno})`
    : String(error);
  return new Error(
    `Cannot open the embedded database "${dataDir}": ${why}; if the folder or a file in it is ` +
      `read-only to this user, make it writable (chown, chmod, chattr -i)`,
    { cause: error },
  );
}

/** PGlite's file system's errno (Emscripten's numbers) for a disk with no room left, in words. */
const DISK_FULL: Record<number, string> = {
  51: "its disk is full (no space left on the device)",
  19: "the disk quota of this user is used up",
};

class PgliteSession implements SqlSession {
  #pg: PGlite | Transaction;

  constructor(pg: PGlite | Transaction) {
    this.#pg = pg;
  }

  async query<T extends Row = Row>(text: string, params?: readonly unknown[]): Promise<T[]> {
    const result = await this.#pg.query<T>(text, params as unknown[] | undefined);
    return result.rows;
  }

  async exec(script: string): Promise<void> {
    await this.#pg.exec(script);
  }

  async copyRows(
    table: string,
    columns: readonly string[],
    batches: AsyncIterable<readonly (readonly (string | null)[])[]>,
  ): Promise<number> {
    let count = 0;
    for await (const rows of batches) {
      if (rows.length === 0) continue;
      const blob = new Blob([encodeCopyText(rows)]);
      await this.#pg.query(`copy ${table} (${columns.join(", ")}) from '/dev/blob'`, [], { blob });
      count += rows.length;
    }
    return count;
  }

  async copyCsv(
    table: string,
    columns: readonly string[],
    body: AsyncIterable<Uint8Array>,
  ): Promise<void> {
    // PGlite reads COPY input from one blob: the file is held in memory once (copied: the
    // producer may reuse its buffer for the next chunk).
    const chunks: BlobPart[] = [];
    for await (const chunk of body) chunks.push(chunk.slice());
    const sql = `copy ${table} (${
      columns.join(", ")
    }) from '/dev/blob' with (format csv, header true)`;
    await this.#pg.query(sql, [], { blob: new Blob(chunks) });
  }
}

class PgliteDatabase extends PgliteSession implements PgliteDatabaseHandle {
  readonly kind = "pglite" as const;
  #pg: PGlite;
  #lockFile: Deno.FsFile | undefined;
  #locks = new Set<string>();

  readonly ephemeral: boolean;
  #postgis: boolean;

  constructor(
    pg: PGlite,
    lockFile: Deno.FsFile | undefined,
    readonly description: string,
    options: { ephemeral: boolean; postgis: boolean },
  ) {
    super(pg);
    this.#pg = pg;
    this.#lockFile = lockFile;
    this.ephemeral = options.ephemeral;
    this.#postgis = options.postgis;
  }

  // `tables` are the datasets' own constants (core/run_after_apply.ts), never a user's text.
  async tidy(tables: readonly string[], rowsWritten: number): Promise<void> {
    if (tables.length === 0) return;
    const { rows: [table] } = await this.#pg.query<{ rows: number }>(
      `select reltuples::float8 as rows from pg_class where oid = $1::regclass`,
      [tables[0]],
    );
    // reltuples is -1 until a first VACUUM or ANALYZE. ANALYZE reads the geometry columns' types,
    // which PostGIS defines: without it (a read-only open) only VACUUM.
    const rows = table?.rows ?? -1;
    const analyze = this.#postgis && (rows < 0 || rowsWritten * 10 >= rows);
    await this.#pg.exec(`vacuum ${analyze ? "(analyze) " : ""}${tables.join(", ")}`);
  }

  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    return this.#pg.transaction((tx) => fn(new PgliteSession(tx)));
  }

  async runStatement(text: string): Promise<StatementResult> {
    const result = await this.#pg.query<Row>(text);
    return {
      columns: result.fields.map((field) => field.name),
      rows: result.rows,
      command: result.command ?? "",
      count: result.rowCount,
      dateColumns: result.fields.filter((f) => f.dataTypeID === DATE_OID).map((f) => f.name),
    };
  }

  // Other processes are kept out by the data-directory file lock; this guards one process.
  tryLock(name: string): Promise<boolean> {
    if (this.#locks.has(name)) return Promise.resolve(false);
    this.#locks.add(name);
    return Promise.resolve(true);
  }

  unlock(name: string): Promise<void> {
    this.#locks.delete(name);
    return Promise.resolve();
  }

  async listen(channel: string, onEvent: () => void): Promise<() => Promise<void>> {
    const stop = await this.#pg.listen(channel, () => onEvent());
    onEvent();
    return async () => {
      await stop();
    };
  }

  dump(): Promise<Blob> {
    return this.#pg.dumpDataDir("none");
  }

  async copyOut(table: string, columns: readonly string[]): Promise<string> {
    const result = await this.#pg.query(`copy ${table} (${columns.join(", ")}) to '/dev/blob'`);
    return result.blob ? await result.blob.text() : "";
  }

  async close(): Promise<void> {
    try {
      await this.#pg.close();
    } finally {
      // Unnamed again before it is let go: the next holder's name is the only one written.
      await this.#lockFile?.truncate(0).catch(() => {});
      this.#lockFile?.close();
    }
  }
}
