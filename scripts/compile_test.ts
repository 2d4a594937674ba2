import assert from "node:assert/strict";
import {
  compileArgs,
  configuredHosts,
  type PermissionSet,
  unloadedHostSettings,
} from "./compile.ts";

const worker: PermissionSet = JSON.parse(await Deno.readTextFile("deno.json")).permissions.worker;

Deno.test("compile narrows network access to the configured database, S3 endpoint and geocoder", () => {
  const hosts = configuredHosts({
    DATABASE_URL: "postgres://fleet:secret@db.internal:6432/tickets",
    RUSTFS_ENDPOINT: "https://s3.example.co.ke",
    GEOCODER_PROVIDER: "locationiq",
  });
  assert.deepEqual(hosts, ["db.internal:6432", "s3.example.co.ke:443", "us1.locationiq.com:443"]);
  const args = compileArgs(worker, hosts);
  assert.ok(
    args.includes(
      "--allow-net=db.internal:6432,s3.example.co.ke:443,us1.locationiq.com:443,127.0.0.1,localhost,0.0.0.0",
    ),
    "the configured hosts, and where serve may listen",
  );
  assert.ok(!args.includes("--allow-net") && !args.includes("-A") && !args.includes("--allow-all"));
  assert.ok(args.includes(`--allow-env=${worker.env!.join(",")}`), "env: exactly the set's list");
  assert.ok(args.includes("--allow-write=./.data"));
  assert.ok(!args.join(" ").includes("secret"), "no credential reaches the command line");
});

Deno.test("compile reads every host of a multi-host DATABASE_URL and never shows its password", () => {
  const hosts = configuredHosts({
    DATABASE_URL:
      "postgres://u:TopSecretPw1@h1:5432,h2:5433,[::1]/x?target_session_attrs=read-write",
    RUSTFS_ENDPOINT: "http://127.0.0.1:9000",
  });
  assert.deepEqual(hosts, [
    "127.0.0.1:9000",
    "[::1]:5432", // before "::1:5432", which deno compile refuses
    "h1:5432",
    "h2:5433",
    "us1.locationiq.com:443",
  ]);
  for (
    const env of [{ DATABASE_URL: "mysql://u:TopSecretPw1@h/x" }, { RUSTFS_ENDPOINT: "s3 host" }]
  ) {
    assert.throws(() => configuredHosts(env), (error: Error) => {
      assert.match(error.message, /^Cannot read (DATABASE_URL|RUSTFS_ENDPOINT): /);
      assert.ok(!error.message.includes("TopSecretPw1"));
      return true;
    });
  }
});

Deno.test("compile without DATABASE_URL (embedded PGlite) or S3 endpoint allows only AWS S3 and the geocoder", () => {
  assert.deepEqual(configuredHosts({ AWS_REGION: "af-south-1" }), [
    "s3.af-south-1.amazonaws.com:443",
    "us1.locationiq.com:443",
  ]);
});

Deno.test("compile allows the geocoder the configuration would use: locationiq when GEOCODER_PROVIDER is unset, a provider in any case, GEOCODER_BASE_URL alone", () => {
  const geocoder = (env: Record<string, string>) =>
    configuredHosts({ RUSTFS_ENDPOINT: "http://127.0.0.1:9000", ...env }).filter((h) =>
      h !== "127.0.0.1:9000"
    );
  // Before: unset gave no geocoder host, and the binary's geocode runs were all refused.
  assert.deepEqual(geocoder({}), ["us1.locationiq.com:443"]);
  assert.deepEqual(geocoder({ GEOCODER_PROVIDER: "Nominatim" }), [
    "nominatim.openstreetmap.org:443",
  ]);
  assert.deepEqual(geocoder({ GEOCODER_BASE_URL: "http://geo.internal:8080" }), [
    "geo.internal:8080",
  ]);
});

Deno.test("compile refuses a geocoder provider the worker would refuse, instead of building with unrestricted network", () => {
  // Before: it printed a warning and built with --allow-net (every host).
  for (const provider of ["mystery", "constructor", "__proto__"]) {
    for (const env of [{}, { GEOCODER_BASE_URL: "https://geo.example" }]) {
      assert.throws(
        () => configuredHosts({ ...env, GEOCODER_PROVIDER: provider }),
        (error: Error) => {
          assert.equal(
            error.message,
            `Cannot read GEOCODER_PROVIDER "${provider}": expected locationiq, opencage or nominatim`,
          );
          return true;
        },
      );
    }
  }
  // Read as the worker reads it: trimmed, blank as unset (before: " opencage" was refused).
  const hosts = (env: Record<string, string>) =>
    configuredHosts({ RUSTFS_ENDPOINT: " http://127.0.0.1:9000 ", ...env });
  assert.deepEqual(hosts({ GEOCODER_PROVIDER: " opencage " }), [
    "127.0.0.1:9000",
    "api.opencagedata.com:443",
  ]);
  assert.deepEqual(hosts({ GEOCODER_PROVIDER: " ", GEOCODER_BASE_URL: " " }), [
    "127.0.0.1:9000",
    "us1.locationiq.com:443",
  ]);
});

Deno.test({
  name:
    "the binary's flags, run with deno run, drain into PostgreSQL, serve, and reach no other host",
  ignore: Deno.env.get("TEST_DATABASE_URL") === undefined,
  sanitizeResources: false,
  fn: async () => {
    const { createScratchDatabase, dropScratchDatabase, makeDirBucket } = await import(
      "../tests/_harness.ts"
    );
    const { generateStream } = await import("../demo/generate_stream.ts");
    const url = await createScratchDatabase(Deno.env.get("TEST_DATABASE_URL")!);
    const bucket = await makeDirBucket(generateStream({ tickets: 50, deltas: 1, seed: 5 }).files);
    try {
      const flags = compileArgs(worker, configuredHosts({ DATABASE_URL: url }))
        .filter((a) => a.startsWith("--allow-"));
      // The folder bucket is a temporary folder outside the checkout: allow it too.
      for (const kind of ["read", "write"]) {
        const i = flags.findIndex((a) => a.startsWith(`--allow-${kind}=`));
        flags[i] = `${flags[i]},${bucket}`;
      }
      const run = async (args: string[], env: Record<string, string>) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "--no-prompt", ...flags, "main.ts", ...args],
          env,
          clearEnv: true,
        }).output();
        return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
      };
      assert.equal((await run(["migrate"], { DATABASE_URL: url })).code, 0);
      const ok = await run(["ingest", "--from-dir", bucket, "--apply", "--json"], {
        DATABASE_URL: url,
        FOLDER_SETTLE_SECONDS: "0", // its files were written whole a moment ago
      });
      assert.equal(ok.code, 0, ok.stderr);
      // serve listens (loopback here; 0.0.0.0 is allowed too) and answers.
      const serve = new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-prompt", ...flags, "main.ts", "serve", "--port", "0"],
        env: { DATABASE_URL: url },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      try {
        const lines = serve.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let head = "";
        while (!/"url":"[^"]+"/.test(head)) {
          const { value, done } = await lines.read();
          if (done) throw new Error(`serve ended: ${await new Response(serve.stderr).text()}`);
          head += value;
        }
        const base = /"url":"([^"]+)"/.exec(head)![1]!.replace(/\/$/, "");
        const health = await fetch(`${base}/api/health`);
        assert.equal(health.status, 200);
        await health.body?.cancel();
        lines.releaseLock();
      } finally {
        serve.kill("SIGTERM");
        await serve.status;
        await serve.stdout.cancel().catch(() => {});
        await serve.stderr.cancel().catch(() => {});
      }
      const elsewhere = new URL(url);
      elsewhere.hostname = "127.0.0.2"; // not in the list: refused by the permission, not by TCP
      const refused = await run(["status"], { DATABASE_URL: elsewhere.toString() });
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.stderr,
        /Cannot connect to "127\.0\.0\.2:\d+": fleettickets may connect only to the configured hosts/,
      );
      // A host name outside the list: Deno refuses its lookup with a bare EPERM (before: "…: EPERM",
      // retried as transient).
      elsewhere.hostname = "db2.internal";
      const named = await run(["status"], { DATABASE_URL: elsewhere.toString() });
      assert.notEqual(named.code, 0);
      assert.match(
        named.stderr,
        /Cannot connect to "db2\.internal:\d+": fleettickets may connect only to the configured hosts .*build it again with this configuration loaded/,
      );
      assert.doesNotMatch(named.stderr, /: EPERM$/m);
    } finally {
      await Deno.remove(bucket, { recursive: true });
      await dropScratchDatabase(url);
    }
  },
});

Deno.test("compile keeps an IPv6 host in brackets, the form --allow-net takes", () => {
  const hosts = configuredHosts({
    DATABASE_URL: "postgres://u:pw@[fd00::5]:5433/tickets",
    RUSTFS_ENDPOINT: "http://[fd00::9]:9000",
  });
  // Before: "fd00::5:5433", and deno compile stopped ("ipv6 addresses must be enclosed in square
  // brackets").
  assert.deepEqual(hosts, ["[fd00::5]:5433", "[fd00::9]:9000", "us1.locationiq.com:443"]);
});

Deno.test("compile refuses to build while .env sets a host setting the environment lacks", () => {
  const dotEnv = "\uFEFF# prod\nDATABASE_URL='postgres://u:pw@db2.internal/fleet'\n" +
    "export RUSTFS_ENDPOINT=http://rustfs:9000\nGEOCODER_BASE_URL=\nSERVE_TOKEN=x\n";
  // Before: built in silence for the hosts of whatever the shell held; the binary then failed
  // with "EPERM" at db2.internal.
  assert.deepEqual(unloadedHostSettings(dotEnv, {}), ["DATABASE_URL", "RUSTFS_ENDPOINT"]);
  assert.deepEqual(
    unloadedHostSettings(dotEnv, {
      DATABASE_URL: "postgres://u:pw@db2.internal/fleet",
      RUSTFS_ENDPOINT: "http://rustfs:9000",
    }),
    [],
  );
});

Deno.test("the binary carries what it reads at run time: the demo's gazetteer and the embedded database's PostGIS", () => {
  const args = compileArgs(worker, []);
  const included = args.flatMap((arg, i) => args[i - 1] === "--include" ? [arg] : []);
  assert.deepEqual(included, [
    "migrations",
    "definitions",
    "web",
    "demo/gazetteer.csv",
    "vendor/pglite-postgis/postgis.tar.gz",
  ]);
});

Deno.test("under the binary's flags, serve listens on localhost, and an address outside them is refused naming the ones it may use (exit 2)", async () => {
  const flags = compileArgs(worker, configuredHosts({})).filter((a) => a.startsWith("--allow-"));
  const serve = async (host: string, port: number) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        ...flags,
        "main.ts",
        "serve",
        "--host",
        host,
        "--port",
        `${port}`,
      ],
      // A folder that does not exist: the listen check comes before the database would open.
      env: { PGLITE_DIR: ".data/no-such-db" },
      clearEnv: true,
    }).output();
    return { code: out.code, stderr: new TextDecoder().decode(out.stderr).trim() };
  };
  const outside = await serve("10.0.0.7", 18499);
  assert.equal(outside.code, 2);
  // Before: `Cannot connect to "10.0.0.7:18499": fleettickets may connect only to the configured
  // hosts`, the words of a connection, not of an address to listen on.
  assert.equal(
    outside.stderr,
    `Cannot listen on 10.0.0.7:18499: the permissions this fleettickets runs with do not ` +
      `include that address (a binary from deno task compile may listen on 127.0.0.1, localhost ` +
      `and 0.0.0.0 only); choose one of those with --host`,
  );
  // localhost is allowed (before: refused as above): where it is 127.0.0.1, the port in use
  // answers; where it is ::1, serve goes on to the database, which is not there.
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const local = await serve("localhost", (taken.addr as Deno.NetAddr).port);
    assert.equal(local.code, 2);
    assert.match(
      local.stderr,
      /^(Cannot listen on localhost:\d+: the port is in use|Cannot open the embedded database)/,
    );
  } finally {
    taken.close();
  }
});
