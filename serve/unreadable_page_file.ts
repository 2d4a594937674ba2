/**
 * Finds a file of the map page serve may not read (another owner, `chmod 000`), before it
 * starts: such a file was answered as absent (the stand-in page at `/`, a 404 for `/app.js`),
 * with a bare "PermissionDenied" line on stderr naming no path.
 *
 * @module
 */

import { isPageFile } from "./app.ts";

/**
 * The first path under `root` (the page's folder) that is one of the page's files
 * ({@linkcode isPageFile}) or a folder holding them and cannot be read, or undefined when every
 * one can (or there is no such folder: the built-in page is served).
 */
export async function unreadablePageFile(root: string): Promise<string | undefined> {
  return await walk(root.replace(/\/+$/, ""), "");
}

async function walk(root: string, below: string): Promise<string | undefined> {
  const folder = below === "" ? root : `${root}${below}`;
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(folder));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && below === "") return undefined;
    if (refused(error)) return folder;
    throw error;
  }
  for (const entry of entries.sort((a, b) => a.name < b.name ? -1 : 1)) {
    const path = `${below}/${entry.name}`;
    if (entry.isDirectory && !entry.name.startsWith(".")) {
      const found = await walk(root, path);
      if (found !== undefined) return found;
    } else if (entry.isFile && isPageFile(path)) {
      try {
        (await Deno.open(`${root}${path}`, { read: true })).close();
      } catch (error) {
        if (refused(error)) return `${root}${path}`;
        throw error;
      }
    }
  }
  return undefined;
}

/** The system's refusal (file modes) or Deno's (outside the permission set). */
function refused(error: unknown): boolean {
  return error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable;
}
