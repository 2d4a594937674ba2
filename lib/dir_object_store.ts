/**
 * A local folder that mirrors the bucket root (`DIR/automations/inc/changes/…`).
 *
 * @module
 */

import type { ObjectStore, StoredObject } from "./ports.ts";

/** Creates an object store over a folder; keys are paths relative to it with `/`. */
export function createDirObjectStore(root: string): ObjectStore {
  const base = root.replace(/\/+$/, "");
  const path = (key: string) => `${base}/${key}`;
  return {
    description: `dir:${base}`,
    async list(prefix) {
      const found: StoredObject[] = [];
      await walk(path(prefix).replace(/\/+$/, ""), prefix.replace(/\/+$/, ""), found);
      return found.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    },
    async read(key) {
      const file = await Deno.open(path(key), { read: true });
      return file.readable;
    },
    async move(from, to) {
      const target = path(to);
      await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
      await Deno.rename(path(from), target);
    },
  };
}

async function walk(dir: string, keyPrefix: string, found: StoredObject[]): Promise<void> {
  let entries: AsyncIterable<Deno.DirEntry>;
  try {
    entries = Deno.readDir(dir);
    for await (const entry of entries) {
      const key = `${keyPrefix}/${entry.name}`;
      if (entry.isDirectory) {
        await walk(`${dir}/${entry.name}`, key, found);
      } else if (entry.isFile) {
        const info = await Deno.stat(`${dir}/${entry.name}`);
        found.push({ key, etag: `${info.size}-${info.mtime?.getTime() ?? 0}`, size: info.size });
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
