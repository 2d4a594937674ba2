import assert from "node:assert/strict";
import { amount, collapseRepeats, parse, SIGNAL_REPEAT_MS, UsageError } from "./_context.ts";

const OPTIONS = {
  apply: { type: "boolean" },
  "wait-lock": { type: "string" },
  "max-age": { type: "string" },
} as const;

function usage(args: string[], options: Parameters<typeof parse>[1] = OPTIONS): string {
  try {
    parse(args, options);
  } catch (error) {
    assert.ok(error instanceof UsageError);
    return error.message;
  }
  throw new Error(`parse(${JSON.stringify(args)}) passed`);
}

Deno.test("parse() names an unknown flag and the nearest known one", () => {
  assert.equal(usage(["--aply"]), 'Unknown flag "--aply": did you mean "--apply"?');
  assert.equal(usage(["--frobnicate"]), 'Unknown flag "--frobnicate"');
});

Deno.test("parse() suggests the long flag a short one abbreviates, when only one starts so", () => {
  assert.equal(usage(["-a"]), 'Unknown flag "-a": did you mean "--apply"?');
  assert.equal(usage(["-W", "5"]), 'Unknown flag "-W": did you mean "--wait-lock"?');
  assert.equal(
    usage(["-p", "8097"], { port: { type: "string" }, host: { type: "string" } }),
    'Unknown flag "-p": did you mean "--port"?',
  );
  assert.equal(usage(["-x"]), 'Unknown flag "-x"');
  const two = { port: { type: "string" }, path: { type: "string" } } as const;
  assert.equal(usage(["-p", "1"], two), 'Unknown flag "-p"');
});

Deno.test("parse() reads a negative number after a flag as its value, and names a missing one", () => {
  assert.equal(usage(["--wait-lock"]), 'The flag "--wait-lock" needs a value');
  assert.equal(usage(["--wait-lock", "--apply"]), 'The flag "--wait-lock" needs a value');
  assert.equal(parse(["--wait-lock", "-5"], OPTIONS)["wait-lock"], "-5");
  assert.equal(parse(["--wait-lock=-5"], OPTIONS)["wait-lock"], "-5");
  assert.equal(
    usage(["--max-age", "2", "--max-age", "-.5"]),
    'The flag "--max-age" is given twice ("2", then "-.5"): give it once',
  );
  assert.equal(usage(["--apply=yes"]), 'The flag "--apply" takes no value');
  assert.equal(usage(["--apply", "-5"]), 'Unknown flag "-5"');
});

Deno.test("amount() refuses a negative number saying what it must be, with no hint to write it otherwise", () => {
  assert.throws(
    () => amount(parse(["--max-age", "-1"], OPTIONS)["max-age"], "--max-age", "hours", true),
    { message: 'Cannot read --max-age "-1": expected a number of hours, more than 0' },
  );
  assert.throws(
    () => amount("-5", "--wait-lock", "seconds"),
    { message: 'Cannot read --wait-lock "-5": expected a number of seconds, 0 or more' },
  );
});

Deno.test("amount() reads decimal notation only, not hex, exponents or spaces", () => {
  assert.deepEqual(["2", "0.5", ".5", "2.", "0"].map((v) => amount(v, "--x", "hours")), [
    2,
    0.5,
    0.5,
    2,
    0,
  ]);
  for (const value of ["0x10", "0b1", "1e3", " 2", "2 ", "", "+2", "Infinity", "abc"]) {
    assert.throws(() => amount(value, "--max-age", "hours", true), {
      message: `Cannot read --max-age "${value}": expected a number of hours, more than 0`,
    }, value);
  }
});

Deno.test("parse() refuses a positional argument, naming it", () => {
  assert.equal(usage(["stray"]), 'Unexpected argument "stray": this command takes flags only');
});

Deno.test("parse() refuses a flag given twice, showing both values, instead of keeping the last", () => {
  const options = { ...OPTIONS, dataset: { type: "string" } } as const;
  const twice = (args: string[]) => usage(args, options);
  assert.equal(
    twice(["--dataset", "inc", "--dataset=crq"]),
    'The flag "--dataset" is given twice ("inc", then "crq"): give it once',
  );
  assert.equal(twice(["--apply", "--apply"]), 'The flag "--apply" is given twice: give it once');
  assert.equal(parse(["--dataset", "inc", "--apply"], options).dataset, "inc");
});

Deno.test("collapseRepeats(): one Ctrl-C delivered twice (terminal and deno task, 1 ms apart) is told once; a second press is told", () => {
  let clock = 1000;
  const told: string[] = [];
  const handler = collapseRepeats((signal) => told.push(signal), SIGNAL_REPEAT_MS, () => clock);
  handler("SIGINT");
  clock += 1;
  handler("SIGINT"); // before: acted on as a second Ctrl-C, ending the run without its rollback
  clock += 5;
  handler("SIGTERM");
  assert.deepEqual(told, ["SIGINT"]);
  clock += SIGNAL_REPEAT_MS;
  handler("SIGINT");
  assert.deepEqual(told, ["SIGINT", "SIGINT"]);
});
