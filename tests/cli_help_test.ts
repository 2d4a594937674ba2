// Help and usage errors as a new user meets them: every command's --help, "did you mean", one
// line of reason instead of a page of usage, and task descriptions in deno.json.

import assert from "node:assert/strict";
import { cli } from "./_cli.ts";

const COMMANDS = [
  "doctor",
  "migrate",
  "ingest",
  "status",
  "geocode",
  "capture",
  "report",
  "gazetteer",
  "sql",
  "db",
  "demo",
];

Deno.test("help: every command's --help prints that command's help and exits 0", async () => {
  for (const command of COMMANDS) {
    const r = await cli([command, "--help"]);
    assert.equal(r.code, 0, `${command}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^Usage: deno task ${command}\\b`, "m"), command);
    assert.match(r.stdout, /-h, --help/, command);
  }
  const ingest = await cli(["ingest", "-h"]);
  assert.match(ingest.stdout, /--from-dir DIR/);
  assert.doesNotMatch(ingest.stdout, /gazetteer export/, "only the command's own help");
});

Deno.test("help: `help` alone lists every command with a line each and exits 0", async () => {
  const r = await cli(["help"]);
  assert.equal(r.code, 0);
  for (const command of COMMANDS) assert.match(r.stdout, new RegExp(`^  ${command} +\\w`, "m"));
  assert.equal((await cli(["help", "status"])).stdout, (await cli(["status", "--help"])).stdout);
  // `help --help` and `help -h` were "Unknown command" (exit 2).
  for (const flag of ["--help", "-h"]) {
    const again = await cli(["help", flag]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout, r.stdout);
  }
});

Deno.test("help: a usage error prints its reason and where to look, not the whole usage", async () => {
  const r = await cli(["ingest", "--from-dir", "x", "--aply"]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr,
    'Unknown flag "--aply": did you mean "--apply"?\nSee "deno task ingest --help"\n',
  );
  const noSource = await cli(["ingest"]);
  assert.equal(noSource.code, 2);
  assert.equal(noSource.stderr.trim().split("\n").length, 2, noSource.stderr);
  assert.match(noSource.stderr, /^Choose exactly one source/);
});

Deno.test("help: a flag's missing value is named as missing, and a negative one read and judged", async () => {
  for (const args of [["--max-age", "-3"], ["--max-age=-3"]]) {
    const negative = await cli(["status", ...args]);
    assert.equal(negative.code, 2);
    assert.match(
      negative.stderr,
      /^Cannot read --max-age "-3": expected a number of hours, more than 0\n/,
    );
  }
  const twice = await cli(["status", "--max-age", "2", "--max-age", "-3"]);
  assert.match(twice.stderr, /^The flag "--max-age" is given twice \("2", then "-3"\)/);
  const missing = await cli(["ingest", "--from-dir", "x", "--wait-lock", "--apply"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^The flag "--wait-lock" needs a value\n/);
  const boolean = await cli(["ingest", "--from-dir", "x", "--apply=yes"]);
  assert.match(boolean.stderr, /^The flag "--apply" takes no value\n/);
});

Deno.test("help: a mistyped command is suggested; an unrelated one is not", async () => {
  const r = await cli(["stauts"]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /^Unknown command "stauts": did you mean "status"\?\nSee "deno task help"/,
  );
  const far = await cli(["frobnicate"]);
  assert.match(far.stderr, /^Unknown command "frobnicate"\n/);
  const help = await cli(["help", "ingset"]);
  assert.equal(help.code, 2);
  assert.equal(
    help.stderr,
    'Unknown command "ingset": did you mean "ingest"?\nSee "deno task help"\n',
  );
});

Deno.test("help: --dataset with an unknown name lists every valid value, all included", async () => {
  for (const command of ["ingest", "geocode"]) {
    const args = command === "ingest" ? ["--from-dir", "x"] : ["--clusters"];
    const r = await cli([command, ...args, "--dataset", "foo"]);
    assert.equal(r.code, 2, command);
    assert.match(r.stderr, /^Cannot read --dataset "foo": expected "inc", "crq", "all"\n/);
  }
});

Deno.test("help: every task in deno.json has a description, so `deno task` explains itself", async () => {
  const config = JSON.parse(await Deno.readTextFile("deno.json"));
  for (const [name, task] of Object.entries(config.tasks)) {
    assert.equal(typeof task, "object", `task "${name}" has no description`);
    assert.ok(((task as { description?: string }).description ?? "").length > 10, name);
  }
  for (const command of [...COMMANDS, "help"]) assert.ok(config.tasks[command], command);
});

Deno.test("help: report's window flags are checked before any database opens, naming the flag (exit 2)", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["report", "--by", "team", "--from", "2026-06-10", "--to", "2026-06-01"],
      /^Cannot read --from "2026-06-10": it is after --to "2026-06-01"/,
    ],
    [["report", "--by", "team", "--window", "week"], /^Cannot read --window "week": expected/],
    [["report", "--by", "owner", "--from", "2026-02-30"], /^Cannot read --from "2026-02-30"/],
    [
      ["report", "--by", "team", "--window", "7d", "--to", "2026-06-01"],
      /^Cannot use --to with --window "7d"/,
    ],
    [
      ["report", "--by", "team", "--from", "2024-01-01", "--to", "2026-01-01"],
      /a window spans at most 366 days \(this one 732\)/,
    ],
    [["report", "--window", "30d"], /^The flag "--window" goes with --by team\|owner/],
    // --by in any case, as --window; a day alone is said as typed (before: "Team" refused, and
    // 'Cannot use --window "custom" without --to' though no window was named).
    [["report", "--by", "Team", "--from", "2026-06-01"], /^Cannot use --from without --to: give/],
    [["report", "--by", "teams"], /^Cannot read --by "teams": expected team or owner/],
  ];
  for (const [args, message] of cases) {
    const r = await cli(args, { PGLITE_DIR: ".data/no-such-db" });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
  }
});
