// The page and the tiles file: web/ served at / (index.html, content types, gzip, no listing),
// the built-in page while web/ has no index.html, and /tiles.pmtiles with HTTP Range.

import assert from "node:assert/strict";
import type { Config } from "../app/config.ts";
import { createApp, isPageFile } from "./app.ts";
import { fakeDatabase } from "./_fake_database.ts";
import { parseRange } from "./range_file.ts";
import { pagePolicy, tileSource } from "./security_headers.ts";

const SETTINGS: Config["serve"] = { corsOrigins: [], statementTimeoutMs: 5000, staleAfterHours: 2 };

async function site(files: Record<string, string | Uint8Array>) {
  await Deno.mkdir(".data", { recursive: true }); // a fresh clone has none yet
  const root = await Deno.makeTempDir({ dir: ".data", prefix: "serve-web-" });
  for (const [name, content] of Object.entries(files)) {
    const path = `${root}/${name}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
  }
  return root;
}

function appFor(root: string, settings: Partial<Config["serve"]> = {}) {
  return createApp({
    db: fakeDatabase(),
    settings: { ...SETTINGS, ...settings },
    webRoot: `${root}/`,
    now: () => new Date(),
    log: () => {},
    redact: (t) => t,
  });
}

Deno.test("web/ is served at /: index.html, content types, gzip, no directory listing", async () => {
  const root = await site({
    "index.html": "<!doctype html><title>map</title>",
    "app.js": "console.log('x');\n".repeat(200),
    "style.css": "body{}",
    "sub/notes.txt": "hello",
  });
  try {
    const app = appFor(root);
    const index = await app.request("/");
    assert.equal(index.status, 200);
    assert.match(index.headers.get("Content-Type")!, /^text\/html/);
    assert.equal(await index.text(), "<!doctype html><title>map</title>");
    const js = await app.request("/app.js", { headers: { "Accept-Encoding": "gzip" } });
    assert.match(js.headers.get("Content-Type")!, /javascript/);
    assert.equal(js.headers.get("Content-Encoding"), "gzip");
    await js.body?.cancel();
    assert.match((await app.request("/style.css")).headers.get("Content-Type")!, /^text\/css/);
    const listing = await app.request("/sub/");
    assert.equal(listing.status, 404);
    assert.doesNotMatch(await listing.text(), /notes\.txt/);
    assert.equal((await app.request("/missing.js")).status, 404);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("without web/index.html, / is a page listing the API", async () => {
  const root = await site({});
  try {
    const page = await appFor(root).request("/");
    assert.equal(page.status, 200);
    assert.match(await page.text(), /\/api\/nearest/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("/tiles.pmtiles answers Range requests with 206, and 416 outside the file", async () => {
  const bytes = new Uint8Array(5000).map((_, i) => i % 251);
  const root = await site({ "tiles/nairobi.pmtiles": bytes });
  try {
    const app = appFor(root, { pmtiles: `${root}/tiles/nairobi.pmtiles` });
    const whole = await app.request("/tiles.pmtiles");
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get("Accept-Ranges"), "bytes");
    assert.deepEqual(new Uint8Array(await whole.arrayBuffer()), bytes);
    const part = await app.request("/tiles.pmtiles", {
      headers: { Range: "bytes=100-199", "Accept-Encoding": "gzip" },
    });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("Content-Range"), "bytes 100-199/5000");
    assert.equal(part.headers.get("Content-Encoding"), null);
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), bytes.slice(100, 200));
    const tail = await app.request("/tiles.pmtiles", { headers: { Range: "bytes=-16" } });
    assert.equal(tail.headers.get("Content-Range"), "bytes 4984-4999/5000");
    assert.deepEqual(new Uint8Array(await tail.arrayBuffer()), bytes.slice(4984));
    const outside = await app.request("/tiles.pmtiles", { headers: { Range: "bytes=5000-" } });
    assert.equal(outside.status, 416);
    assert.equal(outside.headers.get("Content-Range"), "bytes */5000");
    const config = await (await app.request("/api/config")).json();
    assert.equal(config.pmtiles, true);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("parseRange reads single byte ranges, refuses unsatisfiable ones and serves the rest whole", () => {
  assert.deepEqual(parseRange("bytes=0-0", 10), { start: 0, end: 0 });
  assert.deepEqual(parseRange("bytes=5-", 10), { start: 5, end: 9 });
  assert.deepEqual(parseRange("bytes=8-100", 10), { start: 8, end: 9 });
  assert.deepEqual(parseRange("bytes=-3", 10), { start: 7, end: 9 });
  // RFC 9110 14.1.1: the unit is case-insensitive (before: 416).
  assert.deepEqual(parseRange("BYTES=0-1", 10), { start: 0, end: 1 });
  for (const bad of ["bytes=10-", "bytes=5-4", "bytes=-0"]) {
    assert.equal(parseRange(bad, 10), null, bad);
  }
  // Another unit, several ranges, no position: the whole file (200), not 416.
  for (const whole of ["items=0-1", "bytes=0-1,4-5", "bytes=-", "bytes=a-b"]) {
    assert.equal(parseRange(whole, 10), "whole", whole);
  }
});

Deno.test("/tiles.pmtiles: a matching If-None-Match is a 304; an If-Range for another version gets the whole file", async () => {
  const bytes = new Uint8Array(5000).map((_, i) => i % 251);
  const root = await site({ "tiles/nairobi.pmtiles": bytes });
  try {
    const app = appFor(root, { pmtiles: `${root}/tiles/nairobi.pmtiles` });
    const whole = await app.request("/tiles.pmtiles");
    const etag = whole.headers.get("ETag")!;
    await whole.body?.cancel();
    // Before: 200 and all 5,000 bytes again.
    const same = await app.request("/tiles.pmtiles", { headers: { "If-None-Match": etag } });
    assert.equal(same.status, 304);
    assert.equal(same.headers.get("ETag"), etag);
    const current = await app.request("/tiles.pmtiles", {
      headers: { Range: "bytes=0-9", "If-Range": etag },
    });
    assert.equal(current.status, 206);
    await current.body?.cancel();
    // Before: 206 with bytes of a file that may have changed since the client's tag.
    const older = await app.request("/tiles.pmtiles", {
      headers: { Range: "bytes=0-9", "If-Range": '"old-version"' },
    });
    assert.equal(older.status, 200);
    assert.equal((await older.arrayBuffer()).byteLength, 5000);
    const several = await app.request("/tiles.pmtiles", { headers: { Range: "bytes=0-1,5-6" } });
    assert.equal(several.status, 200);
    await several.body?.cancel();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("only the page's own files are served: no test, licence, note, hidden file or trailing slash", async () => {
  const root = await site({
    "index.html": "<!doctype html><title>map</title>",
    "app.js": "export {};",
    "format_test.ts": "Deno.test('x', () => {});",
    "format_test.js": "Deno.test('x', () => {});",
    "vendor/VERSIONS.json": "{}",
    "vendor/lib/LICENSE": "MIT",
    "vendor/lib/lib.js": "var lib;",
    "vendor/lib/images/layers.png": new Uint8Array([137, 80, 78, 71]),
    "icon.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>",
    ".env": "SECRET=1",
    ".git/config.js": "x",
    "notes.md": "# notes",
  });
  try {
    const app = appFor(root);
    for (const path of ["/", "/index.html", "/app.js", "/vendor/lib/lib.js", "/icon.svg"]) {
      const response = await app.request(path);
      assert.equal(response.status, 200, path);
      await response.body?.cancel();
    }
    const png = await app.request("/vendor/lib/images/layers.png");
    assert.equal(png.headers.get("Content-Type"), "image/png");
    await png.body?.cancel();
    for (
      const path of [
        "/format_test.ts",
        "/format_test.js",
        "/vendor/VERSIONS.json",
        "/vendor/lib/LICENSE",
        "/.env",
        "/.git/config.js",
        "/notes.md",
        "/app.js/",
        "/index.html/",
        "/vendor/lib/lib.js/",
      ]
    ) {
      const response = await app.request(path);
      assert.equal(response.status, 404, path);
      assert.equal(response.headers.get("Content-Type"), "application/problem+json", path);
      await response.body?.cancel();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("isPageFile takes the page's file types, without tests, hidden names or a trailing slash", () => {
  for (const path of ["/", "/app.js", "/style.css", "/vendor/leaflet/images/layers-2x.png"]) {
    assert.equal(isPageFile(path), true, path);
  }
  for (
    const path of [
      "/a_test.ts",
      "/x_test.js",
      "/app.js/",
      "//app.js",
      "/a/.b/c.js",
      "/deno.json",
      `/${"A".repeat(300)}.js`, // longer than any file name: not looked for
    ]
  ) {
    assert.equal(isPageFile(path), false, path);
  }
});

Deno.test("every answer carries the security headers; the page's policy allows only this server", async () => {
  const root = await site({ "index.html": "<!doctype html><title>map</title>", "app.js": "1;" });
  try {
    const app = appFor(root, { tilesUrl: "https://{s}.tiles.example/{z}/{x}/{y}.png" });
    for (
      const path of ["/", "/app.js", "/missing.js", "/api/config", "/api/users", "/api/tickets?x=1"]
    ) {
      const response = await app.request(path);
      await response.body?.cancel();
      assert.equal(response.headers.get("X-Content-Type-Options"), "nosniff", path);
      assert.equal(response.headers.get("X-Frame-Options"), "DENY", path);
      assert.equal(response.headers.get("Referrer-Policy"), "no-referrer", path);
      assert.match(
        response.headers.get("Content-Security-Policy")!,
        /frame-ancestors 'none'/,
        path,
      );
      assert.equal(response.headers.get("Strict-Transport-Security"), null, path);
    }
    const page = (await app.request("/")).headers.get("Content-Security-Policy")!;
    assert.match(page, /^default-src 'self'; script-src 'self'; style-src 'self'; /);
    assert.match(page, /img-src 'self' data: blob: https:\/\/\*\.tiles\.example;/);
    assert.match(page, /connect-src 'self';/);
    const api = (await app.request("/api/config")).headers;
    assert.equal(api.get("Content-Security-Policy"), "default-src 'none'; frame-ancestors 'none'");
    // A data answer carries no header about documents (sent with every dispatch answer).
    assert.equal(api.get("Cross-Origin-Opener-Policy"), null);
    assert.equal(api.get("X-XSS-Protection"), null);
    assert.ok((await app.request("/")).headers.get("Cross-Origin-Opener-Policy"), "the page's");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("tileSource: the tile template's origin, Leaflet's {s} as a wildcard, else its scheme", () => {
  assert.equal(
    tileSource("https://tiles.example.net/{z}/{x}/{y}.png"),
    "https://tiles.example.net",
  );
  assert.equal(tileSource("HTTP://Tiles:8081/{z}/{x}/{y}.png"), "http://tiles:8081");
  assert.equal(
    tileSource("https://{s}.tile.example.org/{z}/{x}/{y}.png"),
    "https://*.tile.example.org",
  );
  assert.equal(tileSource("https://tiles-{s}.example.org/{z}/{x}/{y}.png"), "https:");
  assert.equal(pagePolicy({}).imgSrc?.join(" "), "'self' data: blob:");
});

Deno.test("the built-in index page has no <style> element, which the page's policy would block", async () => {
  const { FALLBACK_INDEX } = await import("./_fallback_index.ts");
  assert.ok(!/<style|<script/i.test(FALLBACK_INDEX));
  assert.match(FALLBACK_INDEX, /<body style="/);
});

Deno.test("the page's files carry an ETag and Cache-Control: no-cache; a repeat visit gets 304s without a body", async () => {
  const root = await site({
    "index.html": "<!doctype html><title>map</title>",
    "app.js": "console.log('x');\n".repeat(200),
  });
  try {
    const app = appFor(root);
    for (const path of ["/", "/app.js"]) {
      const first = await app.request(path, { headers: { "Accept-Encoding": "gzip" } });
      assert.equal(first.status, 200);
      const tag = first.headers.get("ETag");
      // Before: neither header, so every visit downloaded the whole page again.
      assert.ok(tag, `${path}: an ETag`);
      assert.equal(first.headers.get("Cache-Control"), "no-cache");
      await first.body?.cancel();
      const again = await app.request(path, {
        headers: { "Accept-Encoding": "gzip", "If-None-Match": tag! },
      });
      assert.equal(again.status, 304, path);
      assert.equal(await again.text(), "");
    }
    // A changed file gets a new tag: the old one is a 200 with the new bytes.
    const before = (await app.request("/app.js")).headers.get("ETag")!;
    await Deno.writeTextFile(`${root}/app.js`, "console.log('y');\n");
    const changed = await app.request("/app.js", { headers: { "If-None-Match": before } });
    assert.equal(changed.status, 200);
    assert.equal(await changed.text(), "console.log('y');\n");
    const missing = await app.request("/nothing.js");
    assert.equal(missing.status, 404);
    assert.equal(missing.headers.get("ETag"), null);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
