import assert from "node:assert/strict";
import { createLogger } from "./logger.ts";
import type { DrainReport, FileReport } from "../core/drain.ts";
import { emptyCounts } from "../core/drain_report.ts";

function jsonLogger() {
  const lines: string[] = [];
  const logger = createLogger({
    format: "json",
    write: (text) => lines.push(text),
    redact: (text) => text,
    now: () => new Date("2026-06-15T14:00:00Z"),
  });
  return { logger, lines: () => lines.map((line) => JSON.parse(line)) };
}

const counts = { ...emptyCounts(), rowsRead: 3, inserted: 2 };

const report: DrainReport = {
  dataset: "inc",
  mode: "apply",
  reseed: false,
  source: "dir:bucket",
  status: "ok",
  files: [],
  ignoredKeys: [],
  setAside: [],
  totals: counts,
  watermark: "2026-06-15T06-00-00.csv",
  durationMs: 12,
};

Deno.test("the run line of a run stopped in its post-apply steps is a warning that says so", () => {
  const { logger, lines } = jsonLogger();
  logger.runEnd({
    ...report,
    afterApply: {
      errors: [],
      durationMs: 3,
      interrupted: { reason: "Interrupted by SIGTERM", left: ["resolve_geometry"] },
    },
  });
  const [line] = lines();
  // Before: "info", "ok", and nothing of the stop (the record said interrupted).
  assert.equal(line.level, "warn");
  assert.equal(line.status, "ok");
  assert.equal(
    line.interrupted,
    "Interrupted by SIGTERM during the post-apply steps: resolve_geometry left to the next run",
  );
});

Deno.test("a file applied with quarantined lines is logged at warn; a clean one at info", () => {
  const { logger, lines } = jsonLogger();
  const file = (quarantined: number): FileReport => ({
    key: "automations/inc/changes/2026-06-15T06-00-00.csv",
    fileName: "2026-06-15T06-00-00.csv",
    etag: "e",
    action: "apply",
    status: "applied",
    counts: { ...counts, quarantined },
    durationMs: 5,
  });
  logger.progress({ type: "file_end", dataset: "inc", file: file(3) });
  logger.progress({ type: "file_end", dataset: "inc", file: file(0) });
  assert.deepEqual(lines().map((l) => l.level), ["warn", "info"]);
});

Deno.test("a wait for a folder's file to be still says how long in ms under a second, never 0.0 s", () => {
  const said: string[] = [];
  const logger = createLogger({ format: "text", write: (text) => said.push(text) });
  const key = "automations/inc/changes/2026-06-15T08-20-00.csv";
  for (const waitMs of [40, 0.3, 9_240]) {
    logger.progress({ type: "settle_wait", dataset: "inc", key, waitMs });
  }
  assert.deepEqual(said.map((line) => line.match(/^Waiting (.+?) for/)?.[1]), [
    "40 ms",
    "1 ms",
    "9.2 s",
  ]);
  const { logger: json, lines } = jsonLogger();
  json.progress({ type: "settle_wait", dataset: "inc", key, waitMs: 40 });
  assert.equal(lines()[0].waitS, 0.04);
});
