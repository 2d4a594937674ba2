/**
 * Human-readable rendering of a drain report (the `--json` form is the report itself).
 *
 * @module
 */

import type { DrainReport, FileCounts } from "../core/drain.ts";

function countsLine(c: FileCounts): string {
  return `read ${c.rowsRead}: +${c.inserted} new, ${c.updated} updated, ${c.unchanged} unchanged` +
    (c.olderSkipped ? `, ${c.olderSkipped} kept (newer data)` : "") +
    `; dropped ${c.alarmsDropped} alarm, ${c.sentinelsDropped} sentinel` +
    (c.duplicates ? `; ${c.duplicates} duplicate` : "") +
    (c.quarantined ? `; ${c.quarantined} QUARANTINED` : "");
}

/** Renders a drain report as a few lines for a person at a terminal. */
export function formatDrainReport(report: DrainReport): string {
  const lines: string[] = [];
  const verb = report.mode === "apply" ? "apply" : "dry run (nothing written; --apply writes)";
  lines.push(
    `${report.dataset}: ${verb}${report.reseed ? ", reseed" : ""} from ${report.source}`,
  );
  if (report.status === "locked") {
    lines.push(`  skipped: ${report.error}`);
    return lines.join("\n");
  }
  if (report.files.length === 0) lines.push("  no new change files");
  for (const file of report.files) {
    const head = `  ${file.fileName}  ${file.status.padEnd(11)}`;
    if (file.action === "archive") {
      lines.push(`${head} already applied, ${file.status === "archived" ? "" : "to be "}archived`);
    } else if (file.counts) {
      lines.push(`${head} ${countsLine(file.counts)}  (${file.durationMs} ms)`);
    } else {
      lines.push(head.trimEnd());
    }
    for (const q of file.quarantine ?? []) lines.push(`      line ${q.line}: ${q.reason}`);
    if (file.error) lines.push(`      error: ${file.error}`);
    if (file.notArchived) lines.push(`      not archived: ${file.notArchived}`);
  }
  for (const f of report.setAside) lines.push(`  SET ASIDE ${f.key}: ${f.reason}`);
  if (report.ignoredKeys.length > 0) {
    lines.push(`  ignored ${report.ignoredKeys.length} key(s) that are not change files`);
  }
  const applied = report.files.filter((f) => f.action === "apply" && f.counts).length;
  if (applied > 1) lines.push(`  total: ${countsLine(report.totals)}`);
  lines.push(
    `  watermark ${report.watermark ?? "(none)"}; ${report.status}${
      report.error && report.status === "failed" ? `: ${report.error}` : ""
    } in ${report.durationMs} ms`,
  );
  if (report.status === "failed") {
    lines.push(
      report.transient
        ? "  transient: the next run retries it as is"
        : "  not transient: every rerun fails the same way until the cause above is fixed",
    );
  }
  return lines.join("\n");
}
