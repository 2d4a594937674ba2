// The page's Content-Security-Policy in a real browser (headless Chromium, as tests/browser_test.ts)
// with a basemap, which tests/browser_test.ts does not set: a local PMTiles archive (MAP_PMTILES:
// the library loaded on demand, tiles drawn from blob: URLs) and a tile server on another origin
// (MAP_TILES_URL). The page must draw its tile with no console error: Chromium reports each
// request or style the policy blocks as one ("Refused to load…", "…violates the following
// Content Security Policy directive…").

import assert from "node:assert/strict";
import puppeteer, { type Browser } from "puppeteer-core";
import type { Config } from "../app/config.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import { migrate } from "../core/migrate.ts";
import type { Database } from "../core/ports/mod.ts";
import { startServer } from "../serve/server.ts";
import { createScratchDatabase, removeTestDataAtEnd, shared } from "./_harness.ts";

const BROWSER_PATH = Deno.env.get("BROWSER_PATH") ?? "/usr/bin/chromium";
const base = Deno.env.get("TEST_DATABASE_URL");

/** A 1×1 PNG. */
const PNG = Uint8Array.from(
  atob(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
  ),
  (c) => c.charCodeAt(0),
);

/** A PMTiles v3 archive whose every tile, zoom 0 to 18, is `tile` (a PNG), nothing compressed. */
function oneTileArchive(tile: Uint8Array): Uint8Array {
  const varints = (...values: number[]) =>
    values.flatMap((value) => {
      const bytes: number[] = [];
      while (value >= 0x80) {
        bytes.push((value & 0x7f) | 0x80);
        value = Math.floor(value / 0x80);
      }
      bytes.push(value);
      return bytes;
    });
  // One entry: its tile id, run length (every tile id to zoom 18), length and offset (+1).
  const tileIds = (4 ** 19 - 1) / 3;
  const root = Uint8Array.from(varints(1, 0, tileIds, tile.length, 1));
  const metadata = new TextEncoder().encode("{}");
  const header = new DataView(new ArrayBuffer(127));
  new TextEncoder().encodeInto("PMTiles", new Uint8Array(header.buffer));
  header.setUint8(7, 3);
  const u64 = (at: number, value: number) => header.setBigUint64(at, BigInt(value), true);
  const rootAt = 127;
  const metadataAt = rootAt + root.length;
  const tilesAt = metadataAt + metadata.length;
  u64(8, rootAt);
  u64(16, root.length);
  u64(24, metadataAt);
  u64(32, metadata.length);
  u64(40, tilesAt); // no leaf directories
  u64(48, 0);
  u64(56, tilesAt);
  u64(64, tile.length);
  u64(72, tileIds); // addressed tiles
  u64(80, 1); // tile entries
  u64(88, 1); // tile contents
  header.setUint8(96, 1); // clustered
  header.setUint8(97, 1); // internal compression: none
  header.setUint8(98, 1); // tile compression: none
  header.setUint8(99, 2); // tile type: png
  header.setUint8(100, 0); // min zoom
  header.setUint8(101, 18); // max zoom
  header.setInt32(102, -180e7, true);
  header.setInt32(106, -85e7, true);
  header.setInt32(110, 180e7, true);
  header.setInt32(114, 85e7, true);
  const archive = new Uint8Array(tilesAt + tile.length);
  archive.set(new Uint8Array(header.buffer), 0);
  archive.set(root, rootAt);
  archive.set(metadata, metadataAt);
  archive.set(tile, tilesAt);
  return archive;
}

/** Opens the page over `settings`; the console errors until a tile has loaded. */
async function consoleErrorsOfPage(
  browser: Browser,
  db: Database,
  settings: Partial<Config["serve"]>,
  tileSrc: RegExp,
): Promise<string[]> {
  const server = await startServer({
    db,
    settings: { corsOrigins: [], statementTimeoutMs: 10_000, staleAfterHours: 2, ...settings },
    webRoot: new URL("../web/", import.meta.url).pathname,
    now: () => new Date(),
    log: () => {},
    redact: (text) => text,
    host: "127.0.0.1",
    port: 0,
  });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  try {
    await page.goto(`http://127.0.0.1:${server.port}/`, { waitUntil: "load" });
    await page.waitForFunction(
      (pattern: string) =>
        // deno-lint-ignore no-explicit-any
        [...(globalThis as any).document.querySelectorAll("img.leaflet-tile")].some(
          (img: { src: string; complete: boolean; naturalWidth: number }) =>
            new RegExp(pattern).test(img.src) && img.complete && img.naturalWidth > 0,
        ),
      { timeout: 10_000 },
      tileSrc.source,
    ).catch(() => errors.push(`no tile loaded from ${tileSrc}`));
    await new Promise((resolve) => setTimeout(resolve, 300)); // late reports
    return errors;
  } finally {
    await page.close();
    await server.shutdown();
  }
}

Deno.test({
  name:
    "the page draws a PMTiles basemap and another origin's tiles under its CSP, with no console error",
  ignore: base === undefined,
  ...shared,
  fn: async () => {
    const url = await createScratchDatabase(base!);
    const db = createPostgresDatabase(url);
    await migrate(db);
    const tiles = `.data/test-headers-${crypto.randomUUID()}.pmtiles`;
    await Deno.writeFile(tiles, oneTileArchive(PNG));
    const tileServer = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () => new Response(PNG, { headers: { "Content-Type": "image/png" } }),
    );
    const browser = await puppeteer.launch({
      executablePath: BROWSER_PATH,
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    });
    try {
      assert.deepEqual(
        await consoleErrorsOfPage(browser, db, { pmtiles: tiles }, /^blob:/),
        [],
        "MAP_PMTILES",
      );
      const origin = `http://127.0.0.1:${tileServer.addr.port}`;
      assert.deepEqual(
        await consoleErrorsOfPage(
          browser,
          db,
          { tilesUrl: `${origin}/{z}/{x}/{y}.png` },
          new RegExp(`^${origin}/\\d+/\\d+/\\d+\\.png$`),
        ),
        [],
        "MAP_TILES_URL",
      );
    } finally {
      await browser.close();
      await tileServer.shutdown();
      await db.close();
      await Deno.remove(tiles);
    }
  },
});

removeTestDataAtEnd();
