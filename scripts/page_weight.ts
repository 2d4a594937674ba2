/**
 * `deno task page-weight`: what the map page loads on first visit (web/*.{html,css,js} and the
 * vendored libraries it links), raw and gzip (level 6, as a gzip-compressing server sends it).
 * The PMTiles library is reported apart: it is loaded only when MAP_PMTILES is set.
 *
 * @module
 */

import { gzipSync } from "node:zlib";

const WEB = new URL("../web/", import.meta.url);

/** Files of the first load, relative to web/. */
export async function pageFiles(): Promise<string[]> {
  const own: string[] = [];
  for await (const entry of Deno.readDir(WEB)) {
    if (entry.isFile && /\.(html|css|js)$/.test(entry.name)) own.push(entry.name);
  }
  const html = await Deno.readTextFile(new URL("index.html", WEB));
  const vendored = [...html.matchAll(/(?:src|href)="(vendor\/[^"]+)"/g)].map((m) => m[1]!);
  return [...own.sort(), ...vendored];
}

function weigh(bytes: Uint8Array): { raw: number; gzip: number } {
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 6 }).length };
}

if (import.meta.main) {
  let raw = 0;
  let gzip = 0;
  for (const file of await pageFiles()) {
    const w = weigh(await Deno.readFile(new URL(file, WEB)));
    raw += w.raw;
    gzip += w.gzip;
    console.log(`${file.padEnd(42)} ${String(w.raw).padStart(8)} ${String(w.gzip).padStart(7)}`);
  }
  console.log(
    `${"total (first load)".padEnd(42)} ${String(raw).padStart(8)} ${String(gzip).padStart(7)}`,
  );
  const pm = weigh(await Deno.readFile(new URL("vendor/pmtiles/pmtiles.js", WEB)));
  console.log(
    `${"vendor/pmtiles/pmtiles.js (MAP_PMTILES only)".padEnd(42)} ${String(pm.raw).padStart(8)} ${
      String(pm.gzip).padStart(7)
    }`,
  );
}
