import assert from "node:assert/strict";
import { parse, UsageError } from "./_context.ts";

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

Deno.test("parse() tells a missing value from a negative one, and a flag that takes none", () => {
  assert.equal(usage(["--wait-lock"]), 'The flag "--wait-lock" needs a value');
  assert.equal(usage(["--wait-lock", "--apply"]), 'The flag "--wait-lock" needs a value');
  assert.equal(
    usage(["--wait-lock", "-5"]),
    'The flag "--wait-lock" needs a value; "-5" reads as a flag: write --wait-lock=-5',
  );
  assert.equal(
    usage(["--max-age", "2", "--max-age", "-.5"]),
    'The flag "--max-age" needs a value; "-.5" reads as a flag: write --max-age=-.5',
  );
  assert.equal(usage(["--apply=yes"]), 'The flag "--apply" takes no value');
  assert.equal(parse(["--wait-lock=-5"], OPTIONS)["wait-lock"], "-5");
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
