/**
 * `/api/health` (is the database reachable, is each dataset fresh) and `/api/config` (the
 * page's settings).
 *
 * @module
 */

import type { Hono } from "hono";
import { readHealth } from "../core/read_health.ts";
import { readOnly } from "../core/read_only.ts";
import { taggedByBytes } from "./_tagged.ts";
import { healthDeadlineMs, withDeadline } from "./_deadline.ts";
import type { ServeEnv } from "./env.ts";

/** Registers the meta routes. */
export function metaRoutes(app: Hono<ServeEnv>): void {
  app.get("/api/health", async (c) => {
    const { db, healthDb, settings, now, log, redact } = c.get("deps");
    const headers = { "Cache-Control": "no-store" };
    try {
      // Before: no answer at all while the database was frozen (80 s in a tester's run).
      const datasets = await withDeadline(
        readOnly(
          healthDb ?? db,
          { timeoutMs: settings.statementTimeoutMs },
          (tx) => readHealth(tx, settings.staleAfterHours, now()),
        ),
        healthDeadlineMs(settings.statementTimeoutMs),
      );
      c.set("rows", datasets.length);
      return c.json({ ok: true, database: db.kind, datasets }, 200, headers);
    } catch (error) {
      // Our words and the database's message, not its class (`PostgresError: …`).
      const message = error instanceof Error ? error.message : String(error);
      log({
        level: "error",
        event: "health_failed",
        error: redact(`Cannot read the datasets' state from tickets.import_meta: ${message}`),
      });
      return c.json({ ok: false, database: db.kind, datasets: [] }, 503, headers);
    }
  });

  // Tagged from its bytes and revalidated, as every other answer (before: neither, so a cache
  // could keep a server's old settings).
  app.get("/api/config", taggedByBytes(), (c) => {
    const { settings, db } = c.get("deps");
    return c.json(
      {
        tilesUrl: settings.tilesUrl ?? null,
        pmtiles: settings.pmtiles !== undefined,
        staleAfterHours: settings.staleAfterHours,
        // The stale banner's advice: no ingest runs beside this server on the embedded database,
        // and none writes the demo's.
        embedded: db.kind === "pglite",
        demo: c.get("deps").demo === true,
      },
      200,
      { "Cache-Control": "no-cache" },
    );
  });
}
