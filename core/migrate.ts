/**
 * Schema migrations: numbered `migrations/NNN_name.sql` files, applied in order, each in its
 * own transaction, recorded with a checksum in `tickets.schema_migrations`.
 *
 * @module
 */

import type { Database } from "./ports/mod.ts";

const LEDGER = `
create schema if not exists tickets;
create table if not exists tickets.schema_migrations (
  version integer primary key,
  name text not null,
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

/** The migrations shipped with this version, read from the `migrations/` folder. */
export async function loadMigrations(
  dir: URL = new URL("../migrations/", import.meta.url),
): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const m = /^(\d+)_.+\.sql$/.exec(entry.name);
    if (!entry.isFile || m === null) continue;
    migrations.push({
      version: Number(m[1]),
      name: entry.name,
      sql: await Deno.readTextFile(new URL(entry.name, dir)),
    });
  }
  return migrations.sort((a, b) => a.version - b.version);
}

async function checksum(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** What {@linkcode pendingMigrations} and {@linkcode migrate} report. */
export interface MigrationStatus {
  /** Migrations already applied. */
  applied: string[];
  /** Migrations not yet applied (applied by `migrate`). */
  pending: string[];
}

/**
 * Lists applied and pending migrations. Throws a RangeError when an applied migration's file
 * changed since (released migrations are never edited).
 */
export async function pendingMigrations(
  db: Database,
  migrations?: Migration[],
): Promise<MigrationStatus & { todo: Migration[] }> {
  const all = migrations ?? await loadMigrations();
  const [exists] = await db.query<{ ok: boolean }>(
    `select to_regclass('tickets.schema_migrations') is not null as ok`,
  );
  const done = new Map<number, string>();
  if (exists?.ok) {
    const rows = await db.query<{ version: number; checksum: string }>(
      `select version, checksum from tickets.schema_migrations`,
    );
    for (const row of rows) done.set(row.version, row.checksum);
  }
  const status = { applied: [] as string[], pending: [] as string[], todo: [] as Migration[] };
  for (const migration of all) {
    const recorded = done.get(migration.version);
    if (recorded === undefined) {
      status.pending.push(migration.name);
      status.todo.push(migration);
    } else if (recorded !== await checksum(migration.sql)) {
      throw new RangeError(
        `Cannot migrate: "${migration.name}" changed after it was applied; restore the released file`,
      );
    } else {
      status.applied.push(migration.name);
    }
  }
  return status;
}

/** Applies every pending migration in order; returns what was applied. */
export async function migrate(db: Database, migrations?: Migration[]): Promise<MigrationStatus> {
  await db.exec(LEDGER);
  const status = await pendingMigrations(db, migrations);
  for (const migration of status.todo) {
    await db.transaction(async (tx) => {
      await tx.exec(migration.sql);
      await tx.query(
        `insert into tickets.schema_migrations (version, name, checksum) values ($1, $2, $3)`,
        [migration.version, migration.name, await checksum(migration.sql)],
      );
    });
  }
  await applyDefinitionsTemporary(db);
  return { applied: status.applied, pending: status.pending };
}

// TEMPORARY (serve branch): until main's `definitions/` support lands, every migrate() re-applies
// definitions/*.sql (views and functions written `create or replace`) in file-name order. The
// integrator's version (checksummed, re-applied when changed) replaces this on merge.
async function applyDefinitionsTemporary(db: Database): Promise<void> {
  const dir = new URL("../definitions/", import.meta.url);
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && /^\d+_.+\.sql$/.test(entry.name)) names.push(entry.name);
  }
  for (const name of names.sort()) {
    await db.exec(await Deno.readTextFile(new URL(name, dir)));
  }
}
