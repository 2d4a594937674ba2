/**
 * `deno task vendor-postgis`: writes `vendor/pglite-postgis/postgis.tar.gz`, the embedded
 * database's PostGIS bundle cut to what fleettickets loads. The npm package's bundle also carries
 * raster, topology and the TIGER geocoder: PGlite unpacks all of it and compiles every library in
 * it at each start (48 MB of WebAssembly, two thirds of it never used), which made opening an
 * embedded database with PostGIS ~1.7 s slower and ~300 MB larger. `--check` (CI) fails when the
 * committed bundle is not exactly the installed package's entries that {@linkcode keepEntry}
 * keeps.
 *
 * @module
 */

import { postgis } from "@electric-sql/pglite-postgis";
import { gunzipSync, gzipSync } from "node:zlib";
import { POSTGIS_BUNDLE } from "../adapters/pglite_postgis.ts";

/**
 * Whether a path of the package's bundle is kept: the `postgis` library, its extension scripts
 * (creating it, and upgrading it from an earlier PostGIS) and PROJ's data; not raster, topology,
 * the TIGER geocoder, the scripts for a database without extensions (`contrib/`) nor those that
 * adopt objects a script-installed PostGIS made (`unpackaged`).
 */
export function keepEntry(path: string): boolean {
  if (path.endsWith("/")) return true;
  if (path === "lib/postgresql/postgis-3.so") return true;
  if (path.startsWith("share/proj/")) return true;
  const file = path.match(/^share\/postgresql\/extension\/(.+)$/)?.[1];
  return file !== undefined && (file === "postgis.control" ||
    (file.startsWith("postgis--") && file.endsWith(".sql") && !file.includes("unpackaged")));
}

/** One entry of a tar: its header (and long-name headers before it) and data, as bytes. */
interface TarEntry {
  path: string;
  /** `0` a file, `1` a hard link, `2` a symbolic link, `5` a folder, … */
  type: string;
  /** A link's target as the archive gives it. */
  linkTarget: string;
  bytes: Uint8Array[];
}

const text = (block: Uint8Array, from: number, to: number) =>
  new TextDecoder().decode(block.subarray(from, to)).replace(/\0[^]*$/, "");

/** The entries of an uncompressed tar, in order; throws on a header it cannot read. */
function tarEntries(tar: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  let pending: Uint8Array[] = []; // a long name's or pax header's blocks, for the entry after
  let longName: string | undefined;
  for (let offset = 0;;) {
    if (offset + 512 > tar.length) throw new Error("Cannot read the tar: it ends before its end");
    const block = tar.subarray(offset, offset + 512);
    if (block.every((b) => b === 0)) return entries;
    const size = parseInt(text(block, 124, 136).trim(), 8);
    const end = offset + 512 + Math.ceil(size / 512) * 512;
    if (!Number.isInteger(size) || size < 0 || end > tar.length) {
      throw new Error(`Cannot read the tar: the entry at byte ${offset} has no readable size`);
    }
    const type = String.fromCharCode(block[156]!);
    const entry = tar.subarray(offset, end);
    if (type === "L") longName = text(entry, 512, 512 + size);
    if (type === "x") longName = text(entry, 512, 512 + size).match(/^\d+ path=(.*)$/m)?.[1];
    if (type === "L" || type === "K" || type === "x") {
      pending.push(entry);
    } else {
      // The ustar prefix only in a ustar header: GNU tar keeps times at those bytes.
      const prefix = text(block, 257, 263) === "ustar" ? text(block, 345, 500) : "";
      const path = longName ?? (prefix ? `${prefix}/${text(block, 0, 100)}` : text(block, 0, 100));
      entries.push({ path, type, linkTarget: text(block, 157, 257), bytes: [...pending, entry] });
      pending = [];
      longName = undefined;
    }
    offset = end;
  }
}

/** Where a link points, as a path of the archive. */
function linkedPath(entry: TarEntry): string {
  if (entry.type === "1") return entry.linkTarget;
  const parts = entry.path.split("/").slice(0, -1);
  for (const part of entry.linkTarget.split("/")) {
    if (part === "..") parts.pop();
    else if (part !== "." && part !== "") parts.push(part);
  }
  return parts.join("/");
}

/**
 * An uncompressed tar with only the entries `keep` accepts, in their order, bytes unchanged.
 * Throws when a kept link points at an entry left out (it would dangle in the cut bundle).
 */
export function filterTar(tar: Uint8Array, keep: (path: string) => boolean): Uint8Array {
  const kept = tarEntries(tar).filter((entry) => keep(entry.path));
  const paths = new Set(kept.map((entry) => entry.path));
  for (const entry of kept.filter((e) => e.type === "1" || e.type === "2")) {
    if (!paths.has(linkedPath(entry))) {
      throw new Error(
        `Cannot cut the bundle: "${entry.path}" links to "${entry.linkTarget}", which is left out`,
      );
    }
  }
  const parts = [...kept.flatMap((entry) => entry.bytes), new Uint8Array(1024)]; // 2 zero blocks
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  parts.reduce((at, part) => (out.set(part, at), at + part.length), 0);
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** The installed package's bundle, as PGlite would load it. */
async function packageBundle(): Promise<Uint8Array> {
  const { bundlePath } = await postgis.setup({} as never, { PGLITE_ENV: {} });
  if (!bundlePath) throw new Error("Cannot find the bundle of @electric-sql/pglite-postgis");
  return await Deno.readFile(bundlePath);
}

/** The committed bundle unpacked, or why it cannot be read. */
async function committedTar(): Promise<Uint8Array | string> {
  const bytes = await Deno.readFile(POSTGIS_BUNDLE).catch(() => undefined);
  if (bytes === undefined) return "it is missing";
  try {
    return gunzipSync(bytes);
  } catch {
    return "it is not a gzip file";
  }
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  const unknown = Deno.args.filter((arg) => arg !== "--check");
  if (unknown.length > 0) {
    console.error(`Unknown argument "${unknown[0]}"\nUsage: deno task vendor-postgis [--check]`);
    Deno.exit(2);
  }
  const cut = filterTar(gunzipSync(await packageBundle()), keepEntry);
  const name = "vendor/pglite-postgis/postgis.tar.gz";
  if (check) {
    const committed = await committedTar();
    if (typeof committed === "string" || !equalBytes(committed, cut)) {
      console.error(
        `Cannot accept "${name}": ${
          typeof committed === "string"
            ? committed
            : "it is not the installed @electric-sql/pglite-postgis bundle cut to what " +
              "fleettickets loads"
        }; run "deno task vendor-postgis" and commit the result`,
      );
      Deno.exit(1);
    }
    console.log(`${name} is the package's bundle, cut (${cut.length} bytes of tar)`);
  } else {
    await Deno.mkdir(new URL(".", POSTGIS_BUNDLE), { recursive: true });
    await Deno.writeFile(POSTGIS_BUNDLE, gzipSync(cut, { level: 9 }));
    console.log(`Wrote ${name} (${cut.length} bytes of tar)`);
  }
}
