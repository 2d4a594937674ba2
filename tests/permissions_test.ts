// Paths a `deno task` user names: the documented ones work, the others are refused up front with
// the flag or variable, what is allowed and how to change it; never a raw `--allow-*` hint.

import assert from "node:assert/strict";
import { cleanUpScratchDirsAtEnd, cli, scratchDir } from "./_cli.ts";
import { copyMigratedPglite } from "./_pglite_cache.ts";

Deno.test({
  name:
    "permissions: `gazetteer export review.csv` (the README's example) writes under .data/ and says where",
  sanitizeResources: false,
  fn: async () => {
    const dir = await scratchDir("test-permissions");
    const env = { PGLITE_DIR: `${dir}/pglite` };
    const name = `${dir.slice(".data/".length)}/review.csv`;
    // The sheet comes from a database: gazetteer makes none (only ingest --apply and migrate do).
    await copyMigratedPglite(env.PGLITE_DIR);
    const r = await cli(["gazetteer", "export", name], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Wrote 0 gazetteer entries to .data/${name}\n`);
    assert.match(await Deno.readTextFile(`.data/${name}`), /^kind,cluster,place,/);
    // The README's round trip: import takes the same name back (found under .data/).
    const back = await cli(["gazetteer", "import", name], env);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    assert.match(back.stdout, /^Imported .*review\.csv: 0 changed, 0 unchanged, 0 new; 0 tickets/);

    const outside = await cli(["gazetteer", "export", "/tmp/review.csv"], env);
    assert.equal(outside.code, 2);
    assert.match(
      outside.stderr,
      /^Cannot write "\/tmp\/review.csv": fleettickets may write only under \.\/\.data .*relative name/,
    );
    const unreadable = await cli(["gazetteer", "import", "/etc/hostname"], env);
    assert.equal(unreadable.code, 2);
    assert.match(
      unreadable.stderr,
      /^Cannot read the gazetteer sheet "\/etc\/hostname": fleettickets may read files inside this checkout/,
    );
    for (const r of [outside, unreadable]) assert.doesNotMatch(r.stdout + r.stderr, /--allow-/);
  },
});

Deno.test("permissions: PGLITE_DIR outside .data is refused up front, naming the variable (exit 2)", async () => {
  for (const dir of ["/tmp/fleettickets-pglite", ".data"]) {
    const r = await cli(["status"], { PGLITE_DIR: dir });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`^Cannot open the embedded database "${dir}": PGLITE_DIR must name a folder`),
    );
    assert.match(r.stderr, /set PGLITE_DIR=\.data\/<name>, or set DATABASE_URL/);
    assert.doesNotMatch(r.stderr, /--allow-/);
  }
});

Deno.test({
  name:
    "permissions: an HTTPS S3 endpoint is reached under the worker set (TLS needs sys and NODE_USE_SYSTEM_CA)",
  sanitizeResources: false,
  fn: async () => {
    // A closed port: the request must get as far as connecting, not stop at a permission.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    const dataDir = `${await scratchDir("test-permissions")}/pglite`;
    await copyMigratedPglite(dataDir);
    const r = await cli(["ingest", "--from-bucket", "--dataset", "inc"], {
      PGLITE_DIR: dataDir,
      RUSTFS_ENDPOINT: `https://127.0.0.1:${port}`,
      RUSTFS_ACCESS_KEY: "ak",
      RUSTFS_SECRET_KEY: "sk-not-shown",
      TICKETS_BUCKET: "tickets",
      // Set in many containers and corporate setups: the TLS stack then asks for sys "ca".
      NODE_EXTRA_CA_CERTS: "/etc/ssl/certs/ca-certificates.crt",
    });
    const text = r.stdout + r.stderr;
    assert.doesNotMatch(text, /NotCapable|Cannot sys|may use sys only/);
    assert.match(text, /ECONNREFUSED|refused/);
    assert.ok(!text.includes("sk-not-shown"));
  },
});

Deno.test({
  name: "permissions: a `deno task` on a terminal never stops at a permission prompt: the AWS " +
    "SDK's read of ~/.aws is refused, not asked (every task runs with --no-prompt)",
  sanitizeResources: false,
  fn: async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port;
    listener.close();
    const home = await Deno.makeTempDir();
    try {
      // `script` gives the command a pseudo-terminal, as a user's shell has (cron and the other
      // tests have none, so Deno would refuse without asking there anyway).
      const output = await new Deno.Command("script", {
        args: ["-qec", "deno task -q ingest --from-bucket --dataset inc", "/dev/null"],
        clearEnv: true,
        env: {
          PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
          HOME: home,
          PGLITE_DIR: `${await scratchDir("test-permissions")}/pglite`,
          RUSTFS_ENDPOINT: `http://127.0.0.1:${port}`,
          RUSTFS_ACCESS_KEY: "ak",
          RUSTFS_SECRET_KEY: "sk-not-shown",
          TICKETS_BUCKET: "tickets",
        },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        // A prompt waits for an answer that never comes: the test fails instead of hanging. The
        // run boots an embedded database first (~17 s alone, over 60 s on a loaded 2-core CI).
        signal: AbortSignal.timeout(180_000),
      }).output();
      const text = new TextDecoder().decode(output.stdout) +
        new TextDecoder().decode(output.stderr);
      assert.doesNotMatch(text, /Allow\?|Requested by/);
      assert.equal(output.code, 1, text);
      assert.match(text, /ECONNREFUSED|refused/);
      assert.ok(!text.includes("sk-not-shown"));
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});

cleanUpScratchDirsAtEnd();
