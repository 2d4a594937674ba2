/**
 * The ports the core depends on. Adapters (`*_object_store.ts`, `*_database.ts`) implement
 * them; `drain`, `migrate` and friends only ever see these interfaces.
 *
 * @module
 */

/** One object in a bucket listing. */
export interface StoredObject {
  /** Full key, e.g. `automations/inc/changes/2026-06-15T17-00-00.csv`. */
  key: string;
  /** Opaque content version (S3 ETag, or size+mtime for a folder). */
  etag: string;
  /** Size in bytes. */
  size: number;
}

/** A bucket-like store of change files (S3, or a local folder mirroring the bucket root). */
export interface ObjectStore {
  /** Human-readable location for reports, never containing credentials. */
  readonly description: string;
  /** Lists every object under a prefix, following all listing pages. */
  list(prefix: string): Promise<StoredObject[]>;
  /** Streams an object's bytes. */
  read(key: string): Promise<ReadableStream<Uint8Array>>;
  /** Moves an object (copy, then delete the source); overwriting the target is fine. */
  move(from: string, to: string): Promise<void>;
}

/** A row returned by a query. */
export type Row = Record<string, unknown>;

/** A SQL session: everything runs on one connection, so session state (locks, temp tables) holds. */
export interface SqlSession {
  /** Runs one parameterised statement and returns its rows. */
  query<T extends Row = Row>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  /**
   * Bulk-loads rows (arrays of text or null, in `columns` order) into a table with COPY,
   * streaming batches as they are produced so parsing and loading overlap. No other query may
   * run on the session until it resolves.
   */
  copyRows(
    table: string,
    columns: readonly string[],
    batches: AsyncIterable<readonly (readonly (string | null)[])[]>,
  ): Promise<number>;
}

/** The database: PostgreSQL (postgres.js) or embedded PGlite. */
export interface Database extends SqlSession {
  /** `postgres` or `pglite`, for reports. */
  readonly kind: "postgres" | "pglite";
  /** Runs `fn` in one transaction: commit when it resolves, roll back when it throws. */
  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T>;
  /** Takes a named run lock without waiting; false when another process holds it. */
  tryLock(name: string): Promise<boolean>;
  /** Releases a lock taken by `tryLock`. */
  unlock(name: string): Promise<void>;
  /** Closes the connection or the embedded instance. */
  close(): Promise<void>;
}

/** A source of the current time, injected so tests control it. */
export interface Clock {
  /** The current instant. */
  now(): Date;
}

/** The system clock. */
export const systemClock: Clock = { now: () => new Date() };

/** One forward-geocoding question. */
export interface GeocodeQuery {
  /** Free text, e.g. `Sarit Centre, Westlands, Nairobi`. */
  text: string;
  /** ISO 3166-1 alpha-2 codes the answer must lie in, e.g. `["ke"]`. */
  countryCodes: readonly string[];
  /** Bias towards this point (the cluster centroid), when known. */
  near?: { lat: number; lon: number };
}

/** A geocoder's answer: a point, or nothing found (a miss is an answer, not a failure). */
export type GeocodeAnswer =
  | { kind: "hit"; lat: number; lon: number; label: string }
  | { kind: "miss" };

/** A forward geocoder (LocationIQ, OpenCage, Nominatim-compatible). */
export interface Geocoder {
  /** Provider name stored with every cached answer. */
  readonly provider: string;
  /** Looks one query up; throws `GeocoderError` when the provider fails or refuses. */
  search(query: GeocodeQuery): Promise<GeocodeAnswer>;
}
