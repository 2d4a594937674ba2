import assert from "node:assert/strict";
import { checkDotEnvNames, misspelledNames, unloadedEnvWarning } from "./_dot_env_names.ts";

Deno.test("a .env name a letter or two from a setting's is named with the setting meant", () => {
  const text = [
    "# production",
    "DATABSE_URL=postgres://fleet:pw@db:5432/tickets", // the tester's: a new embedded database
    "export SERVE_TOKN='s3cret'", // serve would run without its token
    "database_url=postgres://x@y/z", // names are case-sensitive
    "TICKETS_BUCKET=isptickets", // its own
    "PORT=8080", // Coolify's, not PGPORT
    "TZ=Africa/Nairobi",
    "AWS_PROFILE=ops", // another program's
    "",
  ].join("\r\n");
  assert.deepEqual(misspelledNames(text), [
    { name: "DATABSE_URL", meant: "DATABASE_URL" },
    { name: "SERVE_TOKN", meant: "SERVE_TOKEN" },
    { name: "database_url", meant: "DATABASE_URL" },
  ]);
  assert.equal(
    checkDotEnvNames(text)?.message,
    "Cannot read .env: it sets DATABSE_URL, which fleettickets does not read: did you mean " +
      "DATABASE_URL? (and SERVE_TOKN for SERVE_TOKEN, database_url for DATABASE_URL) Rename it, " +
      "or remove the line",
  );
  assert.equal(checkDotEnvNames("DATABASE_URL=postgres://x@y/z\n"), undefined);
});

Deno.test(".env.example sets no name fleettickets does not read", async () => {
  const text = await Deno.readTextFile(new URL("../.env.example", import.meta.url));
  assert.deepEqual(misspelledNames(text), []);
});

Deno.test("unloadedEnvWarning() warns a command on the embedded database that .env sets DATABASE_URL", () => {
  const text = "# prod\nexport DATABASE_URL='postgres://fleet:pw@db:5432/tickets'\n";
  const embedded = { pgliteDir: ".data/pglite" };
  assert.equal(
    unloadedEnvWarning("migrate", text, embedded),
    "Warning: .env sets DATABASE_URL but the environment has none: migrate uses the embedded " +
      'database ".data/pglite" (commands read the environment, not .env); load it first ' +
      "(set -a; . ./.env; set +a), or run through scripts/run_ingest.sh, which does\n",
  );
  assert.match(unloadedEnvWarning("ingest", text, embedded)!, /ingest uses the embedded/);
  // Loaded, not set, empty, commented out, or a command that says it its own way: nothing.
  const loaded = { ...embedded, databaseUrl: "postgres://fleet@db/tickets" };
  assert.equal(unloadedEnvWarning("migrate", text, loaded), undefined);
  assert.equal(unloadedEnvWarning("migrate", undefined, embedded), undefined);
  assert.equal(unloadedEnvWarning("migrate", "DATABASE_URL=\n", embedded), undefined);
  // Empty, then another line (before: read as set, its value the next line's first letter).
  assert.equal(
    unloadedEnvWarning("ingest", "DATABASE_URL=\nFOLDER_SETTLE_SECONDS=0\n", embedded),
    undefined,
  );
  assert.equal(
    unloadedEnvWarning("migrate", "# DATABASE_URL=postgres://x@h/d\n", embedded),
    undefined,
  );
  assert.equal(unloadedEnvWarning("doctor", text, embedded), undefined);
  assert.equal(unloadedEnvWarning("demo", text, embedded), undefined);
});
