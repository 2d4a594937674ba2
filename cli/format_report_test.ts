import assert from "node:assert/strict";
import { type DrainReport, emptyCounts } from "../core/drain.ts";
import { formatDrainReport, formatProfile } from "./format_report.ts";

function report(ignoredKeys: string[]): DrainReport {
  return {
    dataset: "inc",
    mode: "dry-run",
    reseed: false,
    source: "dir:.data/bucket",
    status: "ok",
    files: [],
    ignoredKeys,
    setAside: [],
    totals: emptyCounts(),
    watermark: null,
    durationMs: 3,
  };
}

Deno.test("formatDrainReport() names the keys it ignored, five at most", () => {
  const one = formatDrainReport(report(["automations/inc/changes/export.tmp"]));
  assert.match(
    one,
    /^ {2}ignored \(not change files, never moved\): "automations\/inc\/changes\/export\.tmp"$/m,
  );
  const keys = Array.from({ length: 7 }, (_, i) => `automations/inc/changes/tmp${i}.csv`);
  const many = formatDrainReport(report(keys));
  assert.match(many, /"automations\/inc\/changes\/tmp4\.csv" and 2 more$/m);
  assert.doesNotMatch(many, /tmp5/);
});

Deno.test("formatDrainReport() ends a failed run with its time, then the error as a sentence", () => {
  const failed = formatDrainReport({
    ...report([]),
    status: "failed",
    error: 'Cannot list "automations/inc/changes/": it is a link to "/tmp", outside the folder',
    watermark: "2026-06-15T12-00-00.csv",
    durationMs: 6,
  });
  assert.match(
    failed,
    /^ {2}watermark 2026-06-15T12-00-00\.csv; failed in 6 ms: Cannot list "automations\/inc\/changes\/": it is a link to "\/tmp", outside the folder$/m,
  );
});

Deno.test("formatDrainReport() says 'no new change files' only when the listing found none", () => {
  assert.match(formatDrainReport(report([])), /^ {2}no new change files$/m);
  const failed = formatDrainReport({
    ...report([]),
    status: "failed",
    error: 'Cannot list "automations/inc/changes/": the bucket refused the credentials',
  });
  assert.doesNotMatch(failed, /no new change files/);
  assert.match(failed, /Cannot list/);
});

Deno.test("formatDrainReport() says where the bucket holds CSV files when the prefix holds none", () => {
  const text = formatDrainReport({ ...report([]), csvElsewhere: ["inc/changes/", ""] });
  assert.match(
    text,
    /^ {2}no change files under "automations\/inc\/changes\/"; the bucket has CSV files under "inc\/changes\/", "" \(the top level\) \(is the prefix right\?\)$/m,
  );
  assert.doesNotMatch(text, /no new change files/);
});

Deno.test("formatDrainReport() ends a run whose post-apply step or run record failed (exit 1) with why, not with ok", () => {
  const text = formatDrainReport({
    ...report([]),
    mode: "apply",
    afterApply: { errors: ["resolve_geometry: permission denied for function"], durationMs: 4 },
    recordError:
      "Cannot record the run in tickets.runs: permission denied for table runs; status cannot see this run",
  });
  // Before: the last line was "  watermark (none); ok in 3 ms" for a run that exited 1.
  // No file applied in this report: said so (before: "the files stay applied", also of the
  // post-apply step of a run that lost its database before it applied a file).
  assert.deepEqual(text.split("\n").slice(-3), [
    "  watermark (none); ok in 3 ms",
    "  post-apply step failed: resolve_geometry: permission denied for function (no file was applied; the next run does the step again)",
    "  Cannot record the run in tickets.runs: permission denied for table runs; status cannot see this run (no file was applied)",
  ]);
  const clean = formatDrainReport({ ...report([]), afterApply: { errors: [], durationMs: 1 } });
  assert.match(clean.split("\n").at(-1)!, /ok in 3 ms$/);
});

Deno.test("formatProfile() splits each file's stage into download, parse and COPY, and lists the post-apply steps", () => {
  const text = formatProfile([{
    ...report([]),
    mode: "apply",
    files: [{
      key: "automations/inc/changes/2026-06-15T06-00-00.csv",
      fileName: "2026-06-15T06-00-00.csv",
      etag: "e",
      action: "apply",
      status: "applied",
      durationMs: 1861,
      profile: {
        parsedBy: "database",
        stageMs: 206.1,
        downloadMs: 7.1,
        parseMs: 73.3,
        copyMs: 125.7,
        quarantineMs: 0.1,
        mergeMs: 1626,
        ledgerMs: 1.5,
        commitMs: 1.9,
        archiveMs: 24,
      },
    }],
    afterApply: {
      errors: [],
      durationMs: 161,
      stepsMs: { resolve_geometry: 22, capture_history: 139 },
    },
  }]);
  const lines = text.split("\n");
  assert.match(
    lines[0]!,
    /^file +parsed by +download +parse +COPY +quarantine +merge +ledger +commit +archive +total \(ms\)$/,
  );
  assert.deepEqual(lines[1]!.split(/\s+/), [
    "inc/2026-06-15T06-00-00.csv",
    "database",
    ...["7.1", "73.3", "125.7", "0.1", "1626.0", "1.5", "1.9", "24.0", "1861.0"],
  ]);
  assert.deepEqual(lines.slice(2).map((line) => line.trim().split(/\s{2,}/)), [
    ["inc post-apply steps", "161.0"],
    ["resolve_geometry", "22.0"],
    ["capture_history", "139.0"],
  ]);
  // Every figure ends under its heading.
  const end = (line: string, word: string) => line.indexOf(word) + word.length;
  assert.equal(end(lines[1]!, "125.7"), end(lines[0]!, "COPY"));
  assert.equal(lines[1]!.length, lines[0]!.length);
  assert.ok(lines.every((line) => line.length === lines[0]!.length));
});
