import assert from "node:assert/strict";
import {
  type Config,
  ConfigError,
  configSecrets,
  ENV_NAMES,
  loadConfig,
  sameDir,
} from "./config.ts";

/** loadConfig() over exactly these variables. */
function load(vars: Record<string, string> = {}): Config {
  return loadConfig((name) => vars[name]);
}

/** The ConfigError loadConfig() throws for these variables. */
function configError(vars: Record<string, string>): ConfigError {
  try {
    load(vars);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    return error;
  }
  assert.fail(`loadConfig(${JSON.stringify(vars)}) did not throw`);
}

Deno.test("loadConfig() with nothing set uses PGlite in .data/pglite, bucket isptickets and LocationIQ", () => {
  assert.deepEqual(load(), {
    databaseUrl: undefined,
    connectTimeoutS: undefined,
    stallAfterS: undefined,
    pgliteDir: ".data/pglite",
    folderSettleMs: 10_000,
    s3: {
      endpoint: undefined,
      endpointVariable: "RUSTFS_ENDPOINT",
      region: "us-east-1",
      accessKeyId: undefined,
      secretAccessKey: undefined,
      bucket: "isptickets",
    },
    geocoder: {
      provider: "locationiq",
      apiKey: undefined,
      baseUrl: undefined,
      rate: undefined,
      budget: undefined,
    },
    serve: {
      corsOrigins: [],
      token: undefined,
      statementTimeoutMs: 5000,
      versionTtlMs: 1000,
      tilesUrl: undefined,
      pmtiles: undefined,
      staleAfterHours: 2,
    },
  });
});

Deno.test("loadConfig() reads the serve settings and refuses what is not an origin", () => {
  const serve = load({
    DASHBOARD_CORS_ORIGINS: "https://ops.example.com, http://localhost:5173",
    SERVE_TOKEN: "t0ken-value-4f9c2e81",
    SERVE_STATEMENT_TIMEOUT: "2.5",
    MAP_PMTILES: ".data/nairobi.pmtiles",
    STALE_AFTER_HOURS: "6",
  }).serve;
  assert.deepEqual(serve.corsOrigins, ["https://ops.example.com", "http://localhost:5173"]);
  assert.equal(serve.statementTimeoutMs, 2500);
  assert.equal(serve.staleAfterHours, 6);
  assert.ok(
    configSecrets(load({ SERVE_TOKEN: "t0ken-value-4f9c2e81" })).includes("t0ken-value-4f9c2e81"),
    "the token is redacted like every secret",
  );
  // "null" (sandboxed frames, file: pages) was accepted between 0a62d81 and its fix.
  for (const origin of ["*", "https://ops.example.com/", "ops.example.com", "null", "file:///x"]) {
    assert.match(configError({ DASHBOARD_CORS_ORIGINS: origin }).message, /DASHBOARD_CORS_ORIGINS/);
  }
  // What the browser would send, where the setting is nearly an origin (before: not said).
  for (
    const origin of [
      "https://ops.example.com/",
      "https://OPS.example.com",
      "https://ops.example.com:443",
    ]
  ) {
    assert.equal(
      configError({ DASHBOARD_CORS_ORIGINS: origin }).message,
      `Cannot read DASHBOARD_CORS_ORIGINS: "${origin}" is not an origin such as ` +
        `"https://ops.example.com"; a browser sends "https://ops.example.com" (no path, lower ` +
        `case, no default port)`,
    );
  }
  assert.match(configError({ MAP_PMTILES: "tiles.mbtiles" }).message, /MAP_PMTILES/);
  assert.match(configError({ SERVE_STATEMENT_TIMEOUT: "-1" }).message, /SERVE_STATEMENT_TIMEOUT/);
});

Deno.test("loadConfig() refuses a statement timeout that would cancel serve's own start (or hold for hours)", () => {
  assert.equal(load({ SERVE_STATEMENT_TIMEOUT: "0.1" }).serve.statementTimeoutMs, 100);
  assert.equal(load({ SERVE_STATEMENT_TIMEOUT: "3600" }).serve.statementTimeoutMs, 3_600_000);
  for (const bad of ["0.001", "0.05", "0", "3601", "1e9", "soon"]) {
    assert.match(
      configError({ SERVE_STATEMENT_TIMEOUT: bad }).message,
      /^Cannot read SERVE_STATEMENT_TIMEOUT ".*": expected seconds from 0\.1 to 3600 in decimal digits$/,
    );
  }
});

Deno.test("loadConfig() refuses a SERVE_TOKEN no client could send as a bearer token, without showing it", () => {
  for (const ok of ["t0ken-value-4f9c2e81", "a.b_c~d+e/f-g-h-i-j==", "4f9c2e".repeat(10)]) {
    assert.equal(load({ SERVE_TOKEN: ok }).serve.token, ok);
  }
  for (
    const bad of [
      "Tok!en#2024-4f9c2e81",
      "two words 4f9c2e81aa",
      "tok=en-4f9c2e81aaaa",
      "caf\u00e9-4f9c2e81aaaa",
    ]
  ) {
    const message = configError({ SERVE_TOKEN: bad }).message;
    assert.match(message, /^Cannot use SERVE_TOKEN: a bearer token may hold only letters/);
    assert.ok(!message.includes(bad), "the token is not shown");
  }
  for (const short of ["abc", "t0ken-value"]) {
    const message = configError({ SERVE_TOKEN: short }).message;
    assert.equal(
      message,
      `Cannot use SERVE_TOKEN: it has ${short.length} characters, at least 16 are needed; make one with "openssl rand -hex 32"`,
    );
  }
});

Deno.test("loadConfig() reads SERVE_VERSION_TTL in seconds, 0 to 60, 0 turning the memory off", () => {
  assert.equal(load({ SERVE_VERSION_TTL: "0.25" }).serve.versionTtlMs, 250);
  assert.equal(load({ SERVE_VERSION_TTL: "0" }).serve.versionTtlMs, 0);
  for (const bad of ["-1", "61", "soon"]) {
    assert.match(configError({ SERVE_VERSION_TTL: bad }).message, /SERVE_VERSION_TTL/);
  }
});

Deno.test("loadConfig() reads DATABASE_URL as postgres:// or postgresql://", () => {
  const url = "postgres://tickets:s3cret@db.internal:5432/fleet";
  assert.equal(load({ DATABASE_URL: url }).databaseUrl, url);
  assert.equal(
    load({ DATABASE_URL: "postgresql://tickets@localhost/fleet" }).databaseUrl,
    "postgresql://tickets@localhost/fleet",
  );
  for (const ok of ["postgres://a:b@h1:5432,h2:5433/db", "postgres://a@[::1]:5432/db"]) {
    assert.equal(load({ DATABASE_URL: ok }).databaseUrl, ok);
  }
});

Deno.test("loadConfig() refuses a DATABASE_URL with no host or a Unix socket, saying to connect over TCP", () => {
  for (
    const url of [
      "postgresql://fleet:s3cretPW@/fleet",
      "postgres://fleet:s3cretPW@:5432/fleet",
      "postgres://fleet:s3cretPW@h1:5432,/fleet",
    ]
  ) {
    const message = configError({ DATABASE_URL: url }).message;
    assert.equal(
      message,
      'Cannot read DATABASE_URL: it names no host (expected "postgres://user:password@host:port/db"); fleettickets connects over TCP, not a Unix socket: for a server on this machine use 127.0.0.1',
    );
  }
  for (
    const url of [
      "postgresql://fleet:s3cretPW@localhost/fleet?host=/var/run/postgresql",
      "postgresql://fleet:s3cretPW@/fleet?sslmode=disable&host=%2Fvar%2Frun%2Fpostgresql",
    ]
  ) {
    const message = configError({ DATABASE_URL: url }).message;
    assert.equal(
      message,
      'Cannot read DATABASE_URL: "host" in its query is not read (the host goes before the database: "postgres://user:password@host:port/db"); fleettickets connects over TCP, not a Unix socket: for a server on this machine use 127.0.0.1',
    );
  }
});

Deno.test('loadConfig() refuses a DATABASE_URL with a stray "%" in the password or two ports, naming the fix and no part of it', () => {
  // A tester: "Cannot run serve: URI malformed" and "Cannot run serve: Invalid URL: '…'".
  const stray = configError({ DATABASE_URL: "postgres://fleet:s3cret%zzPW@127.0.0.1:5432/db" });
  assert.equal(
    stray.message,
    'Cannot read DATABASE_URL: the user or password holds a "%" that starts no escape; write "%" as "%25" (expected "postgres://user:password@host:port/db")',
  );
  const ports = configError({ DATABASE_URL: "postgres://fleet:s3cretPW@127.0.0.1:55433:1/db" });
  assert.equal(
    ports.message,
    'Cannot read DATABASE_URL: a host has more than one port (expected "postgres://user:password@host:port/db")',
  );
  const ipv6 = configError({ DATABASE_URL: "postgres://fleet:s3cretPW@::1:5432/db" });
  assert.equal(
    ipv6.message,
    'Cannot read DATABASE_URL: an IPv6 address goes in brackets: "[::1]:5432" (expected "postgres://user:password@host:port/db")',
  );
  for (
    const url of [
      "postgres://fleet:s3cret%25PW@127.0.0.1:5432/db",
      "postgres://fleet:pw@[::1]:5432/db",
      "postgres://fleet:pw@h1:5432,h2:5433/db",
    ]
  ) {
    assert.equal(load({ DATABASE_URL: url }).databaseUrl, url);
  }
});

Deno.test("loadConfig() refuses a DATABASE_URL port that is not 1-65535, quoting no part of the URL", () => {
  for (
    const url of [
      "postgres://fleet:s3cretPW@127.0.0.1:99999/db",
      "postgres://fleet:s3cretPW@h1:5432,h2:abc/db",
    ]
  ) {
    const message = configError({ DATABASE_URL: url }).message;
    assert.match(message, /^Cannot read DATABASE_URL: a port is not a number from 1 to 65535 /);
    assert.match(message, /percent-encode/);
    assert.ok(!message.includes("s3cret"), message);
  }
  assert.equal(
    load({ DATABASE_URL: "postgres://fleet@db:/fleet" }).databaseUrl,
    "postgres://fleet@db:/fleet",
  );
});

Deno.test("loadConfig() refuses a DATABASE_URL whose password holds an unencoded / ? # or @", () => {
  // Each would put part of the password where messages show it (a host, a port, a database)
  // while no redaction knows it as a password.
  for (
    const url of [
      "postgres://fleet:1234/x9z@db/fleet",
      "postgres://fleet:12?x9@db/fleet",
      "postgres://fleet:5432#x9@db/fleet",
      "postgres://fleet:s3cret/PW@db:5432/fleet",
      // The PostgreSQL client reads the host from the first "@": "ss@db", shown in messages.
      "postgres://fleet:p@ss@db/fleet",
      "postgres://fleet:pa@ss:x9@db:5432/fleet",
    ]
  ) {
    const message = configError({ DATABASE_URL: url }).message;
    assert.match(message, /^Cannot read DATABASE_URL: percent-encode "\/", "\?", "#" and "@"/, url);
    assert.ok(!/x9|p@ss|1234|5432|s3cret/.test(message), message);
  }
  const encoded = "postgres://fleet:p%40ss%2F1@db/fleet";
  assert.equal(load({ DATABASE_URL: encoded }).databaseUrl, encoded);
  assert.deepEqual(configSecrets(load({ DATABASE_URL: encoded })), ["p@ss/1"]);
});

Deno.test("configSecrets() finds the password of a multi-host DATABASE_URL", () => {
  const url = "postgres://fleet:s3cret-pw@h1:5432,h2:5433/fleet";
  assert.deepEqual(configSecrets(load({ DATABASE_URL: url })), ["s3cret-pw"]);
});

Deno.test("loadConfig() refuses a DATABASE_URL set but empty, rather than use the embedded database", () => {
  for (const value of ["", "  "]) {
    // Before: read as unset; a run wrote into .data/pglite and moved the files to processed/.
    assert.throws(
      () => load({ DATABASE_URL: value }),
      (error: Error) =>
        error instanceof ConfigError &&
        /^Cannot read DATABASE_URL: it is set but empty; write "postgres:\/\/user:password@host:port\/db", or unset it \(remove its line from \.env\) to use the embedded database$/
          .test(error.message),
    );
  }
});

Deno.test("loadConfig() treats other empty and blank variables as unset", () => {
  const config = load({
    PGLITE_DIR: "   ",
    TICKETS_BUCKET: "",
    GEOCODER_PROVIDER: " ",
    GEOCODER_RATE: "",
  });
  assert.equal(config.databaseUrl, undefined);
  assert.equal(config.pgliteDir, ".data/pglite");
  assert.equal(config.s3.bucket, "isptickets");
  assert.equal(config.geocoder.provider, "locationiq");
  assert.equal(config.geocoder.rate, undefined);
});

Deno.test("loadConfig() trims values", () => {
  const config = load({ PGLITE_DIR: " .data/other \n", TICKETS_BUCKET: " fleet-tickets " });
  assert.equal(config.pgliteDir, ".data/other");
  // A trailing slash names the same folder (its lock and marker sit beside it, not inside).
  assert.equal(load({ PGLITE_DIR: ".data/other//" }).pgliteDir, ".data/other");
  assert.equal(load({ PGLITE_DIR: "/" }).pgliteDir, "/");
  assert.equal(config.s3.bucket, "fleet-tickets");
});

Deno.test("loadConfig() rejects a DATABASE_URL that is not a postgres URL, without echoing it", () => {
  for (const url of ["mysql://root:hunter22@db/fleet", "db.internal:5432", "hunter22"]) {
    const error = configError({ DATABASE_URL: url });
    assert.equal(
      error.message,
      'Cannot read DATABASE_URL: expected "postgres://user:password@host:port/db"',
    );
    assert.ok(!error.message.includes("hunter22"));
  }
});

Deno.test("loadConfig() reads the RUSTFS_* S3 variables", () => {
  const config = load({
    RUSTFS_ENDPOINT: "http://127.0.0.1:9000",
    RUSTFS_REGION: "af-south-1",
    RUSTFS_ACCESS_KEY: "rustfsadmin",
    RUSTFS_SECRET_KEY: "rustfs-secret",
    TICKETS_BUCKET: "fleet",
  });
  assert.deepEqual(config.s3, {
    endpoint: "http://127.0.0.1:9000",
    endpointVariable: "RUSTFS_ENDPOINT",
    region: "af-south-1",
    accessKeyId: "rustfsadmin",
    secretAccessKey: "rustfs-secret",
    bucket: "fleet",
  });
});

Deno.test("loadConfig() falls back to the standard AWS_* S3 variables, and names the endpoint's", () => {
  const config = load({
    AWS_ENDPOINT_URL_S3: "https://s3.af-south-1.amazonaws.com",
    AWS_REGION: "af-south-1",
    AWS_ACCESS_KEY_ID: "AKIAEXAMPLE",
    AWS_SECRET_ACCESS_KEY: "aws-secret",
  });
  assert.deepEqual(config.s3, {
    endpoint: "https://s3.af-south-1.amazonaws.com",
    endpointVariable: "AWS_ENDPOINT_URL_S3",
    region: "af-south-1",
    accessKeyId: "AKIAEXAMPLE",
    secretAccessKey: "aws-secret",
    bucket: "isptickets",
  });
});

Deno.test("loadConfig() prefers RUSTFS_* over AWS_* when both are set", () => {
  const config = load({
    RUSTFS_ENDPOINT: "http://rustfs:9000",
    AWS_ENDPOINT_URL_S3: "https://s3.amazonaws.com",
    RUSTFS_REGION: "local",
    AWS_REGION: "af-south-1",
    RUSTFS_ACCESS_KEY: "rustfs-id",
    AWS_ACCESS_KEY_ID: "aws-id",
    RUSTFS_SECRET_KEY: "rustfs-secret",
    AWS_SECRET_ACCESS_KEY: "aws-secret",
  });
  assert.deepEqual(config.s3, {
    endpoint: "http://rustfs:9000",
    endpointVariable: "RUSTFS_ENDPOINT",
    region: "local",
    accessKeyId: "rustfs-id",
    secretAccessKey: "rustfs-secret",
    bucket: "isptickets",
  });
});

Deno.test("loadConfig() rejects an S3 endpoint that is not a URL, naming the variable and its value", () => {
  assert.equal(
    configError({ RUSTFS_ENDPOINT: "not a url" }).message,
    `Cannot read RUSTFS_ENDPOINT "not a url": expected the S3 server's http:// or https:// URL, ` +
      `such as "http://rustfs:9000"`,
  );
  assert.equal(
    configError({ AWS_ENDPOINT_URL_S3: "://s3" }).message,
    `Cannot read AWS_ENDPOINT_URL_S3 "://s3": expected the S3 server's http:// or https:// URL, ` +
      `such as "http://rustfs:9000"`,
  );
  assert.equal(
    configError({ RUSTFS_ENDPOINT: "ftp://files:21" }).message,
    `Cannot read RUSTFS_ENDPOINT "ftp://files:21": expected the S3 server's http:// or https:// ` +
      `URL, such as "http://rustfs:9000"`,
  );
});

Deno.test("loadConfig() rejects an S3 endpoint without a scheme, saying what to write", () => {
  // "rustfs:9000" parses as a URL whose scheme is "rustfs:"; "127.0.0.1:9100" does not parse.
  for (const value of ["rustfs:9000", "localhost:9100", "127.0.0.1:9100"]) {
    assert.equal(
      configError({ RUSTFS_ENDPOINT: value }).message,
      `Cannot read RUSTFS_ENDPOINT "${value}": expected the S3 server's http:// or https:// ` +
        `URL; write "http://${value}"`,
    );
  }
  const message = configError({ RUSTFS_ENDPOINT: "admin:hunter2@rustfs:9000" }).message;
  assert.ok(!message.includes("hunter2"), message);
  assert.match(message, /write "http:\/\/rustfs:9000"$/);
});

Deno.test("loadConfig() rejects an S3 endpoint with a path: the bucket goes in TICKETS_BUCKET", () => {
  assert.equal(
    configError({ RUSTFS_ENDPOINT: "http://127.0.0.1:9100/isptickets" }).message,
    `Cannot read RUSTFS_ENDPOINT "http://127.0.0.1:9100/isptickets": its path "/isptickets" is ` +
      `the bucket's name; write the server's URL only ("http://127.0.0.1:9100"): the bucket is ` +
      `TICKETS_BUCKET's (now "isptickets")`,
  );
  assert.equal(
    configError({ AWS_ENDPOINT_URL_S3: "https://u:secret@s3.example.com/foo/" }).message,
    `Cannot read AWS_ENDPOINT_URL_S3 "https://s3.example.com/foo/": it has a path ("/foo/"); ` +
      `write the server's URL only ("https://s3.example.com") and put the bucket in ` +
      `TICKETS_BUCKET (now "isptickets")`,
  );
  assert.equal(load({ RUSTFS_ENDPOINT: "http://rustfs:9000/" }).s3.endpoint, "http://rustfs:9000/");
});

Deno.test("loadConfig() reads the geocoder provider in any case", () => {
  for (
    const [text, provider] of [["LocationIQ", "locationiq"], ["opencage", "opencage"], [
      " Nominatim ",
      "nominatim",
    ]] as const
  ) {
    assert.equal(load({ GEOCODER_PROVIDER: text }).geocoder.provider, provider);
  }
});

Deno.test("loadConfig() rejects an unknown geocoder provider, listing the known ones", () => {
  assert.equal(
    configError({ GEOCODER_PROVIDER: "mapbox" }).message,
    'Cannot read GEOCODER_PROVIDER "mapbox": expected locationiq, opencage or nominatim',
  );
});

Deno.test("loadConfig() reads the geocoder key, base URL, rate and budget", () => {
  const config = load({
    GEOCODER_PROVIDER: "opencage",
    GEOCODER_API_KEY: "oc-key-1234",
    GEOCODER_BASE_URL: "http://127.0.0.1:8080/geocode/v1/json",
    GEOCODER_RATE: "0.5",
    GEOCODER_BUDGET: "2500",
  });
  assert.deepEqual(config.geocoder, {
    provider: "opencage",
    apiKey: "oc-key-1234",
    baseUrl: "http://127.0.0.1:8080/geocode/v1/json",
    rate: 0.5,
    budget: 2500,
  });
});

Deno.test("loadConfig() rejects a geocoder rate that is not a positive number, or a budget not a whole one", () => {
  const expected: Record<string, [string, string[]]> = {
    GEOCODER_RATE: ["a positive number in decimal digits", ["0", "-1"]],
    GEOCODER_BUDGET: ["a whole number of calls, 0 or more", ["-1", "2.5"]],
  };
  for (const [name, [what, more]] of Object.entries(expected)) {
    for (const text of [...more, "fast", "Infinity", "NaN", "1,000"]) {
      assert.equal(
        configError({ [name]: text }).message,
        `Cannot read ${name} "${text}": expected ${what}`,
      );
    }
  }
});

Deno.test("loadConfig() reads number settings in decimal notation only, as flags are read, naming the variable, its value and what is expected", () => {
  const expected: Record<string, string> = {
    PGCONNECT_TIMEOUT: "a positive number in decimal digits",
    GEOCODER_RATE: "a positive number in decimal digits",
    GEOCODER_BUDGET: "a whole number of calls, 0 or more",
    STALE_AFTER_HOURS: "a positive number in decimal digits",
    SERVE_STATEMENT_TIMEOUT: "seconds from 0.1 to 3600 in decimal digits",
    SERVE_VERSION_TTL: "seconds from 0 to 60 in decimal digits",
    DATABASE_STALL_SECONDS: "seconds from 0 to 3600 in decimal digits",
  };
  for (const [name, what] of Object.entries(expected)) {
    // Number() reads each of these (16, 1000, 2, 2, 2): a value meant otherwise, or a typo.
    for (const text of ["0x10", "1e3", " 2 ", "2 ", "+2", "Infinity"]) {
      assert.equal(
        configError({ [name]: text }).message,
        `Cannot read ${name} "${text}": expected ${what}`,
      );
    }
    assert.doesNotThrow(() => load({ [name]: "2" }), name);
    assert.doesNotThrow(() => load({ [name]: " " }), `${name}: blank is unset`);
  }
  const config = load({
    PGCONNECT_TIMEOUT: "2.5",
    STALE_AFTER_HOURS: ".5",
    SERVE_STATEMENT_TIMEOUT: "0.1",
    SERVE_VERSION_TTL: "0",
  });
  assert.equal(config.connectTimeoutS, 2.5);
  assert.equal(config.serve.staleAfterHours, 0.5);
  assert.equal(config.serve.statementTimeoutMs, 100);
  assert.equal(config.serve.versionTtlMs, 0);
});

Deno.test("loadConfig() reads DATABASE_STALL_SECONDS in seconds, 0 (never asked) to an hour, unset: the default", () => {
  assert.equal(load({}).stallAfterS, undefined); // the adapter's 60 s
  assert.equal(load({ DATABASE_STALL_SECONDS: "0" }).stallAfterS, 0);
  assert.equal(load({ DATABASE_STALL_SECONDS: "7.5" }).stallAfterS, 7.5);
  for (const text of ["-1", "3601", "a minute"]) {
    assert.equal(
      configError({ DATABASE_STALL_SECONDS: text }).message,
      `Cannot read DATABASE_STALL_SECONDS "${text}": expected seconds from 0 to 3600 in decimal digits`,
    );
  }
});

Deno.test("loadConfig() rejects a geocoder base URL that is not an http(s) URL, without echoing it", () => {
  // Before: "localhost:18210" and "ftp://…" passed (doctor said ok; every call then failed).
  for (const url of ["api.example key=abc123", "localhost:18210", "ftp://geo.example/v1"]) {
    const error = configError({ GEOCODER_BASE_URL: url });
    assert.equal(
      error.message,
      `Cannot read GEOCODER_BASE_URL: expected the service's http:// or https:// URL, such as "http://localhost:8080"`,
    );
  }
  assert.equal(
    load({ GEOCODER_BASE_URL: "HTTPS://geo.example/v1" }).geocoder.baseUrl,
    "HTTPS://geo.example/v1",
  );
});

Deno.test("loadConfig() reads GEOCODER_BUDGET as a whole number of calls, 0 (paused) included", () => {
  assert.equal(load({ GEOCODER_BUDGET: "0" }).geocoder.budget, 0); // before: refused at start
  assert.equal(load({ GEOCODER_BUDGET: "300" }).geocoder.budget, 300);
  assert.equal(
    configError({ GEOCODER_BUDGET: "0.5" }).message,
    'Cannot read GEOCODER_BUDGET "0.5": expected a whole number of calls, 0 or more',
  );
});

Deno.test("loadConfig() refuses a DATABASE_URL that names no user unless PGUSER does (the system's user name is not readable)", () => {
  for (const url of ["postgres://127.0.0.1:5432/db", "postgres://:secret@127.0.0.1/db"]) {
    const error = configError({ DATABASE_URL: url });
    assert.equal(
      error.message,
      'Cannot read DATABASE_URL: it names no user; write "postgres://user:password@host:port/db" (or set PGUSER)',
    );
  }
  const env: Record<string, string> = { DATABASE_URL: "postgres://127.0.0.1/db", PGUSER: "ops" };
  assert.equal(loadConfig((name) => env[name]).databaseUrl, "postgres://127.0.0.1/db");
});

Deno.test("loadConfig() reads only the variables ENV_NAMES lists", () => {
  const asked = new Set<string>();
  loadConfig((name) => {
    asked.add(name);
    return undefined;
  });
  assert.deepEqual([...asked].sort(), [...ENV_NAMES].sort());
});

Deno.test("ENV_NAMES are all allowed by the worker permission set in deno.json", async () => {
  const denoJson = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  ) as { permissions: { worker: { env: string[] } } };
  const allowed = denoJson.permissions.worker.env;
  for (const name of ENV_NAMES) {
    assert.ok(
      allowed.some((a) => a === name || (a.endsWith("*") && name.startsWith(a.slice(0, -1)))),
      `${name} is allowed`,
    );
  }
});

Deno.test("ConfigError is an Error named ConfigError", () => {
  const error = new ConfigError("Cannot read GEOCODER_RATE");
  assert.ok(error instanceof Error);
  assert.equal(error.name, "ConfigError");
  assert.equal(error.message, "Cannot read GEOCODER_RATE");
});

Deno.test("configSecrets() returns the S3 secret, the geocoder key and the database password", () => {
  const config = load({
    DATABASE_URL: "postgres://tickets:db-pass%2Fword@db:5432/fleet",
    RUSTFS_ACCESS_KEY: "rustfsadmin",
    RUSTFS_SECRET_KEY: "rustfs-secret",
    GEOCODER_API_KEY: "pk.0123456789",
  });
  assert.deepEqual(configSecrets(config).sort(), [
    "db-pass/word",
    "pk.0123456789",
    "rustfs-secret",
  ]);
});

Deno.test("configSecrets() is empty when nothing secret is set", () => {
  assert.deepEqual(configSecrets(load()), []);
  assert.deepEqual(configSecrets(load({ DATABASE_URL: "postgres://tickets@db/fleet" })), []);
});

Deno.test("loadConfig() refuses an unknown sslmode in DATABASE_URL (the client would read it as verify-full), and accepts libpq's", () => {
  const url = (mode: string) => `postgres://u:pw-SECRET@db:5432/x?sslmode=${mode}`;
  const error = configError({ DATABASE_URL: url("bogus") });
  assert.equal(
    error.message,
    'Cannot read DATABASE_URL: sslmode "bogus" is not one of disable, allow, prefer, require, verify-ca, verify-full',
  );
  assert.ok(!error.message.includes("pw-SECRET"));
  // The client reads the last of two, and ssl= as sslmode.
  assert.match(
    configError({ DATABASE_URL: `${url("disable")}&sslmode=verfy-full` }).message,
    /sslmode "verfy-full" is not one of/,
  );
  assert.match(
    configError({ DATABASE_URL: `postgres://u@db/x?ssl=yes` }).message,
    /ssl "yes" is not one of/,
  );
  for (const mode of ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]) {
    assert.equal(load({ DATABASE_URL: url(mode) }).databaseUrl, url(mode));
  }
});

Deno.test("loadConfig() reads PGSSLMODE as libpq does: when the URL has no sslmode, and only libpq's values", () => {
  const base = "postgres://u:pw-SECRET@db:5432/x";
  // Before: ignored, so PGSSLMODE=require connected without TLS (a tester's).
  assert.equal(
    load({ DATABASE_URL: base, PGSSLMODE: "require" }).databaseUrl,
    `${base}?sslmode=require`,
  );
  assert.equal(
    load({ DATABASE_URL: `${base}?application_name=ft`, PGSSLMODE: "verify-full" }).databaseUrl,
    `${base}?application_name=ft&sslmode=verify-full`,
  );
  // The URL's own word wins, as in libpq.
  assert.equal(
    load({ DATABASE_URL: `${base}?sslmode=disable`, PGSSLMODE: "require" }).databaseUrl,
    `${base}?sslmode=disable`,
  );
  const error = configError({ DATABASE_URL: base, PGSSLMODE: "requre" });
  assert.equal(
    error.message,
    'Cannot read PGSSLMODE: "requre" is not one of disable, allow, prefer, require, verify-ca, verify-full',
  );
  assert.equal(load({ PGSSLMODE: "require" }).databaseUrl, undefined, "embedded: not read");
});

Deno.test("loadConfig() takes PGSSLROOTCERT when the URL names no sslrootcert, and a CA only with verify-full or verify-ca", () => {
  const base = "postgres://u:pw-SECRET@db:5432/x";
  assert.equal(
    load({ DATABASE_URL: `${base}?sslmode=verify-full`, PGSSLROOTCERT: ".data/ca.crt" })
      .databaseUrl,
    `${base}?sslmode=verify-full&sslrootcert=.data%2Fca.crt`,
  );
  assert.equal(
    load({ DATABASE_URL: base, PGSSLMODE: "verify-ca", PGSSLROOTCERT: ".data/ca.crt" })
      .databaseUrl,
    `${base}?sslmode=verify-ca&sslrootcert=.data%2Fca.crt`,
  );
  assert.match(
    configError({ DATABASE_URL: `${base}?sslmode=require&sslrootcert=.data/ca.crt` }).message,
    /^Cannot read DATABASE_URL: sslrootcert ".data\/ca.crt" \(or PGSSLROOTCERT\) checks the server's certificate only with sslmode=verify-full \(or verify-ca\), not sslmode=require; set sslmode=verify-full$/,
  );
  // postgres.js's own word for the system's CAs.
  assert.ok(load({ DATABASE_URL: `${base}?sslrootcert=system` }).databaseUrl);
});

Deno.test("loadConfig() names the quotes around a DATABASE_URL (Docker's --env-file keeps them)", () => {
  for (const quoted of [`"postgres://u:pw-SECRET@db/x"`, `'postgres://u:pw-SECRET@db/x'`]) {
    const error = configError({ DATABASE_URL: quoted });
    // Before: only the general 'expected "postgres://user:password@host:port/db"'.
    assert.equal(
      error.message,
      "Cannot read DATABASE_URL: it begins with a quote; remove the quotes around the value " +
        '(expected "postgres://user:password@host:port/db")',
    );
  }
});

Deno.test("sameDir() takes every spelling of one folder for it, and other folders for others", () => {
  const here = Deno.cwd();
  for (
    const spelling of [".data/demo/pglite", "./.data/demo/pglite/", `${here}/.data/demo/pglite`]
  ) {
    assert.ok(sameDir(spelling, ".data/demo/pglite"), spelling);
  }
  // Before: the absolute path and this one were taken for other folders.
  assert.ok(sameDir(".data/demo/../demo/pglite", ".data/demo/pglite"));
  assert.ok(!sameDir(".data/demo/pglite2", ".data/demo/pglite"));
  assert.ok(!sameDir(".data/pglite", ".data/demo/pglite"));
});

Deno.test("loadConfig() refuses a region or a bucket no S3 server takes, naming the variable (before: every run failed as transient)", () => {
  assert.equal(load({ RUSTFS_REGION: "eu-west-1" }).s3.region, "eu-west-1");
  assert.equal(load({ AWS_REGION: "af-south-1" }).s3.region, "af-south-1");
  assert.equal(
    configError({ RUSTFS_REGION: "eu west 1" }).message,
    `Cannot read RUSTFS_REGION "eu west 1": expected a region name of letters, digits and ` +
      `hyphens, such as "us-east-1" (MinIO and RustFS: the server's MINIO_REGION or ` +
      `RUSTFS_REGION, else "us-east-1")`,
  );
  assert.match(
    configError({ AWS_REGION: "https://s3.eu-west-1.amazonaws.com" }).message,
    /^Cannot read AWS_REGION "https:\/\/s3\.eu-west-1\.amazonaws\.com": expected a region name/,
  );
  assert.equal(
    configError({ TICKETS_BUCKET: "isptickets/automations" }).message,
    `Cannot read TICKETS_BUCKET "isptickets/automations": a bucket name has no "/" (the folders ` +
      `automations/<dataset>/changes/ are fixed); write the bucket's name only ("isptickets")`,
  );
  assert.match(configError({ TICKETS_BUCKET: "a b" }).message, /expected a bucket name of 3 to 63/);
});
