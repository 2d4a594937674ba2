// `serve` on PostgreSQL as the README's read-only role: it refuses to start (exit 2) when the
// role lacks a privilege the read API needs, naming the GRANT statements, instead of starting
// and answering 500 on the routes that read what it may not; and what it checks is enough for
// every route. PostgreSQL only (TEST_DATABASE_URL): the embedded database has one role. Each
// test drops the roles it made (roles belong to the server, not to the scratch database).

import assert from "node:assert/strict";
import postgres from "postgres";
import { connectPostgresDatabase, createPostgresDatabase } from "../adapters/postgres_database.ts";
import { LEDGER_READS, missingReadGrants, SERVE_READS } from "../core/check_read_grants.ts";
import { migrate } from "../core/migrate.ts";
import { createApp } from "../serve/app.ts";
import { createScratchDatabase, removeTestDataAtEnd, shared } from "./_harness.ts";
import { loadWebFixture } from "./_web_fixture.ts";
import { cleanUpScratchDirsAtEnd, cli, scratchDir } from "./_cli.ts";
import { refuseMissingGrants } from "../cli/run_serve.ts";

const base = Deno.env.get("TEST_DATABASE_URL");
const PASSWORD = "pw-never-shown-7f3a";

/**
 * The README's "read-only role `serve` is meant to run as", its SQL blocks as written there, for
 * `role` (an identifier): the README's statements are the ones tested.
 */
async function readmeGrants(role: string): Promise<string[]> {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const section = readme.split("### The read-only role `serve` is meant to run as")[1]!
    .split("\n### ")[0]!;
  const blocks = [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const statements = blocks.join("\n").split("\n").filter((line) => !line.startsWith("--"))
    .join("\n").split(";").map((text) => text.trim()).filter((text) => text !== "");
  assert.ok(statements.length >= 7, `the README's role SQL: ${statements.length} statements`);
  return statements.map((text) =>
    text.replaceAll("fleettickets_reader", role).replace("'CHANGE_ME'", `'${PASSWORD}'`)
  );
}

/** A fresh name for a role this file makes (`ft_test_` like the scratch databases). */
function roleName(): string {
  return `ft_test_reader_${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
}

/** `url` logged in as `role` with the README's password. */
function asRole(url: string, role: string): string {
  const at = new URL(url);
  at.username = encodeURIComponent(role);
  at.password = PASSWORD;
  return at.href;
}

/** A migrated scratch database, and a superuser connection to it for the statements below. */
async function scratch(): Promise<{ url: string; admin: postgres.Sql }> {
  const url = await createScratchDatabase(base!);
  const db = createPostgresDatabase(url);
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
  return { url, admin: postgres(url, { max: 1, onnotice: () => {} }) };
}

/** Runs `fn` with a role made by `statements`; drops it (and its grants) after. */
async function withRole(
  admin: postgres.Sql,
  role: string,
  statements: string[],
  fn: () => Promise<void>,
): Promise<void> {
  try {
    for (const statement of statements) await admin.unsafe(statement);
    await fn();
  } finally {
    await admin.unsafe(`drop owned by ${role}`).catch(() => {});
    await admin.unsafe(`drop role if exists ${role}`);
  }
}

Deno.test({
  name: "missingReadGrants: the README's role lacks nothing; a revoked grant is named, the role " +
    "quoted when it needs to be",
  ignore: base === undefined,
  ...shared,
  async fn() {
    const { url, admin } = await scratch();
    const role = `Ft Reader ${crypto.randomUUID().slice(0, 8)}`;
    const quoted = `"${role}"`;
    try {
      await withRole(admin, quoted, await readmeGrants(quoted), async () => {
        // The owner lacks nothing, and every object listed is there (a typo would be absent).
        const owner = createPostgresDatabase(url);
        try {
          assert.deepEqual(await missingReadGrants(owner), {
            role: "postgres",
            grants: [],
            absent: [],
          });
        } finally {
          await owner.close();
        }
        // With tickets on its search path and public not, every function is still found (its
        // signature printed without the schemas: they were all "absent", so none was checked).
        await admin.unsafe(`alter role ${quoted} set search_path = tickets, reporting`);
        const onPath = createPostgresDatabase(asRole(url, role), { readOnlyTimeoutMs: 5000 });
        try {
          assert.deepEqual(await missingReadGrants(onPath), { role, grants: [], absent: [] });
        } finally {
          await onPath.close();
        }
        await admin.unsafe(`alter role ${quoted} reset search_path`);
        const db = createPostgresDatabase(asRole(url, role), { readOnlyTimeoutMs: 5000 });
        try {
          assert.deepEqual(await missingReadGrants(db), { role, grants: [], absent: [] });
          assert.deepEqual((await missingReadGrants(db, LEDGER_READS)).grants, []);
          await admin.unsafe(`revoke select on tickets.closure_events from ${quoted}`);
          await admin.unsafe(`revoke usage on schema reporting from ${quoted}`);
          // An execute a hardened database no longer grants to PUBLIC: the exact signature.
          await admin.unsafe(
            `revoke execute on function tickets.sla_split(text[]) from public, ${quoted}`,
          );
          await admin.unsafe(`revoke select on tickets.schema_definitions from ${quoted}`);
          assert.deepEqual(await missingReadGrants(db), {
            role,
            grants: [
              `grant usage on schema reporting to ${quoted}`,
              `grant select on tickets.closure_events to ${quoted}`,
              `grant execute on function tickets.sla_split(text[]) to ${quoted}`,
            ],
            absent: [],
          });
          assert.deepEqual((await missingReadGrants(db, LEDGER_READS)).grants, [
            `grant select on tickets.schema_definitions to ${quoted}`,
          ]);
          // Without usage on tickets, its tables and functions are still checked, one by one.
          await admin.unsafe(`revoke usage on schema tickets from ${quoted}`);
          const missing = await missingReadGrants(db);
          assert.equal(missing.grants[0], `grant usage on schema tickets to ${quoted}`);
          assert.equal(missing.grants.length, 4);
        } finally {
          await db.close();
        }
      });
    } finally {
      await admin.end();
    }
  },
});

Deno.test({
  name: "what missingReadGrants checks is enough: a role granted only SERVE_READS, on a database " +
    "whose functions PUBLIC may not execute, gets 200 from every data route",
  ignore: base === undefined,
  ...shared,
  async fn() {
    const { url, admin } = await scratch();
    const role = roleName();
    const owner = createPostgresDatabase(url);
    const fixture = await loadWebFixture(owner);
    assert.ok(fixture.openInc > 100, `${fixture.openInc} open tickets`);
    let db: Awaited<ReturnType<typeof connectPostgresDatabase>> | undefined;
    try {
      const [inc] = await admin`select ticket_id from tickets.closure_events limit 1`;
      const [crq] = await admin`select ticket_id from tickets.crq limit 1`;
      await admin.unsafe(
        `revoke execute on all functions in schema tickets, reporting from public`,
      );
      const grants = [
        `create role ${role} login`,
        `grant usage on schema ${SERVE_READS.schemas.join(", ")} to ${role}`,
        `grant select on ${SERVE_READS.tables.join(", ")} to ${role}`,
        `grant execute on function ${SERVE_READS.functions.join(", ")} to ${role}`,
      ];
      await withRole(admin, role, grants, async () => {
        db = await connectPostgresDatabase(asRole(url, role), {
          max: 2,
          prepare: true,
          readOnlyTimeoutMs: 5000,
        });
        assert.deepEqual(await missingReadGrants(db), { role, grants: [], absent: [] });
        const lines: Record<string, unknown>[] = [];
        const app = createApp({
          db,
          settings: { corsOrigins: [], statementTimeoutMs: 5000, staleAfterHours: 2 },
          webRoot: "./.data/serve-grants-no-web/",
          now: () => fixture.now,
          log: (entry) => lines.push(entry),
          redact: (text) => text,
        });
        const paths = [
          "/api/health",
          "/api/tickets",
          "/api/tickets?dataset=crq&limit=5",
          "/api/tickets.csv?limit=5",
          `/api/tickets/${encodeURIComponent(String(inc!.ticket_id))}`,
          `/api/tickets/${encodeURIComponent(String(crq!.ticket_id))}?dataset=crq`,
          "/api/nearest?lon=36.8219&lat=-1.2921&dataset=all",
          "/api/nearest?lon=36.8219&lat=-1.2921&rank=urgency",
          "/api/dashboard",
          "/api/dashboard?window=30d",
          "/api/backlog",
          "/api/teams",
          "/api/teams?by=owner&window=30d",
          "/webhook/tickets",
          "/webhook/inc-dashboard",
        ];
        const statuses = [];
        for (const path of paths) {
          const response = await app.request(path);
          await response.body?.cancel();
          statuses.push([path, response.status]);
        }
        assert.deepEqual(statuses, paths.map((path) => [path, 200]), JSON.stringify(lines));
        // And each check matters: without one function's execute, the dashboard fails.
        await admin.unsafe(`revoke execute on function tickets.sla_split(text[]) from ${role}`);
        assert.deepEqual((await missingReadGrants(db)).grants, [
          `grant execute on function tickets.sla_split(text[]) to ${role}`,
        ]);
        assert.equal((await app.request("/api/dashboard")).status, 500);
        await db.close();
        db = undefined;
      });
    } finally {
      await db?.close();
      await owner.close();
      await admin.end();
      await Deno.remove(fixture.bucket, { recursive: true });
    }
  },
});

/** What a `serve` process did: exited (code, stderr) or started listening (then stopped). */
interface ServeOutcome {
  code: number;
  stderr: string;
  stdout: string;
  listened: boolean;
  /** What `/api/health` answered once it listened. */
  health?: { status: number; ok: boolean };
  ms: number;
}

/**
 * Runs `main.ts serve --port 0` as deployed; once it listens, `/api/health` is asked and it is
 * sent SIGTERM. Killed after `limitMs` (a serve that neither starts nor exits fails the test,
 * not the suite).
 */
async function runServe(
  databaseUrl: string,
  limitMs = 60_000,
  env: Record<string, string> = {},
): Promise<ServeOutcome> {
  const began = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=worker", "--quiet", "main.ts", "serve", "--port", "0"],
    env: { DATABASE_URL: databaseUrl, PATH: Deno.env.get("PATH") ?? "", NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  let listened = false;
  let health: ServeOutcome["health"];
  const stdout = (async () => {
    let text = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      const url = /"event":"listening","url":"([^"]+)"/.exec(text)?.[1];
      if (!listened && url !== undefined) {
        listened = true;
        // Asked before the signal: "listening" is printed before serve takes SIGTERM itself.
        const response = await fetch(`${url}api/health`);
        health = { status: response.status, ok: (await response.json()).ok };
        child.kill("SIGTERM");
      }
    }
    return text;
  })();
  const stderr = new Response(child.stderr).text();
  const status = await child.status;
  clearTimeout(killer);
  return {
    code: status.code,
    stderr: await stderr,
    stdout: await stdout,
    listened,
    health,
    ms: performance.now() - began,
  };
}

Deno.test({
  name: "the README's revoke of temporary tables leaves serve's role unable to make them, and " +
    "serve answering (before: the reader could turn read only off and make them)",
  ignore: base === undefined,
  ...shared,
  async fn() {
    const { url, admin } = await scratch();
    const role = roleName();
    const database = new URL(url).pathname.slice(1);
    try {
      const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
      const revoke = /```text\n(revoke temporary on database fleettickets[^`]*)```/.exec(readme)
        ?.[1];
      assert.ok(revoke, "the README's revoke");
      const statements = revoke.replaceAll("fleettickets", database)
        .replace("<the role ingest runs as>", "postgres").split(";").map((t) => t.trim())
        .filter(Boolean);
      await withRole(admin, role, [...await readmeGrants(role), ...statements], async () => {
        const reader = postgres(asRole(url, role), { max: 1, onnotice: () => {} });
        try {
          await reader.unsafe(`set default_transaction_read_only = off`);
          await assert.rejects(
            reader.unsafe(`create temp table filler (x text)`),
            /permission denied to create temporary tables/,
          );
        } finally {
          await reader.end();
        }
        const served = await runServe(asRole(url, role));
        assert.ok(served.listened, served.stdout + served.stderr);
        assert.deepEqual(served.health, { status: 200, ok: true });
      });
    } finally {
      await admin.unsafe(`grant temporary on database ${database} to public`).catch(() => {});
      await admin.end();
    }
  },
});

Deno.test({
  name: "serve as the README's role without select on tickets.closure_events exits 2 at start, " +
    "naming the grant; with it, it starts",
  ignore: base === undefined,
  ...shared,
  async fn() {
    const { url, admin } = await scratch();
    const role = roleName();
    try {
      await withRole(admin, role, await readmeGrants(role), async () => {
        const full = await runServe(asRole(url, role));
        assert.ok(full.listened, full.stdout + full.stderr);
        assert.deepEqual(full.health, { status: 200, ok: true });
        assert.equal(full.code, 0, full.stderr);

        await admin.unsafe(`revoke select on tickets.closure_events from ${role}`);
        const refused = await runServe(asRole(url, role));
        assert.equal(refused.code, 2, refused.stdout + refused.stderr);
        assert.equal(refused.listened, false);
        assert.ok(refused.ms < 30_000, `exited after ${refused.ms} ms`);
        assert.equal(
          refused.stderr,
          `Cannot serve: the database role "${role}" lacks 1 privilege the read API needs; ` +
            `as the schema owner run: grant select on tickets.closure_events to ${role}\n`,
        );
        assert.ok(!(refused.stdout + refused.stderr).includes(PASSWORD));
      });
    } finally {
      await admin.end();
    }
  },
});

Deno.test({
  name: "serve with the smallest statement timeout (SERVE_STATEMENT_TIMEOUT=0.1) starts as the " +
    "README's role: its start-up check of the grants is no request",
  ignore: base === undefined,
  ...shared,
  async fn() {
    const { url, admin } = await scratch();
    const role = roleName();
    try {
      await withRole(admin, role, await readmeGrants(role), async () => {
        // Before: "Cannot run serve: canceling statement due to statement timeout" (2 of 3 on a
        // busy machine here: a new connection's first look at the catalogs took over 0.1 s).
        const served = await runServe(asRole(url, role), 60_000, {
          SERVE_STATEMENT_TIMEOUT: "0.1",
        });
        assert.ok(served.listened, served.stdout + served.stderr);
        assert.equal(served.code, 0, served.stderr);
        // The same check on a pool whose every statement may take 30 ms (serve's pool as opened
        // for requests): it still runs to its answer (before: canceled, every time; it takes
        // 50-130 ms here).
        const pool = createPostgresDatabase(asRole(url, role), {
          max: 1,
          prepare: true,
          readOnlyTimeoutMs: 30,
        });
        try {
          await refuseMissingGrants(pool);
          await assert.rejects(pool.query(`select pg_sleep(0.05)`), /statement timeout/);
        } finally {
          await pool.close();
        }
      });
    } finally {
      await admin.end();
    }
  },
});

Deno.test({
  name: "serve as a role that may not read the migration ledgers exits 2, naming the grant",
  ignore: base === undefined,
  ...shared,
  async fn() {
    const { url, admin } = await scratch();
    const role = roleName();
    try {
      const statements = [
        ...(await readmeGrants(role)),
        `revoke select on tickets.schema_migrations from ${role}`,
      ];
      await withRole(admin, role, statements, async () => {
        const refused = await runServe(asRole(url, role));
        assert.equal(refused.code, 2, refused.stdout + refused.stderr);
        assert.ok(refused.ms < 30_000, `exited after ${refused.ms} ms`);
        assert.equal(
          refused.stderr,
          `Cannot check that the database's schema is this version's: the database role ` +
            `"${role}" lacks 1 privilege the check needs; as the schema owner run: ` +
            `grant select on tickets.schema_migrations to ${role}\n`,
        );
        assert.ok(!(refused.stdout + refused.stderr).includes(PASSWORD));
      });
    } finally {
      await admin.end();
    }
  },
});

Deno.test({
  name: "ingest as a role with no grants is told to use the role that ran migrate first, then " +
    "the grants (before: only the grants, as for serve's read-only role)",
  ignore: base === undefined,
  ...shared,
  async fn() {
    const { url, admin } = await scratch();
    const role = roleName();
    try {
      const database = new URL(url).pathname.slice(1);
      await withRole(admin, role, [
        `create role ${role} login password '${PASSWORD}'`,
        `grant connect on database ${database} to ${role}`,
      ], async () => {
        const dir = await scratchDir("grants");
        await Deno.mkdir(`${dir}/automations/inc/changes`, { recursive: true });
        const r = await cli(["ingest", "--from-dir", dir, "--apply"], {
          DATABASE_URL: asRole(url, role),
        });
        assert.equal(r.code, 2, r.stdout + r.stderr);
        assert.match(
          r.stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line))
            .find((l) => l.event === "run")?.error ?? r.stdout + r.stderr,
          new RegExp(
            `Cannot check that the database's schema is this version's: the database role ` +
              `"${role}" lacks 3 privileges the check needs; use the role that ran migrate ` +
              `\\("postgres"\\) in DATABASE_URL, or as the schema owner run: grant usage on ` +
              `schema tickets to ${role};`,
          ),
        );
        assert.ok(!(r.stdout + r.stderr).includes(PASSWORD));
      });
    } finally {
      await admin.end();
    }
  },
});

Deno.test({
  name: 'doctor as a role that may not read the schema names the grants it lacks, not "restore ' +
    'the released migration files", and checks nothing it cannot read',
  ignore: base === undefined,
  ...shared,
  async fn() {
    const { url, admin } = await scratch();
    const role = roleName();
    try {
      const database = new URL(url).pathname.slice(1);
      await withRole(admin, role, [
        `create role ${role} login password '${PASSWORD}'`,
        `grant connect on database ${database} to ${role}`,
      ], async () => {
        const r = await cli(["doctor"], { DATABASE_URL: asRole(url, role) });
        assert.equal(r.code, 1, r.stdout + r.stderr);
        // Before: "permission denied for schema tickets → restore the released migration
        // files", then "no change file applied yet" and "tickets.eat_ts() is not installed yet".
        assert.match(
          r.stdout,
          new RegExp(
            `^fail +migrations +not checked: the database role "${role}" lacks 3 privileges to ` +
              `read the schema's ledgers; use the role that ran migrate \\("postgres"\\) in ` +
              `DATABASE_URL, or as the schema owner run: grant usage on schema ` +
              `tickets to ${role}; grant select on tickets\\.schema_migrations to ${role}; ` +
              `grant select on tickets\\.schema_definitions to ${role}$`,
            "m",
          ),
        );
        assert.match(
          r.stdout,
          /^warn +clock +not checked: the role may not read tickets\.import_meta$/m,
        );
        assert.match(
          r.stdout,
          /^warn +EAT +not checked: the role may not read the schema tickets/m,
        );
        assert.doesNotMatch(r.stdout, /restore the released|not installed yet|no change file/);
        assert.ok(!(r.stdout + r.stderr).includes(PASSWORD));
      });
    } finally {
      await admin.end();
    }
  },
});

Deno.test({
  name: "status as the README's read-only role names the grants the run record needs (exit 2), " +
    "not the server's bare permission denied",
  ignore: base === undefined,
  ...shared,
  async fn() {
    const { url, admin } = await scratch();
    const role = roleName();
    try {
      await withRole(admin, role, await readmeGrants(role), async () => {
        const r = await cli(["status"], { DATABASE_URL: asRole(url, role) });
        assert.equal(r.code, 2, r.stdout + r.stderr);
        // Before: "Cannot run status: permission denied for table runs" (exit 1).
        assert.match(
          r.stderr,
          new RegExp(
            `Cannot read the status of PostgreSQL at [^ ]+ \\(database "[^"]+"\\): the ` +
              `database role "${role}" lacks 3 privileges status needs; run status as the role ` +
              `ingest runs as \\(status checks that it can write, so a role granted only these ` +
              `reads is reported unable to run ingest\\), or as the schema owner run: grant ` +
              `select on tickets\\.runs to ${role}; grant select on tickets\\.applied_files to ` +
              `${role}; grant select on tickets\\.quarantine to ${role}\\n$`,
          ),
        );
        const json = await cli(["status", "--json"], { DATABASE_URL: asRole(url, role) });
        assert.equal(json.code, 2);
        assert.match(JSON.parse(json.stdout).error, /^Cannot read the status of PostgreSQL at /);
        assert.ok(!(r.stdout + r.stderr + json.stdout).includes(PASSWORD));
      });
    } finally {
      await admin.end();
    }
  },
});

Deno.test({
  name: "doctor as the README's read-only role fails writes (ingest --apply could not write), " +
    "where it passed every check",
  ignore: base === undefined,
  ...shared,
  async fn() {
    const { url, admin } = await scratch();
    const role = roleName();
    try {
      await withRole(admin, role, await readmeGrants(role), async () => {
        const r = await cli(["doctor"], { DATABASE_URL: asRole(url, role) });
        // Before: "All checks passed" (exit 0), and every applying run then failed.
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(
          r.stdout,
          new RegExp(
            `^fail +writes +the database role "${role}" starts every session read only ` +
              `\\(default_transaction_read_only = on\\): ingest --apply cannot write$`,
            "m",
          ),
        );
        await admin.unsafe(`alter role ${role} reset default_transaction_read_only`);
        const granted = await cli(["doctor"], { DATABASE_URL: asRole(url, role) });
        assert.match(
          granted.stdout,
          new RegExp(
            `^fail +writes +the database role "${role}" cannot write what ingest --apply ` +
              `writes: tickets\\.inc \\(insert, update\\), tickets\\.crq \\(insert, update\\), ` +
              `tickets\\.applied_files \\(insert, update\\), tickets\\.import_meta \\(insert, ` +
              `update\\), tickets\\.quarantine \\(insert, update, delete\\), tickets\\.runs ` +
              `\\(insert, update\\), tickets\\.closure_events \\(insert\\), ` +
              `tickets\\.inc_daily_snapshot \\(insert, update\\)$`,
            "m",
          ),
        );
      });
      const owner = await cli(["doctor"], { DATABASE_URL: url });
      assert.match(owner.stdout, /^ok +writes +the database role "[^"]+" can write the tickets/m);
    } finally {
      await admin.end();
    }
  },
});

cleanUpScratchDirsAtEnd();
removeTestDataAtEnd();
