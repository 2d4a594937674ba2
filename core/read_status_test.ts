import assert from "node:assert/strict";
import { type DatasetStatus, formatStatus } from "./read_status.ts";

/** One dataset's status line, with the given counts. */
function statusText(dataset: Partial<DatasetStatus>): string {
  return formatStatus({
    checkedAt: "2026-06-15T14:00:00+03:00",
    workingHours: true,
    healthy: true,
    datasets: [{
      dataset: "inc",
      health: "ok",
      reasons: [],
      watermark: "2026-06-15T17-00-00.csv",
      lastAppliedAt: "2026-06-15T14:01:10+03:00",
      filesApplied: 4,
      reapplications: 0,
      pendingFiles: null,
      ignoredKeys: null,
      lastRun: null,
      lockedSince: null,
      rows: 20,
      openBacklog: 2,
      contentLagHours: 49.5,
      futureUpdates: 0,
      quarantined: 0,
      ...dataset,
    }],
  });
}

Deno.test("formatStatus() counts distinct files applied, and every application when a file was applied again", () => {
  assert.match(statusText({}), /, 4 files applied$/m);
  assert.match(statusText({ reapplications: 1 }), /, 4 files applied \(5 applications\)$/m);
  assert.match(
    statusText({ filesApplied: 1, reapplications: 1, pendingFiles: 1 }),
    /, 1 file applied \(2 applications\), 1 file pending$/m,
  );
});

Deno.test("formatStatus() writes one file of the last run as 1 file", () => {
  const lastRun = {
    startedAt: "2026-06-15T14:01:00+03:00",
    finishedAt: "2026-06-15T14:01:10+03:00",
    status: "ok",
    filesApplied: 1,
    totals: {},
    error: null,
  };
  assert.match(
    statusText({ lastRun }),
    /^ {2}last run 2026-06-15T14:01:10\+03:00: ok, 1 file applied$/m,
  );
  assert.match(
    statusText({ lastRun: { ...lastRun, filesApplied: 3 } }),
    /: ok, 3 files applied$/m,
  );
});

Deno.test("formatStatus() says how many runs were skipped for a held lock since the last run", () => {
  const lastRun = {
    startedAt: "2026-06-15T14:01:00+03:00",
    finishedAt: "2026-06-15T14:01:10+03:00",
    status: "interrupted",
    filesApplied: 0,
    totals: {},
    error: "Interrupted by SIGTERM: the current file was rolled back; rerun to continue",
  };
  const text = statusText({
    lastRun,
    lockedSince: { runs: 1, lastAt: "2026-06-15T14:01:11+03:00" },
  });
  assert.match(
    text,
    /^ {2}last run 2026-06-15T14:01:10\+03:00: interrupted, 0 files applied \(Interrupted by SIGTERM: .*\)\n {2}since then 1 run skipped: another run held the lock \(last 2026-06-15T14:01:11\+03:00\)$/m,
  );
  assert.match(
    statusText({ lockedSince: { runs: 3, lastAt: "2026-06-15T14:01:11+03:00" } }),
    /^ {2}3 runs skipped: another run held the lock \(last 2026-06-15T14:01:11\+03:00\)$/m,
  );
});

Deno.test("formatStatus() says how many tickets are dated ahead of now, outside the content lag", () => {
  assert.match(
    statusText({ futureUpdates: 1 }),
    /^ {2}1 ticket\(s\) updated more than an hour ahead of now \(a clock or an export wrong\?\): not counted in the content lag$/m,
  );
  assert.doesNotMatch(statusText({}), /ahead of now/);
});
