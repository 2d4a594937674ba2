import assert from "node:assert/strict";
import {
  checksum,
  loadDefinitions,
  loadKnownDefinitions,
  loadKnownMigrations,
  loadMigrations,
} from "./migrate.ts";

Deno.test("definitions/known_checksums.txt lists the text of every definition shipped", async () => {
  const known = await loadKnownDefinitions();
  const missing: string[] = [];
  for (const definition of await loadDefinitions()) {
    const sum = await checksum(definition.sql);
    if (!known.get(definition.name)?.has(sum)) missing.push(`${sum}  ${definition.name}`);
  }
  // Without its line, the next version would take a database this one migrated for a later
  // version's and refuse it. Keep the earlier lines: they let migrate bring older databases up.
  assert.deepEqual(
    missing,
    [],
    `add these lines to definitions/known_checksums.txt (keep the others):\n${missing.join("\n")}`,
  );
});

Deno.test("migrations/known_checksums.txt lists the text of every numbered migration shipped", async () => {
  const known = await loadKnownMigrations();
  const missing: string[] = [];
  for (const migration of await loadMigrations()) {
    const sum = await checksum(migration.sql);
    if (!known.get(migration.name)?.has(sum)) missing.push(`${sum}  ${migration.name}`);
  }
  // A released migration is never edited: a change to the schema is a new numbered migration.
  // A new migration's line goes here; an edited one's only with a later migration that brings a
  // database that ran its earlier text to what the new text creates (as 014 does).
  assert.deepEqual(
    missing,
    [],
    `a new migration? add its line to migrations/known_checksums.txt; an edited one? put it back:\n${
      missing.join("\n")
    }`,
  );
});

Deno.test("loadKnownDefinitions() keeps every text of a definition, of removed files too", async () => {
  const dir = await Deno.makeTempDir({ prefix: "known-" });
  try {
    const file = `${dir}/known_checksums.txt`;
    const [a, b, c] = ["a", "b", "c"].map((x) => x.repeat(64));
    await Deno.writeTextFile(
      file,
      `# comment\n\n${a}  20_sla_rule.sql\n${b}  20_sla_rule.sql\n${c}  21_removed.sql\n`,
    );
    const known = await loadKnownDefinitions(new URL(`file://${file}`));
    assert.deepEqual(
      [...known].map(([name, sums]) => [name, [...sums]]),
      [["20_sla_rule.sql", [a, b]], ["21_removed.sql", [c]]],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Every text a commit of this checkout held for a `.sql` file of `dir`: name and SHA-256. */
async function textsInHistory(dir: string): Promise<{ name: string; sum: string }[]> {
  const git = (args: string[]) =>
    new Deno.Command("git", { args, stdout: "piped", stderr: "null" }).output();
  // `:mode mode blob blob status\tpath` for each file a commit added or changed.
  const log = await git(["log", "--raw", "--no-abbrev", "--no-renames", "--format=", "--", dir]);
  const blobs = new Map<string, string>(); // blob -> file name
  for (const line of new TextDecoder().decode(log.stdout).split("\n")) {
    const m = /^:\S+ \S+ \S+ ([0-9a-f]{40}) [AM]\t(?:.*\/)?(\d+_[^/]+\.sql)$/.exec(line);
    if (m !== null) blobs.set(m[1]!, m[2]!);
  }
  const texts: { name: string; sum: string }[] = [];
  for (const [blob, name] of blobs) {
    const out = await git(["cat-file", "blob", blob]);
    // The text as migrate reads a file, summed as migrate sums it.
    texts.push({ name, sum: await checksum(new TextDecoder().decode(out.stdout)) });
  }
  return texts;
}

/** Whether this checkout has all its git history (not a copy without .git, nor a shallow clone). */
const inGitCheckout = await new Deno.Command("git", {
  args: ["rev-parse", "--is-shallow-repository"],
  stderr: "null",
}).output().then((out) => out.success && new TextDecoder().decode(out.stdout).trim() === "false")
  .catch(() => false);

Deno.test({
  name:
    "definitions/known_checksums.txt lists every text any commit held for a definition: a database that commit migrated is brought up to date, not refused as a later release's",
  ignore: !inGitCheckout,
  async fn() {
    const known = await loadKnownDefinitions();
    const missing = (await textsInHistory("definitions"))
      .filter(({ name, sum }) => !known.get(name)?.has(sum))
      .map(({ name, sum }) => `${sum}  ${name}`);
    // Before: 83119fd's text of 30_inc_open_sla.sql, edited again 11 minutes later, was missing
    // (an upgrade tester's database from that commit was refused).
    assert.deepEqual(missing, [], `add to definitions/known_checksums.txt:\n${missing.join("\n")}`);
  },
});

Deno.test({
  name:
    "migrations/known_checksums.txt lists every text a commit held for a migration, but the four no release shipped",
  ignore: !inGitCheckout,
  async fn() {
    const known = await loadKnownMigrations();
    const missing = (await textsInHistory("migrations"))
      .filter(({ name, sum }) => !known.get(name)?.has(sum))
      .map(({ name, sum }) => `${name} ${sum.slice(0, 8)}`)
      .sort();
    // Replaced before the next release (README, "Upgrades"): 001's first text (15 minutes old),
    // 009's first name (renamed a minute later, 58f615c), and 015's first two texts (between the
    // releases 91fec0d and 29e1073).
    const unreleased = [
      "001_tickets_schema.sql 3225c2c6",
      "009_source_file_indexes.sql 947b0fc5",
      "015_name_keys.sql 9fff1b96",
      "015_name_keys.sql ac53ddaf",
    ];
    assert.deepEqual(missing.filter((m) => !unreleased.includes(m)), []);
  },
});
