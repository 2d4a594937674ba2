/**
 * The object store port: a bucket-like store of change files, and the error its adapters throw.
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
  /** Why the object must not be read (a symbolic link in a folder), when so. */
  problem?: string;
  /**
   * How long ago it was last written, in ms, from a store that lists a file while it is still
   * being written (a folder); absent where an object appears only once whole (S3).
   */
  writtenMsAgo?: number;
}

/**
 * A bucket-like store of change files (S3, or a local folder mirroring the bucket root).
 *
 * @example Reading every change file of a dataset
 * ```ts
 * import { createDirObjectStore, INC, type ObjectStore, parseChangeKey } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/automations/inc/changes`, { recursive: true });
 * await Deno.writeTextFile(
 *   `${root}/automations/inc/changes/2026-06-15T17-00-00.csv`,
 *   "ticket_id\nWOT0000001\n",
 * );
 *
 * const store: ObjectStore = createDirObjectStore(root);
 * for (const object of await store.list(INC.changesPrefix)) {
 *   if (parseChangeKey(object.key, INC.changesPrefix) === null) continue;
 *   const text = await new Response(await store.read(object.key)).text();
 *   assert.equal(text, "ticket_id\nWOT0000001\n");
 * }
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export interface ObjectStore {
  /** Human-readable location for reports, never containing credentials. */
  readonly description: string;
  /** Lists every object under a prefix, following all listing pages. */
  list(prefix: string): Promise<StoredObject[]>;
  /**
   * Up to `limit` keys from anywhere in the store, in key order, in one request (S3 only): to
   * say where files are when a dataset's prefix holds none.
   */
  listAnywhere?(limit: number): Promise<string[]>;
  /**
   * Streams an object's bytes. With `etag`, only that version's: when the object was replaced
   * since it was listed, throws {@linkcode ObjectReplacedError} (before: a version of the same
   * size was applied under the listed version's ETag).
   */
  read(key: string, options?: { etag?: string }): Promise<ReadableStream<Uint8Array>>;
  /**
   * Moves an object (copy, then delete the source); overwriting the target is fine. With
   * `etag`, moves only that version: when the object was replaced since it was listed, throws
   * {@linkcode ObjectChangedError} and leaves the new version where it is.
   */
  move(from: string, to: string, options?: { etag?: string }): Promise<void>;
}

/**
 * The store refused a request for good (credentials, permissions, no such bucket).
 *
 * @example Usage
 * ```ts
 * import { ObjectStoreError } from "../../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new ObjectStoreError('Cannot list bucket "isptickets": access denied', {
 *   status: 403,
 *   terminal: true,
 * });
 * assert.equal(error.name, "ObjectStoreError");
 * assert.equal(error.terminal, true); // retrying cannot help: a person must fix the credentials
 * ```
 */
export class ObjectStoreError extends Error {
  /** HTTP status, when there was a response. */
  readonly status: number | undefined;
  /** True when retrying as is cannot help; a person must fix the configuration. */
  readonly terminal: boolean;

  /** Creates the error; the message must never contain a secret. */
  constructor(message: string, options: { status?: number; terminal: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = "ObjectStoreError";
    this.status = options.status;
    this.terminal = options.terminal;
  }
}

/**
 * The object was replaced since it was listed: the listed version cannot be read any more
 * (transient: the next run lists the new version and applies it).
 */
export class ObjectReplacedError extends ObjectStoreError {
  /** Creates the error naming the key and the version listed. */
  constructor(key: string, etag: string, options?: { cause?: unknown }) {
    super(
      `Cannot read "${key}": it changed after it was listed (replaced, or still being written; ETag "${etag}" listed); the next run applies it as it then is`,
      { terminal: false, status: 412, cause: options?.cause },
    );
    this.name = "ObjectReplacedError";
  }
}

/**
 * The object was removed since it was listed (transient: the next run lists again, without it).
 * Before: `NoSuchKey (HTTP 404): The specified key does not exist.`
 */
export class ObjectRemovedError extends ObjectStoreError {
  /** Creates the error naming the key. */
  constructor(key: string, options?: { cause?: unknown }) {
    super(
      `Cannot read "${key}": it was removed after it was listed; the next run lists again`,
      { terminal: false, status: 404, cause: options?.cause },
    );
    this.name = "ObjectRemovedError";
  }
}

/** The object was replaced since it was listed: it was not moved (the next run sees the new version). */
export class ObjectChangedError extends ObjectStoreError {
  /** Creates the error naming the key. */
  constructor(key: string, options?: { cause?: unknown }) {
    super(
      `Did not archive "${key}": it was replaced while it was being applied; the new version stays for the next run`,
      { terminal: false, cause: options?.cause },
    );
    this.name = "ObjectChangedError";
  }
}
