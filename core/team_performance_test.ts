import assert from "node:assert/strict";
import { formatTeamPerformance, type TeamPerformance, type TeamRow } from "./team_performance.ts";

const row = (key: string, median: number | null, p90: number | null): TeamRow => ({
  key,
  closures: 1,
  mttr_hours: { median, p90, count: median === null ? 0 : 1 },
  closed_compliant: 0,
  closed_breached: median === null ? 0 : 1,
  compliance_rate: median === null ? null : 0,
  open: 26,
  open_breached: 3,
  open_at_risk: 0,
  reopened: 0,
});

Deno.test("formatTeamPerformance: every column lines up, also with an MTTR of hundreds of hours", () => {
  const report: TeamPerformance = {
    generated_at: "2026-11-29T23:00:00+03:00",
    by: "team",
    filters: { cluster: null },
    window: { name: "7d", from: "2026-11-23", to: "2026-11-29", start: "", end: "" },
    rows: [
      row("Fibre Maintenance NBI", 4795, 4795),
      row("Team A", 2.5, 3.1),
      row("Team B", null, null),
    ],
  };
  const lines = formatTeamPerformance(report).split("\n").slice(2);
  // Before, a p90 of 4795.0 h pushed its row two characters past the header.
  assert.deepEqual(new Set(lines.map((line) => line.length)).size, 1, lines.join("\n"));
  const header = lines[0]!;
  for (const line of lines.slice(1)) {
    // Each figure ends where its column's header ends.
    for (const head of ["closed", "p50", "p90", "compliant", "open", "reopened"]) {
      const end = header.indexOf(head) + head.length;
      assert.notEqual(line[end - 1], " ", `${head} in "${line}"`);
      assert.ok(end === line.length || line[end] === " ", `${head} in "${line}"`);
    }
  }
  assert.match(
    lines[1]!,
    /^Fibre Maintenance NBI\s+1\s+4795\.0\s+4795\.0\s+0\.0%\s+26\s+3\s+0\s+0$/,
  );
  assert.match(lines[3]!, /^Team B\s+1\s+-\s+-\s+-\s+26/);
});

Deno.test("formatTeamPerformance: compliance rounds once from the counts (15 of 19 is 78.9%)", () => {
  const report: TeamPerformance = {
    generated_at: "2026-11-29T23:00:00+03:00",
    by: "team",
    filters: { cluster: null },
    window: { name: "7d", from: "2026-11-23", to: "2026-11-29", start: "", end: "" },
    // The API's rate, 0.7895 (4 decimals), rounded again read 79.0%.
    rows: [{
      ...row("Team A", 2.5, 3.1),
      closed_compliant: 15,
      closed_breached: 4,
      compliance_rate: 0.7895,
    }],
  };
  assert.match(formatTeamPerformance(report), /Team A\s+1\s+2\.5\s+3\.1\s+78\.9%/);
});

Deno.test("formatTeamPerformance: a team name's control characters are escaped, its column still lines up", () => {
  const report: TeamPerformance = {
    generated_at: "2026-11-29T23:00:00+03:00",
    by: "team",
    filters: { cluster: null },
    window: { name: "7d", from: "2026-11-23", to: "2026-11-29", start: "", end: "" },
    rows: [row("Team \x1b[31mRed\u202e", 2.5, 3.1), row("Team B", 1, 1)],
  };
  const lines = formatTeamPerformance(report).split("\n").slice(2);
  assert.match(lines[1]!, /^Team \\x1b\[31mRed\\u202e {2}/);
  assert.equal(new Set(lines.map((line) => line.length)).size, 1, lines.join("\n"));
});
