/**
 * A local folder that mirrors the bucket root (`DIR/automations/inc/changes/…`).
 *
 * @module
 */

import { createHash } from "node:crypto";
import {
  ObjectChangedError,
  ObjectRemovedError,
  ObjectReplacedError,
  ObjectStoreError,
} from "../core/ports/mod.ts";
import type { ObjectStore, StoredObject } from "../core/ports/mod.ts";

/**
 * Creates an object store over a folder; keys are paths relative to it with `/`. The ETag is the
 * content's MD5, as S3 gives for a single-part upload, so a rewritten identical file is the same
 * version and the same file in a folder or a bucket compares equal.
 *
 * @example Usage
 * ```ts
 * import { createDirObjectStore, INC } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const root = await Deno.makeTempDir(); // holds automations/inc/changes/… like the bucket
 * const changes = `${root}/automations/inc/changes`;
 * await Deno.mkdir(changes, { recursive: true });
 * await Deno.writeTextFile(`${changes}/2026-06-15T17-00-00.csv`, "ticket_id\n");
 *
 * const store = createDirObjectStore(root);
 * const [file] = await store.list(INC.changesPrefix);
 * assert.equal(file?.key, "automations/inc/changes/2026-06-15T17-00-00.csv");
 * assert.equal(file?.size, 10);
 *
 * await store.move(file!.key, `${INC.processedPrefix}2026-06-15T17-00-00.csv`);
 * assert.deepEqual(await store.list(INC.changesPrefix), []);
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export function createDirObjectStore(root: string): ObjectStore {
  const base = root.replace(/\/+$/, "");
  const path = (key: string) => `${base}/${key}`;
  const description = `dir:${base}`;
  /** Each listed file's version (inode, time written, size) when it was hashed, by key. */
  const versions = new Map<string, { etag: string; version: string }>();
  return {
    description,
    async list(prefix) {
      const found: StoredObject[] = [];
      const dir = path(prefix).replace(/\/+$/, "");
      if (!await inside(base, description, dir, `list "${prefix}"`)) return found;
      await walk(dir, prefix.replace(/\/+$/, ""), found, versions).catch(
        denied(`Cannot list "${prefix}" in ${description}`, "read the folder"),
      );
      return found.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    },
    async read(key, options) {
      const file = await Deno.open(path(key), { read: true }).catch((error) => {
        if (options?.etag !== undefined && error instanceof Deno.errors.NotFound) {
          throw new ObjectRemovedError(key, { cause: error });
        }
        throw error;
      });
      // Only the listed version: a file written again since (a re-upload of the same size) would
      // be applied under the ETag of the one listed. Checked on the open file: what it reads.
      const listed = versions.get(key);
      if (options?.etag !== undefined && listed?.etag === options.etag) {
        if (versionOf(await file.stat()) !== listed.version) {
          file.close();
          throw new ObjectReplacedError(key, options.etag);
        }
      }
      return file.readable;
    },
    async move(from, to, options) {
      await moveFile(from, to, options).catch(
        denied(`Cannot move "${from}" to "${to}" in ${description}`, "write to both folders"),
      );
    },
  };

  async function moveFile(from: string, to: string, options?: { etag?: string }): Promise<void> {
    // Gone first: making processed/ for a file whose folder was moved away re-created the
    // folder's tree, empty, and the runs after listed it as a feed with nothing new (a tester's).
    await Deno.lstat(path(from)).catch((error) => {
      if (error instanceof Deno.errors.NotFound) {
        throw new ObjectRemovedError(from, { cause: error });
      }
      throw error;
    });
    const target = path(to);
    const folder = target.slice(0, target.lastIndexOf("/"));
    await Deno.mkdir(folder, { recursive: true });
    const into = to.slice(0, to.lastIndexOf("/") + 1);
    await inside(base, description, folder, `move "${from}" into "${into}"`);
    // Only the version that was applied: a file rewritten since the listing stays put.
    if (options?.etag !== undefined && (await digest(path(from))).etag !== options.etag) {
      throw new ObjectChangedError(from);
    }
    await Deno.rename(path(from), target);
  }
}

/**
 * Whether the folder `dir` exists; a folder that is not really inside `base` is refused (`doing`
 * says what was refused: `list "inc/changes/"`). A linked folder (changes/ pointing elsewhere) would be read and emptied by
 * archiving: every folder walked must really lie inside the root.
 */
async function inside(
  base: string,
  description: string,
  dir: string,
  doing: string,
): Promise<boolean> {
  let real: string;
  try {
    real = await Deno.realPath(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
  const root = await Deno.realPath(base);
  if (real === root || real.startsWith(root + "/")) return true;
  throw new ObjectStoreError(
    `Cannot ${doing} in ${description}: it is a link to "${real}", outside the folder; link-free folders only`,
    { terminal: true },
  );
}

async function walk(
  dir: string,
  keyPrefix: string,
  found: StoredObject[],
  versions: Map<string, { etag: string; version: string }>,
): Promise<void> {
  let entries: AsyncIterable<Deno.DirEntry>;
  try {
    entries = Deno.readDir(dir);
    for await (const entry of entries) {
      const key = `${keyPrefix}/${entry.name}`;
      if (entry.isDirectory) {
        await walk(`${dir}/${entry.name}`, key, found, versions).catch((error) => {
          // A folder inside changes/ holds no change file (names are flat): said, not fatal.
          if (!(error instanceof Deno.errors.PermissionDenied)) throw error;
          found.push({ key: `${key}/`, etag: "", size: 0, problem: UNREADABLE });
        });
      } else if (entry.isFile) {
        const { version, ...file } = await readable(key, `${dir}/${entry.name}`);
        if (version !== undefined) versions.set(key, { etag: file.etag, version });
        found.push(file);
      } else if (entry.isSymlink) {
        // A link could lead anywhere (the permission set checks the link, not its target).
        found.push({
          key,
          etag: "",
          size: 0,
          problem: "is a symbolic link: not read and not moved (put the file itself there)",
        });
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * A handler that says a PermissionDenied, or a read-only file system, as `doing` refused
 * (terminal: a person must let the worker's user `may`), and rethrows anything else as it is.
 * Before, a folder mounted read-only failed every run as transient ("the next run retries it as
 * is"), its first file applied and never moved (a tester's).
 */
function denied(doing: string, may: string): (error: unknown) => never {
  return (error) => {
    if ((error as { code?: unknown } | null)?.code === "EROFS") {
      throw new ObjectStoreError(
        `${doing}: the folder is on a read-only file system; mount it writable, so the worker's ` +
          `user can ${may}`,
        { terminal: true, cause: error },
      );
    }
    if (!(error instanceof Deno.errors.PermissionDenied)) throw error;
    throw new ObjectStoreError(
      `${doing}: permission denied; let the user the worker runs as ${may}`,
      { terminal: true, cause: error },
    );
  };
}

/** Why a file or folder the worker may not read is set aside. */
const UNREADABLE = "cannot be read (permission denied): not applied and not moved; let the user " +
  "the worker runs as read it";

/**
 * A listed file with its MD5, size, version and age, or, when the worker may not read it, set
 * aside.
 */
async function readable(key: string, path: string): Promise<StoredObject & { version?: string }> {
  try {
    const { writtenAt, ...file } = await digest(path);
    return { key, ...file, writtenMsAgo: Math.max(0, Date.now() - writtenAt) };
  } catch (error) {
    // Before: the whole listing failed with the OS's words, and no file was applied.
    if (!(error instanceof Deno.errors.PermissionDenied)) throw error;
    return { key, etag: "", size: 0, problem: UNREADABLE };
  }
}

/** A file's version: its inode, when it was last written and its size. */
function versionOf(info: Deno.FileInfo): string {
  return `${info.ino}:${info.mtime?.getTime()}:${info.size}`;
}

/**
 * MD5 and size of a file, streamed (files can be large), its version as it was opened (`read`
 * compares it: a file written again since is another version) and when it was last written.
 */
export async function digest(
  path: string,
): Promise<{ etag: string; size: number; version: string; writtenAt: number }> {
  const hash = createHash("md5");
  let size = 0;
  using file = await Deno.open(path, { read: true });
  const info = await file.stat();
  const version = versionOf(info);
  // One 1 MiB buffer: a 12 MB file hashes in ~25 ms, against ~100 ms in the stream's small chunks.
  const buffer = new Uint8Array(1 << 20);
  for (let n = await file.read(buffer); n !== null; n = await file.read(buffer)) {
    hash.update(buffer.subarray(0, n));
    size += n;
  }
  return { etag: hash.digest("hex"), size, version, writtenAt: info.mtime?.getTime() ?? 0 };
}
