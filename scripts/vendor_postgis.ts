/**
 * `deno task vendor-postgis`: writes `vendor/pglite-postgis/postgis.tar.gz`, the embedded
 * database's PostGIS bundle cut to what fleettickets loads. The npm package's bundle also carries
 * raster, topology and the TIGER geocoder: PGlite unpacks all of it and compiles every library in
 * it at each start (48 MB of WebAssembly, two thirds of it never used), which made an embedded
 * command ~1.8 s slower and ~350 MB larger. `--check` (CI) fails when the committed bundle is not
 * exactly the installed package's entries that {@linkcode keepEntry} keeps.
 *
 * @module
 */

import { postgis } from "@electric-sql/pglite-postgis";
import { gunzipSync, gzipSync } from "node:zlib";

/** Where the cut bundle lives (`adapters/pglite_database.ts` loads it from there). */
export const BUNDLE = new URL("../vendor/pglite-postgis/postgis.tar.gz", import.meta.url);

/**
 * Whether a path of the package's bundle is kept: the `postgis` library, its extension scripts
 * (creating it, and upgrading it from an earlier PostGIS) and PROJ's data; not raster, topology,
 * the TIGER geocoder, the scripts for a database without extensions (`contrib/`) nor those
 * converting a PostGIS 1.x install (`unpackaged`).
 */
export function keepEntry(path: string): boolean {
  if (path.endsWith("/")) return true;
  if (path === "lib/postgresql/postgis-3.so") return true;
  if (path.startsWith("share/proj/")) return true;
  const file = path.match(/^share\/postgresql\/extension\/(.+)$/)?.[1];
  return file !== undefined && (file === "postgis.control" ||
    (file.startsWith("postgis--") && file.endsWith(".sql") && !file.includes("unpackaged")));
}

/** The path of a tar header block (ustar: prefix + name). */
function headerPath(block: Uint8Array): string {
  const text = (from: number, to: number) =>
    new TextDecoder().decode(block.subarray(from, to)).replace(/\0[^]*$/, "");
  const prefix = text(345, 500);
  return prefix ? `${prefix}/${text(0, 100)}` : text(0, 100);
}

/** An uncompressed tar with only the entries `keep` accepts, in their order, bytes unchanged. */
export function filterTar(tar: Uint8Array, keep: (path: string) => boolean): Uint8Array {
  const kept: Uint8Array[] = [];
  let pending: Uint8Array[] = []; // a long name's or pax header's blocks, for the entry after
  let offset = 0;
  while (offset + 512 <= tar.length && tar.subarray(offset, offset + 512).some((b) => b !== 0)) {
    const block = tar.subarray(offset, offset + 512);
    const size = parseInt(new TextDecoder().decode(block.subarray(124, 136)).trim() || "0", 8);
    const end = offset + 512 + Math.ceil(size / 512) * 512;
    const entry = tar.subarray(offset, end);
    const type = String.fromCharCode(block[156]!);
    if (type === "L" || type === "x" || type === "K") {
      pending.push(entry);
    } else {
      const path = pending.length > 0 ? longPath(pending) ?? headerPath(block) : headerPath(block);
      if (keep(path)) kept.push(...pending, entry);
      pending = [];
    }
    offset = end;
  }
  kept.push(new Uint8Array(1024)); // the two zero blocks that end an archive
  const out = new Uint8Array(kept.reduce((sum, part) => sum + part.length, 0));
  kept.reduce((at, part) => (out.set(part, at), at + part.length), 0);
  return out;
}

/** The path a GNU long-name or pax header gives the entry after it, if any. */
function longPath(headers: Uint8Array[]): string | undefined {
  for (const header of headers) {
    const type = String.fromCharCode(header[156]!);
    const body = new TextDecoder().decode(header.subarray(512)).replace(/\0[^]*$/, "");
    if (type === "L") return body;
    if (type === "x") {
      const path = body.match(/^\d+ path=(.*)$/m)?.[1];
      if (path) return path;
    }
  }
  return undefined;
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

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  const unknown = Deno.args.filter((arg) => arg !== "--check");
  if (unknown.length > 0) {
    console.error(`Unknown argument "${unknown[0]}"\nUsage: deno task vendor-postgis [--check]`);
    Deno.exit(2);
  }
  const cut = filterTar(gunzipSync(await packageBundle()), keepEntry);
  if (check) {
    const committed = await Deno.readFile(BUNDLE).catch(() => new Uint8Array());
    const same = committed.length > 0 && equalBytes(gunzipSync(committed), cut);
    if (!same) {
      console.error(
        `Cannot accept "vendor/pglite-postgis/postgis.tar.gz": it is not the installed ` +
          `@electric-sql/pglite-postgis bundle cut to what fleettickets loads; run ` +
          `"deno task vendor-postgis" and commit the result`,
      );
      Deno.exit(1);
    }
    console.log(
      `vendor/pglite-postgis/postgis.tar.gz is the package's bundle, cut (${cut.length} bytes)`,
    );
  } else {
    await Deno.mkdir(new URL(".", BUNDLE), { recursive: true });
    await Deno.writeFile(BUNDLE, gzipSync(cut, { level: 9 }));
    console.log(`Wrote vendor/pglite-postgis/postgis.tar.gz (${cut.length} bytes of tar)`);
  }
}
