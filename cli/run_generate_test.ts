// `deno task generate` as a user meets it: run as a subprocess with the task's own permission
// flags (read from deno.json), in scratch folders under .data/ that each test removes.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The task's `deno run` arguments after `deno`, so the tests run what `deno task` runs. */
async function taskArgs(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const [deno, ...args] = String(config.tasks.generate.command).split(/\s+/);
  assert.equal(deno, "deno");
  return args;
}

async function generate(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...await taskArgs(), ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** Runs `fn` with a fresh folder name under .data/ (relative, as a user types it), then removes it. */
async function withScratch(fn: (out: string) => Promise<void>): Promise<void> {
  const out = `.data/generate-test-${crypto.randomUUID()}`;
  try {
    await fn(out);
  } finally {
    await Deno.remove(`${ROOT}${out}`, { recursive: true }).catch(() => {});
  }
}

Deno.test("generate: --help prints every flag with its default and an example, and exits 0", async () => {
  for (const flag of ["--help", "-h"]) {
    const r = await generate([flag]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^Usage: deno task generate --out DIR/);
    for (const option of ["--out DIR", "--force", "-h, --help"]) {
      assert.ok(r.stdout.includes(option), option);
    }
    for (
      const [option, fallback] of Object.entries({
        "--dataset NAME": "default inc",
        "--tickets N": "default 600",
        "--deltas K": "default 6",
        "--delta-size N": "default 40",
        "--seed S": "default 1",
      })
    ) {
      assert.match(r.stdout, new RegExp(`^  ${option} .*\\(${fallback}\\b`, "m"), option);
    }
    assert.ok(r.stdout.includes("Example:\n  deno task generate --out .data/feed "), "example");
  }
});

Deno.test("generate: a mistyped flag exits 2 and suggests the right one", async () => {
  const r = await generate(["--outt", ".data/x"]);
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.equal(
    r.stderr,
    'Unknown flag "--outt": did you mean "--out"?\nSee "deno task generate --help"\n',
  );
  const unrelated = await generate(["--frobnicate"]);
  assert.equal(unrelated.code, 2);
  assert.match(unrelated.stderr, /^Unknown flag "--frobnicate"\n/);
});

Deno.test("generate: a bad value exits 2 naming the flag, the value and what is expected", async () => {
  const cases: [string[], string][] = [
    [["--dataset", "foo"], 'Cannot read --dataset "foo": expected "inc", "crq" or "all"'],
    [["--tickets", "-5"], 'Cannot read --tickets "-5": expected a whole number from 1 to 1000000'],
    [
      ["--tickets", "abc"],
      'Cannot read --tickets "abc": expected a whole number from 1 to 1000000',
    ],
    [["--seed", "x"], 'Cannot read --seed "x": expected a whole number from 0 to 4294967295'],
    [["--deltas=1.5"], 'Cannot read --deltas "1.5": expected a whole number from 0 to 1000'],
  ];
  await withScratch(async (out) => {
    for (const [args, message] of cases) {
      const r = await generate(["--out", out, ...args]);
      assert.equal(r.code, 2, args.join(" "));
      assert.equal(r.stderr, `${message}\nSee "deno task generate --help"\n`);
    }
    assert.equal(await Deno.stat(`${ROOT}${out}`).catch(() => null), null, "nothing written");
  });
  const missing = await generate([]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^Choose the folder to write with --out DIR/);
});

Deno.test("generate: a folder with change files is refused without --force and replaced with it", async () => {
  await withScratch(async (out) => {
    const small = ["--out", out, "--tickets", "20"];
    const first = await generate([...small, "--deltas", "2"]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^inc: 3 files, /);
    const changes = `${ROOT}${out}/automations/inc/changes`;
    const before = await Deno.readTextFile(`${changes}/2026-06-15T06-00-00.csv`);

    const again = await generate([...small, "--deltas", "2", "--seed", "2"]);
    assert.equal(again.code, 2);
    assert.equal(
      again.stderr,
      `Cannot write --out "${out}": it already has inc change files ` +
        `(3 in ${out}/automations/inc/changes/): choose a new folder, or add --force to write ` +
        "over them\n",
    );
    assert.equal(await Deno.readTextFile(`${changes}/2026-06-15T06-00-00.csv`), before);

    // --force replaces the old stream whole: fewer deltas leave none of the old ones behind.
    const forced = await generate([...small, "--seed", "2", "--deltas", "1", "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stdout, /; replaced 3 earlier files\n$/);
    const names = [];
    for await (const entry of Deno.readDir(changes)) names.push(entry.name);
    assert.deepEqual(names.sort(), ["2026-06-15T06-00-00.csv", "2026-06-15T06-20-00.csv"]);
    assert.notEqual(await Deno.readTextFile(`${changes}/2026-06-15T06-00-00.csv`), before);

    // Another dataset in the same folder is not in the way; applied (processed/) files are.
    const crq = await generate(["--out", out, "--dataset", "crq", "--tickets", "20"]);
    assert.equal(crq.code, 0, crq.stderr);
    await Deno.mkdir(`${ROOT}${out}/automations/inc/processed`);
    await Deno.rename(
      `${changes}/2026-06-15T06-00-00.csv`,
      `${ROOT}${out}/automations/inc/processed/2026-06-15T06-00-00.csv`,
    );
    const all = await generate(["--out", out, "--dataset", "all"]);
    assert.equal(all.code, 2);
    assert.match(
      all.stderr,
      /^Cannot write --out "[^"]+": it already has inc and crq change files \(1 in .*\/inc\/changes\/, 1 in .*\/inc\/processed\/, 7 in .*\/crq\/changes\/\)/,
    );
  });
});

Deno.test("generate: a folder outside .data/ is refused in words under the task's permissions", async () => {
  const outside = await Deno.makeTempDir({ prefix: "generate-test-" });
  try {
    const r = await generate(["--out", `${outside}/feed`]);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `Cannot write --out "${outside}/feed": deno task generate may write only under .data/, ` +
        "where ingest --from-dir can move applied files: use a folder such as .data/feed\n",
    );
    assert.equal(await Deno.stat(`${outside}/feed`).catch(() => null), null);
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("generate: a relative folder outside .data/ is written under it, as every output name is", async () => {
  const name = `generate-test-${crypto.randomUUID()}`;
  try {
    // Before: refused ("may write only under .data/"), while `db export x.sql` wrote .data/x.sql.
    const r = await generate(["--out", name, "--tickets", "20", "--deltas", "1"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`-> \\.data/${name}/automations/inc/changes `));
    assert.ok((await Deno.stat(`${ROOT}.data/${name}/automations/inc/changes`)).isDirectory);
    assert.equal(await Deno.stat(`${ROOT}${name}`).catch(() => null), null);
  } finally {
    await Deno.remove(`${ROOT}.data/${name}`, { recursive: true }).catch(() => {});
  }
});

Deno.test("generate: a link inside .data/ to a folder outside is refused, and nothing is written there", async () => {
  const outside = await Deno.makeTempDir({ prefix: "generate-test-" });
  const link = `.data/generate-test-link-${crypto.randomUUID()}`;
  try {
    await Deno.mkdir(`${ROOT}.data`, { recursive: true }); // a fresh clone has none yet
    await Deno.symlink(outside, `${ROOT}${link}`);
    // Before: written through the link into the folder outside (a tester's).
    const r = await generate(["--out", `${link}/g`, "--tickets", "5", "--deltas", "0"]);
    assert.equal(r.code, 2, r.stdout);
    assert.equal(
      r.stderr,
      `Cannot write --out "${link}/g" (it leads to "${await Deno.realPath(outside)}/g"): the ` +
        "worker may write only under ./.data; name a place there that no link carries out of it\n",
    );
    assert.deepEqual([...Deno.readDirSync(outside)], []);
  } finally {
    await Deno.remove(`${ROOT}${link}`).catch(() => {});
    await Deno.remove(outside, { recursive: true });
  }
});
