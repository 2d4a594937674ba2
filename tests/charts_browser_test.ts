// The page's charts module (web/charts.js) in headless Chromium, on its own: the module and uPlot
// served from web/ by a bare server, with /api/backlog's days handed to it directly.

import assert from "node:assert/strict";
import puppeteer from "puppeteer-core";
import { browserPath } from "./_browser.ts";

type Plot = {
  axes: { _values: string[] }[];
  scales: Record<string, { min: number; max: number }>;
};

const WEB = new URL("../web/", import.meta.url);

const PAGE = `<!doctype html><html><head>
<link rel="stylesheet" href="/vendor/uplot/uPlot.min.css">
<script src="/vendor/uplot/uPlot.iife.min.js"></script>
<script>
// Keeps every chart made, to read what it drew.
globalThis.charts = [];
const Plot = globalThis.uPlot;
globalThis.uPlot = Object.assign(function (...args) {
  const made = new Plot(...args);
  globalThis.charts.push(made);
  return made;
}, Plot);
</script></head><body>
<div id="backlog" style="width:600px"></div><div id="flow" style="width:600px"></div>
<script type="module">
import { createCharts } from "/charts.js";
const charts = createCharts(document.getElementById("backlog"), document.getElementById("flow"));
charts.update([{ date: "2026-11-30", open_total: 220, open_breached: 219, open_at_risk: 0,
  open_ok: 0, open_unknown: 1, created: 3, closed: 2 }]);
globalThis.drawn = true;
</script></body></html>`;

/** Serves PAGE at / and web/'s files by path. */
function serveWeb(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/") return new Response(PAGE, { headers: { "Content-Type": "text/html" } });
    const type = path.endsWith(".js") ? "text/javascript" : "text/css";
    const file = await Deno.readFile(new URL(`.${path}`, WEB)).catch(() => undefined);
    return file === undefined
      ? new Response("not found", { status: 404 })
      : new Response(file, { headers: { "Content-Type": type } });
  });
}

Deno.test({
  name: "the charts draw a single captured day mid-chart under its date, a day either side",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const server = serveWeb();
    const browser = await puppeteer.launch({
      executablePath: await browserPath(),
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${server.addr.port}/`, { waitUntil: "load" });
      await page.waitForFunction(() => (globalThis as unknown as { drawn?: boolean }).drawn);
      // uPlot draws its axes on a canvas: their labels and the x range are read from it.
      const drawnAxis = await page.evaluate(() => {
        const u = (globalThis as unknown as { charts: Plot[] }).charts[0]!;
        return { labels: u.axes[0]!._values, min: u.scales.x!.min, max: u.scales.x!.max };
      });
      const day = Date.parse("2026-11-30T00:00:00+03:00") / 1000;
      assert.deepEqual(drawnAxis.labels, ["29 Nov", "30 Nov", "1 Dec"]);
      assert.deepEqual([drawnAxis.min, drawnAxis.max], [day - 86_400, day + 86_400]);
    } finally {
      await browser.close();
      await server.shutdown();
    }
  },
});
