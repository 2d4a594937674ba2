// Embedded databases for the tests, built once and shared by every test file of a run: a
// PGlite + PostGIS database made and migrated from nothing takes 10–20 s (initdb, CREATE
// EXTENSION postgis, every migration), a copy of one a fraction of a second. Private to tests/.
//
// A migrated one is keyed by the text of every migration and definition and by deno.json's
// imports (the PGlite versions), so a schema change rebuilds it; the one with PostGIS before any
// migration by the imports alone. Parallel test files build each one once: under an exclusive
// lock on the cache folder, the first builds it and the others wait and read it.

import { cp } from "node:fs/promises";
import { dirname } from "node:path";
import { createPgliteDatabase } from "../adapters/pglite_database.ts";
import { loadDefinitions, loadMigrations, migrate } from "../core/migrate.ts";
import type { Database } from "../core/ports/mod.ts";

const CACHE = ".data/test-cache";

/** The path of a migrated database's `dumpDataDir()` tarball (`loadDataDir` takes it). */
export async function migratedSnapshot(): Promise<string> {
  return await cached(`pglite-migrated.tar.${await schemaKey()}`, async (path) => {
    const db = await createPgliteDatabase();
    try {
      await migrate(db);
      await Deno.writeFile(path, new Uint8Array(await (await db.dump()).arrayBuffer()));
    } finally {
      await db.close();
    }
  });
}

/**
 * A new embedded database (in memory, or in `dataDir`, which must not exist) as `initdb` and
 * `create extension postgis` leave it, before any migration: where the tests of an earlier
 * release's database start. Made from nothing each took
 * ~15 s on CI (initdb, then PostGIS's install script); this loads a snapshot in ~2 s. Migration
 * 001's `create extension if not exists postgis` finds it there. (A database made from nothing
 * is still tested: embedded_db_test's first test migrates a new folder.)
 */
export async function newPgliteWithPostgis(dataDir?: string): Promise<Database> {
  const loadDataDir = new Blob([await Deno.readFile(await postgisSnapshot())]);
  return await createPgliteDatabase({ dataDir, loadDataDir });
}

/** The path of a `dumpDataDir()` tarball of a new database with PostGIS and nothing else. */
async function postgisSnapshot(): Promise<string> {
  // Keyed by the PGlite versions alone: no migration has run in it.
  return await cached(`pglite-postgis.tar.${await hashOf(await importsText())}`, async (path) => {
    const db = await createPgliteDatabase();
    try {
      await db.exec("create extension postgis");
      await Deno.writeFile(path, new Uint8Array(await (await db.dump()).arrayBuffer()));
    } finally {
      await db.close();
    }
  });
}

/**
 * Makes `dataDir` (which must not exist) a copy of a migrated embedded database holding no rows:
 * what `deno task migrate` makes in a new folder, for a test about something else.
 */
export async function copyMigratedPglite(dataDir: string): Promise<void> {
  const snapshot = await migratedSnapshot();
  const template = await cached(`pglite-migrated-dir.${await schemaKey()}`, async (path) => {
    const loadDataDir = new Blob([await Deno.readFile(snapshot)]);
    const db = await createPgliteDatabase({ dataDir: path, loadDataDir });
    await db.close();
    await Deno.remove(`${path}.lock`).catch(() => {});
  });
  await Deno.mkdir(dirname(dataDir), { recursive: true });
  await cp(template, dataDir, { recursive: true, errorOnExist: true, force: false });
}

/**
 * `name` in the cache folder, made by `build(path)` under the cache's lock if missing (built
 * under a temporary name and renamed, so a killed build leaves no half-made entry).
 */
async function cached(name: string, build: (path: string) => Promise<void>): Promise<string> {
  const path = `${CACHE}/${name}`;
  if (await exists(path)) return path;
  await Deno.mkdir(CACHE, { recursive: true });
  using lock = await Deno.open(`${CACHE}/.build.lock`, { create: true, write: true });
  await lock.lock(true);
  if (await exists(path)) return path;
  const tmp = `${path}.building-${crypto.randomUUID()}`;
  try {
    await build(tmp);
    await Deno.rename(tmp, path);
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  await removeOtherVersions(name);
  return path;
}

/** Removes the entries of `name`'s kind built for another schema (each is ~60 MB). */
async function removeOtherVersions(name: string): Promise<void> {
  const kind = name.slice(0, name.lastIndexOf(".") + 1);
  for await (const entry of Deno.readDir(CACHE)) {
    if (entry.name.startsWith(kind) && entry.name !== name && !entry.name.includes(".building-")) {
      await Deno.remove(`${CACHE}/${entry.name}`, { recursive: true }).catch(() => {});
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

let key: Promise<string> | undefined;

/** A hash of every migration's and definition's name and text, and of the PGlite versions. */
function schemaKey(): Promise<string> {
  return key ??= (async () => {
    let text = await importsText();
    for (const { name, sql } of [...await loadMigrations(), ...await loadDefinitions()]) {
      text += name + sql;
    }
    return await hashOf(text);
  })();
}

/** deno.json's imports (the PGlite and PostGIS versions among them), as text. */
async function importsText(): Promise<string> {
  const config = await Deno.readTextFile(new URL("../deno.json", import.meta.url));
  return JSON.stringify(JSON.parse(config).imports);
}

/** The first 8 bytes of `text`'s SHA-256, in hex. */
async function hashOf(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest).slice(0, 8), (b) => b.toString(16).padStart(2, "0"))
    .join("");
}
