// TLS to PostgreSQL, against the test cluster, which offers it under a CA of its own
// (scripts/pg_test_cluster.sh; .ci/run sets TEST_PG_CA to that CA's certificate): encryption
// asked for in the URL or by PGSSLMODE, a certificate checked against the CA sslrootcert names,
// and a certificate that cannot be checked refused as a setting to fix. Before this file, TLS was
// tested by hand only.

import assert from "node:assert/strict";
import { cleanUpScratchDirsAtEnd, cli, scratchDir } from "./_cli.ts";
import { loadConfig } from "../app/config.ts";
import { connectPostgresDatabase } from "../adapters/postgres_database.ts";

const base = Deno.env.get("TEST_DATABASE_URL");
const ca = Deno.env.get("TEST_PG_CA");
const ignore = base === undefined || ca === undefined;
const shared = { ignore, sanitizeResources: false, sanitizeOps: false };

/** The test URL with `query` added. */
const withQuery = (query: string) => `${base}${base?.includes("?") ? "&" : "?"}${query}`;

/** Whether a connection to `url` (read through loadConfig, with `env`) is encrypted. */
async function encrypted(url: string, env: Record<string, string> = {}): Promise<boolean> {
  const vars: Record<string, string> = { DATABASE_URL: url, ...env };
  const config = loadConfig((name) => vars[name]);
  const db = await connectPostgresDatabase(config.databaseUrl!, { connectTimeout: 10 });
  try {
    const [row] = await db.query<{ ssl: boolean }>(
      `select ssl from pg_stat_ssl where pid = pg_backend_pid()`,
    );
    return row!.ssl;
  } finally {
    await db.close();
  }
}

/** The CA's certificate copied into the checkout, where the worker may read it. */
async function caInCheckout(): Promise<string> {
  const path = `${await scratchDir("test-tls")}/ca.crt`;
  await Deno.copyFile(ca!, path);
  return path;
}

Deno.test({
  name: "TLS: plain without sslmode, encrypted with sslmode=require or PGSSLMODE=require " +
    "[PostgreSQL with TLS: set TEST_DATABASE_URL and TEST_PG_CA]",
  ...shared,
  fn: async () => {
    assert.equal(await encrypted(base!), false);
    assert.equal(await encrypted(withQuery("sslmode=require")), true);
    // Before: PGSSLMODE was not read, and this connection was plain (a tester's).
    assert.equal(await encrypted(base!, { PGSSLMODE: "require" }), true);
    assert.equal(await encrypted(withQuery("sslmode=disable"), { PGSSLMODE: "require" }), false);
  },
});

Deno.test({
  name: "TLS: verify-full and verify-ca check the server against the CA sslrootcert or " +
    "PGSSLROOTCERT names [PostgreSQL with TLS: set TEST_DATABASE_URL and TEST_PG_CA]",
  ...shared,
  fn: async () => {
    const cert = await caInCheckout();
    // Before: sslrootcert was not read, and no private CA could be trusted.
    assert.equal(await encrypted(withQuery(`sslmode=verify-full&sslrootcert=${cert}`)), true);
    assert.equal(await encrypted(withQuery(`sslmode=verify-ca&sslrootcert=${cert}`)), true);
    assert.equal(
      await encrypted(withQuery("sslmode=verify-full"), { PGSSLROOTCERT: cert }),
      true,
    );
    // By its name too: the certificate names 127.0.0.1 and localhost.
    assert.equal(
      await encrypted(
        withQuery(`sslmode=verify-full&sslrootcert=${cert}`).replace("127.0.0.1", "localhost"),
      ),
      true,
    );
  },
});

Deno.test({
  name: "TLS: a certificate that cannot be checked, and a CA file that cannot be read, are " +
    "settings to fix: exit 2 naming what to do [PostgreSQL with TLS: set TEST_DATABASE_URL " +
    "and TEST_PG_CA]",
  ...shared,
  fn: async () => {
    // Before: "self-signed certificate"-like words alone, exit 1 and transient (cron retried).
    const untrusted = await cli(["status"], { DATABASE_URL: withQuery("sslmode=verify-full") });
    assert.equal(untrusted.code, 2, untrusted.stdout + untrusted.stderr);
    assert.match(
      untrusted.stderr,
      /Cannot connect to PostgreSQL at 127\.0\.0\.1:\d+ \(database "[^"]+"\): unable to verify the first certificate; its certificate is not trusted: name its CA's certificate with sslrootcert=<a file inside this checkout> in DATABASE_URL \(or PGSSLROOTCERT\), or use sslmode=require to encrypt without checking the certificate/,
    );

    const outside = await cli(["status"], {
      DATABASE_URL: withQuery(`sslmode=verify-full&sslrootcert=${ca}`),
    });
    assert.equal(outside.code, 2, outside.stdout + outside.stderr);
    assert.match(
      outside.stderr,
      /Cannot read the CA certificate sslrootcert ".*": fleettickets may read files inside this checkout .*; copy it there \(such as \.data\/ca\.crt\) and name that/,
    );

    // A name the certificate does not list (127.1 is 127.0.0.1 by another name): the fix is the
    // name, not the CA (before: "name its CA's certificate", which was named: a tester's).
    const cert = await caInCheckout();
    const wrongName = await cli(["status"], {
      DATABASE_URL: withQuery(`sslmode=verify-full&sslrootcert=${cert}`).replace(
        "127.0.0.1",
        "127.1",
      ),
    });
    assert.equal(wrongName.code, 2, wrongName.stdout + wrongName.stderr);
    assert.match(
      wrongName.stderr,
      /; the certificate does not name this host: connect by a name it lists \(DATABASE_URL's host\), or use sslmode=verify-ca to check the CA and not the name/,
    );
    // Another CA's certificates (the system's): not the one that signed it.
    const others = `${await scratchDir("test-tls")}/other-ca.crt`;
    await Deno.copyFile("/etc/ssl/certs/ca-certificates.crt", others);
    const wrongCa = await cli(["status"], {
      DATABASE_URL: withQuery(`sslmode=verify-full&sslrootcert=${others}`),
    });
    assert.equal(wrongCa.code, 2, wrongCa.stdout + wrongCa.stderr);
    assert.match(
      wrongCa.stderr,
      /its certificate is not signed by the CA in sslrootcert ".*other-ca\.crt": name the CA that signed it/,
    );
    // A folder, or nothing: settings to fix too (before: exit 1, transient).
    for (const [value, why] of [[".data", "is a directory"], ["", "it names no file"]]) {
      const r = await cli(["status"], {
        DATABASE_URL: withQuery(`sslmode=verify-full&sslrootcert=${value}`),
      });
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`Cannot read the CA certificate sslrootcert "${value}": ${why}`),
      );
    }

    const noMode = await cli(["status"], {
      DATABASE_URL: withQuery(`sslrootcert=${await caInCheckout()}`),
    });
    assert.equal(noMode.code, 2, noMode.stdout + noMode.stderr);
    assert.match(
      noMode.stderr,
      /Cannot read DATABASE_URL: sslrootcert ".*" \(or PGSSLROOTCERT\) checks the server's certificate only with sslmode=verify-full \(or verify-ca\), not without an sslmode; set sslmode=verify-full/,
    );
  },
});

cleanUpScratchDirsAtEnd();
