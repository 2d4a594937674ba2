/**
 * `doctor`: the first command of the runbook. Checks the database, PostGIS, migrations, the
 * embedded folder, the bucket (or a `--from-dir` folder), the geocoder configuration, the clock
 * and EAT handling; prints ok / warn / fail with one line of remedy each. Exit 0 when nothing
 * fails, 1 otherwise.
 *
 * @module
 */

import {
  type Check,
  checkBucket,
  checkDatabase,
  checkEnvFileLoaded,
  checkFolderSource,
  checkGeocoder,
} from "./_doctor_checks.ts";
import { type Context, parse } from "./_context.ts";

/** Runs `doctor`; returns the exit code. */
export async function runDoctor(context: Context, args: string[]): Promise<number> {
  const { config, out } = context;
  const values = parse(args, { json: { type: "boolean" }, "from-dir": { type: "string" } });
  const now = new Date();
  const envFile = await checkEnvFileLoaded(config);
  const checks: Check[] = [
    ...envFile ? [envFile] : [],
    ...await checkDatabase(config, now),
    // A folder deployment has no bucket: its folder is checked in the bucket's place.
    ...values["from-dir"] === undefined
      ? await checkBucket(config, now)
      : await checkFolderSource(config, String(values["from-dir"]), now),
    checkGeocoder(config),
  ];
  return printChecks(checks, values.json === true, out) ? 0 : 1;
}

/** Prints the checks as text or JSON (`--json`); true when none failed. */
export function printChecks(checks: Check[], json: boolean, out: (text: string) => void): boolean {
  const failed = checks.filter((c) => c.result === "fail").length;
  const warned = checks.filter((c) => c.result === "warn").length;
  if (json) out(JSON.stringify({ ok: failed === 0, checks }));
  else out(formatChecks(checks, failed, warned));
  return failed === 0;
}

function formatChecks(checks: Check[], failed: number, warned: number): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  const lines = checks.flatMap((c) => [
    `${c.result.padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail}`,
    ...(c.remedy ? [`${" ".repeat(width + 8)}→ ${c.remedy}`] : []),
  ]);
  lines.push(
    failed > 0
      ? `${failed} check(s) failed, ${warned} warning(s): fix the failures above first`
      : `All checks passed${warned > 0 ? ` (${warned} warning(s))` : ""}`,
  );
  return lines.join("\n");
}
