/**
 * What every handler of the read API gets: the database, the settings, the clock.
 *
 * @module
 */

import type { Config } from "../app/config.ts";
import type { Database } from "../core/ports/mod.ts";
import type { DataVersion } from "../core/data_version.ts";
import type { VersionCache } from "./version_cache.ts";
import type { LargeReads } from "./_large_reads.ts";

/** The dependencies of {@linkcode createApp}. */
export interface ServeDeps {
  /** The database (PostgreSQL pool or embedded PGlite). */
  db: Database;
  /**
   * A connection of its own for `/api/health` (PostgreSQL), so that a busy pool does not make a
   * healthy server look down; absent: `db`.
   */
  healthDb?: Database;
  /** `serve` settings from the configuration. */
  settings: Config["serve"];
  /**
   * The database is the demo's, read because the default embedded folder had none (the page's
   * stale banner says so: no ingest writes it).
   */
  demo?: boolean;
  /** Folder of the page (`web/`). */
  webRoot: string;
  /** The clock (tests). */
  now: () => Date;
  /** Writes one log line (a JSON object for machines, or text on a terminal). */
  log: (entry: Record<string, unknown>) => void;
  /** Removes secrets from text that is logged. */
  redact: (text: string) => string;
  /**
   * The data version remembered for `304`s without a query (`startServer` makes one from
   * `settings.versionTtlMs` and keeps it current); absent: every conditional request reads it.
   */
  versions?: VersionCache<DataVersion>;
  /**
   * Aborts when a stopping server has waited long enough for the responses still being sent:
   * the bodies serve writes itself (the CSV export) end then, with its reason.
   */
  cut?: AbortSignal;
  /**
   * The slots of large reads (a page of more than DEFAULT_LIMIT tickets): `createApp` makes one
   * with the default bounds when absent.
   */
  largeReads?: LargeReads;
  /**
   * The access lines still to be written (a streamed body's, written once its end is known):
   * a stopping server waits for them (`RunningServer.linesWritten`, serve/server.ts).
   */
  pendingLines?: Set<Promise<void>>;
}

/** Hono environment of the read API. */
export interface ServeEnv {
  Variables: {
    deps: ServeDeps;
    /** Rows read, for the access log. */
    rows: number;
    /**
     * A streamed body's end: settles with the rows the client took once it has taken the last
     * (the access-log line waits for it); rejects, with `rowsSent`, when it stopped early.
     */
    streamed?: Promise<number>;
  };
}
