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
