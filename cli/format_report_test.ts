import assert from "node:assert/strict";
import { type DrainReport, emptyCounts } from "../core/drain.ts";
import { formatDrainReport } from "./format_report.ts";

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
    recordError: "Cannot record the run in tickets.runs: permission denied for table runs",
  });
  // Before: the last line was "  watermark (none); ok in 3 ms" for a run that exited 1.
  assert.deepEqual(text.split("\n").slice(-3), [
    "  watermark (none); ok in 3 ms",
    "  post-apply step failed: resolve_geometry: permission denied for function (the files stay applied; the next run does the step again)",
    "  Cannot record the run in tickets.runs: permission denied for table runs (the files stay applied; status cannot see this run)",
  ]);
  const clean = formatDrainReport({ ...report([]), afterApply: { errors: [], durationMs: 1 } });
  assert.match(clean.split("\n").at(-1)!, /ok in 3 ms$/);
});
