// RUSTFS_ENDPOINT set to something that is not an S3 server: a web server (a 404 page, a page
// for every path, fleettickets' own `serve`), or a port that does not speak HTTP (PostgreSQL's).
// The message names the setting and its value and says the answer is not S3's; it is terminal
// (exit 2 before any database opens) and comes at once. A real S3 server's errors (no such
// bucket, no such key) read as before.

import assert from "node:assert/strict";
import { INC } from "../core/datasets.ts";
import { isTransient } from "../core/is_transient.ts";
import type { Database } from "../core/ports/mod.ts";
import { createS3ObjectStore, NotS3EndpointError } from "../adapters/s3_object_store.ts";
import { startServer } from "../serve/server.ts";
import { cleanUpScratchDirsAtEnd, cli, scratchDir } from "./_cli.ts";
import { startS3FaultProxy } from "./_s3_fault_proxy.ts";
import { startS3TestServer } from "./_s3_test_server.ts";
import { copyMigratedPglite } from "./_pglite_cache.ts";

const SECRET = "endpoint-test-secret-value";

/** An HTTP server on a free loopback port answering every request with `response`. */
function httpServer(response: () => Response) {
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    requests++;
    return response();
  });
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    requests: () => requests,
    close: () => server.shutdown(),
  };
}

/** A TCP server that reads a request and closes the connection without a byte (as PostgreSQL does). */
function hangUpServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  (async () => {
    for await (const conn of listener) {
      connections++;
      conn.read(new Uint8Array(4096)).finally(() => conn.close()).catch(() => {});
    }
  })().catch(() => {});
  return {
    endpoint: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    connections: () => connections,
    close: () => listener.close(),
  };
}

const html404 = () =>
  new Response("<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>", {
    status: 404,
    headers: { "content-type": "text/html; charset=utf-8" },
  });

const empty404 = () => new Response(null, { status: 404 });

function store(endpoint: string, bucket = "isptickets") {
  return createS3ObjectStore({
    endpoint,
    bucket,
    accessKeyId: "endpoint-test-key",
    secretAccessKey: SECRET,
  });
}

async function rejectsAsNotS3(work: Promise<unknown>, message: string): Promise<void> {
  let caught: unknown;
  await work.catch((error) => caught = error);
  assert.ok(caught instanceof NotS3EndpointError, `${caught}`);
  assert.equal(caught.message, message);
  assert.equal(caught.terminal, true);
  assert.equal(isTransient(caught), false, "rerunning as is cannot help");
}

Deno.test({
  name: "[s3] a web server as the endpoint: the answer is not S3's, naming RUSTFS_ENDPOINT, " +
    "terminal and asked once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cases: [string, () => Response, string][] = [
      ["a 404 page", html404, "an HTML page, status 404"],
      [
        "a page for every path",
        () =>
          new Response("<html><body>Welcome</body></html>", {
            headers: { "content-type": "text/html" },
          }),
        "an HTML page, status 200",
      ],
      [
        "a JSON error",
        () => Response.json({ error: "not found" }, { status: 404 }),
        "a JSON document, status 404",
      ],
      // A bare server or a load balancer: S3 answers no GET without an XML document.
      ["an empty 404", empty404, "an empty answer, status 404"],
    ];
    for (const [what, response, answer] of cases) {
      const server = httpServer(response);
      try {
        const s3 = store(server.endpoint);
        const where = `in s3://isptickets at ${server.endpoint.slice(7)}`;
        const tail = `the answer is not S3's (${answer}); check RUSTFS_ENDPOINT (now ` +
          `"${server.endpoint}")`;
        await rejectsAsNotS3(
          s3.list(INC.changesPrefix),
          `Cannot list "automations/inc/changes/" ${where}: ${tail}`,
        );
        assert.equal(server.requests(), 1, `${what}: not retried`);
        if (answer.endsWith("200")) continue; // a page for a download is no sign: it is a body
        await rejectsAsNotS3(
          s3.read(`${INC.changesPrefix}2026-06-15T17-00-00.csv`),
          `Cannot read "automations/inc/changes/2026-06-15T17-00-00.csv" ${where}: ${tail}`,
        );
        // The HEAD that checks the bucket has no body: a listing tells (only when it failed).
        await rejectsAsNotS3(
          s3.checkBucket(),
          `Cannot read s3://isptickets at ${server.endpoint.slice(7)}: ${tail}`,
        );
      } finally {
        await server.close();
      }
    }
  },
});

Deno.test({
  name:
    "[s3] a port where nothing listens, and an unknown host, are named in words, not as a raw error",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (free.addr as Deno.NetAddr).port;
    free.close(); // nothing listens there now
    const refused = `http://127.0.0.1:${port}`;
    // It said `Error: connect ECONNREFUSED 127.0.0.1:…`.
    await assert.rejects(
      store(refused).list(INC.changesPrefix),
      (error: Error) => {
        assert.match(
          error.message,
          new RegExp(
            `: connection refused \\(ECONNREFUSED\\): nothing listens on that port \\(is the S3 ` +
              `server running there\\?\\); check RUSTFS_ENDPOINT \\(now "${refused}"\\)$`,
          ),
        );
        return true;
      },
    );
    await assert.rejects(
      store("http://no-such-host.invalid:9000").list(INC.changesPrefix),
      /: the host name is not known \((ENOTFOUND|EAI_AGAIN)\); check RUSTFS_ENDPOINT/,
    );
  },
});

Deno.test({
  name: "[s3] a port that does not speak HTTP as the endpoint: closed without an answer, " +
    "terminal, in bounded time",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const server = hangUpServer();
    try {
      const started = performance.now();
      await rejectsAsNotS3(
        store(server.endpoint).list(INC.changesPrefix),
        `Cannot list "automations/inc/changes/" in s3://isptickets at ${
          server.endpoint.slice(7)
        }: the endpoint closed the connection without an answer, 4 attempts (not an HTTP ` +
          `server: another service's port, a port that speaks only TLS (then write ` +
          `"https://"), or an S3 server restarting, then try again once it is up); check ` +
          `RUSTFS_ENDPOINT (now "${server.endpoint}")`,
      );
      assert.equal(server.connections(), 4, "a dropped connection keeps its retries");
      assert.ok(performance.now() - started < 5_000);
    } finally {
      server.close();
    }
  },
});

Deno.test({
  name: "[s3] https:// to a plain-HTTP server: the endpoint does not speak TLS, terminal, " +
    "asked once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const server = httpServer(html404);
    try {
      const endpoint = server.endpoint.replace("http:", "https:");
      const tail = `the endpoint does not speak TLS (write "http://", or check the port); ` +
        `check RUSTFS_ENDPOINT (now "${endpoint}")`;
      const s3 = store(endpoint);
      await rejectsAsNotS3(
        s3.list(INC.changesPrefix),
        `Cannot list "automations/inc/changes/" in s3://isptickets at ${
          endpoint.slice(8)
        }: ${tail}`,
      );
      await rejectsAsNotS3(
        s3.checkBucket(),
        `Cannot read s3://isptickets at ${endpoint.slice(8)}: ${tail}`,
      );
      assert.equal(server.requests(), 0, "no HTTP request got through");
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "[s3] a real S3 server's errors read as before: no such bucket, no such key",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const server = await startS3TestServer();
    try {
      const where = `at ${server.endpoint.slice(7)}`;
      const missing = createS3ObjectStore({ ...server, bucket: "no-such-bucket" });
      await assert.rejects(missing.checkBucket(), {
        name: "BucketNotFoundError",
        message: `Cannot read s3://no-such-bucket ${where}: the bucket "no-such-bucket" does ` +
          `not exist (TICKETS_BUCKET)`,
      });
      await assert.rejects(missing.list(INC.changesPrefix), {
        name: "ObjectStoreError",
        message: `Cannot list "automations/inc/changes/" in s3://no-such-bucket ${where}: ` +
          `NoSuchBucket (HTTP 404): The specified bucket does not exist`,
        terminal: true,
      });
      const present = createS3ObjectStore(server);
      await present.checkBucket();
      assert.deepEqual(await present.list(INC.changesPrefix), []);
      await assert.rejects(present.read(`${INC.changesPrefix}x.csv`), {
        name: "ObjectStoreError",
        message: `Cannot read "automations/inc/changes/x.csv" in s3://${server.bucket} ${where}: ` +
          `NoSuchKey (HTTP 404): The specified key does not exist.`,
      });
    } finally {
      await server.close();
    }
  },
});

/** S3's error document for `code`, status 403, as AWS, MinIO and rustfs send it (none for HEAD). */
function s3Refusal(code: string, message: string) {
  return (request: Request) =>
    new Response(
      request.method === "HEAD"
        ? null
        : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
          `<Message>${message}</Message><RequestId>1</RequestId></Error>`,
      { status: 403, headers: { "content-type": "application/xml" } },
    );
}

/** The three refusals an S3 server gives a key, with what S3 says and what we say instead. */
const REFUSALS = [
  {
    code: "InvalidAccessKeyId",
    s3: "The AWS Access Key Id you provided does not exist in our records.",
    said: "the S3 server knows no such access key (InvalidAccessKeyId, HTTP 403); " +
      "check RUSTFS_ACCESS_KEY (or AWS_ACCESS_KEY_ID)",
    remedy: "set RUSTFS_ACCESS_KEY (or AWS_ACCESS_KEY_ID) to an access key of this S3 server",
  },
  {
    code: "SignatureDoesNotMatch",
    s3: "The request signature we calculated does not match the signature you provided. " +
      "Check your key and signing method.",
    said: "the secret key is not the access key's (SignatureDoesNotMatch, HTTP 403); " +
      "check RUSTFS_SECRET_KEY (or AWS_SECRET_ACCESS_KEY)",
    remedy: "set RUSTFS_SECRET_KEY (or AWS_SECRET_ACCESS_KEY) to that access key's secret",
  },
  {
    code: "AccessDenied",
    s3: "Access Denied.",
    said: "the access key may not do that (AccessDenied, HTTP 403); give it s3:ListBucket on " +
      'the bucket "isptickets" (prefix automations/)',
    remedy: 'give the key s3:ListBucket on "isptickets" (prefix automations/), or fix ' +
      "RUSTFS_ACCESS_KEY / RUSTFS_SECRET_KEY",
  },
];

Deno.test({
  name: "[s3] a refused key pair or right is said in our words, naming the setting or the " +
    "right, the S3 code in parentheses, terminal",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    for (const { code, s3, said } of REFUSALS) {
      const listening = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        s3Refusal(code, s3),
      );
      try {
        const endpoint = `http://127.0.0.1:${listening.addr.port}`;
        const where = `in s3://isptickets at ${endpoint.slice(7)}`;
        const s3Store = store(endpoint);
        // Before: `InvalidAccessKeyId (HTTP 403): The AWS Access Key Id you provided does not
        // exist in our records.`, naming no setting.
        await assert.rejects(s3Store.list(INC.changesPrefix), (error: Error) => {
          assert.equal(error.message, `Cannot list "automations/inc/changes/" ${where}: ${said}`);
          assert.equal(isTransient(error), false, "rerunning as is cannot help");
          return true;
        });
        // A right is named for what was refused: a download needs s3:GetObject.
        const key = `${INC.changesPrefix}2026-06-15T17-00-00.csv`;
        await assert.rejects(
          s3Store.read(key),
          {
            message: `Cannot read "${key}" ${where}: ` +
              said.replace("s3:ListBucket", "s3:GetObject"),
          },
        );
        await assert.rejects(
          s3Store.move(key, `${INC.processedPrefix}2026-06-15T17-00-00.csv`),
          {
            message: new RegExp(
              `^Cannot copy "${key}" to ".*" ${where}: ` +
                RegExp.escape(said.replace("s3:ListBucket", "s3:GetObject and s3:PutObject")) +
                "$",
            ),
          },
        );
      } finally {
        await listening.shutdown();
      }
    }
  },
});

Deno.test({
  name: "cli: ingest, status and doctor with a refused key pair or right name the setting or " +
    "the right (doctor's remedy agrees), without the secret",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // status reads the pending files of a database that exists.
    // A copy of one migrated database (making it took ~17 s of this test's 39).
    const pglite = `${await scratchDir("test-endpoint")}/pglite`;
    await copyMigratedPglite(pglite);
    for (const { code, s3, said, remedy } of REFUSALS) {
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        s3Refusal(code, s3),
      );
      try {
        const endpoint = `http://127.0.0.1:${server.addr.port}`;
        const env = {
          PGLITE_DIR: pglite,
          RUSTFS_ENDPOINT: endpoint,
          RUSTFS_ACCESS_KEY: "endpoint-test-key",
          RUSTFS_SECRET_KEY: SECRET,
          GEOCODER_PROVIDER: "nominatim",
        };
        const tail = new RegExp(`: ${RegExp.escape(said)}$`);
        const ingest = await cli(["ingest", "--from-bucket", "--json"], env);
        // A wrong key pair is a setting to fix, as a missing bucket (before: exit 1; a
        // tester's); a refused right is the run's failure.
        assert.equal(ingest.code, code === "AccessDenied" ? 1 : 2, ingest.stdout + ingest.stderr);
        assert.match(JSON.parse(ingest.stdout).error, tail);
        const status = await cli(["status", "--from-bucket", "--json"], env);
        assert.notEqual(status.code, 0, status.stdout + status.stderr);
        assert.match(JSON.parse(status.stdout).error, tail);
        const doctor = await cli(["doctor"], env);
        assert.equal(doctor.code, 1, doctor.stdout + doctor.stderr);
        assert.match(doctor.stdout, new RegExp(`^fail +bucket inc +.*${RegExp.escape(said)}`, "m"));
        assert.ok(doctor.stdout.includes(`→ ${remedy}`), doctor.stdout);
        for (const r of [ingest, status, doctor]) {
          assert.ok(!(r.stdout + r.stderr).includes(SECRET), "no secret in the output");
          assert.ok(!(r.stdout + r.stderr).includes(s3), "S3's own text is replaced");
        }
      } finally {
        await server.shutdown();
      }
    }
  },
});

Deno.test({
  name: "cli: doctor for https:// to a plain-HTTP S3 server says to write http://, not that it " +
    "is no S3 server",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const server = httpServer(html404);
    try {
      const endpoint = server.endpoint.replace("http:", "https:");
      const doctor = await cli(["doctor"], {
        PGLITE_DIR: `${await scratchDir("test-endpoint")}/never-created`,
        RUSTFS_ENDPOINT: endpoint,
        RUSTFS_ACCESS_KEY: "endpoint-test-key",
        RUSTFS_SECRET_KEY: SECRET,
        GEOCODER_PROVIDER: "nominatim",
      });
      assert.equal(doctor.code, 1, doctor.stdout + doctor.stderr);
      assert.match(doctor.stdout, /^fail +bucket inc +.*the endpoint does not speak TLS/m);
      // Before: `→ set RUSTFS_ENDPOINT to the S3 server's URL (scheme, host, port): this one is
      // not an S3 server`.
      assert.ok(
        doctor.stdout.includes(
          `→ write "http://" in RUSTFS_ENDPOINT ("${server.endpoint}"): the server speaks plain ` +
            `HTTP, not TLS (or check the port)`,
        ),
        doctor.stdout,
      );
      assert.doesNotMatch(doctor.stdout, /not an S3 server/);
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name: "cli: an endpoint set by AWS_ENDPOINT_URL_S3 (RUSTFS_ENDPOINT unset) is named by that " +
    "variable in ingest's error and doctor's remedy",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const page = httpServer(html404);
    try {
      const env = {
        PGLITE_DIR: `${await scratchDir("test-endpoint")}/never-created`,
        AWS_ENDPOINT_URL_S3: page.endpoint,
        AWS_ACCESS_KEY_ID: "endpoint-test-key",
        AWS_SECRET_ACCESS_KEY: SECRET,
        GEOCODER_PROVIDER: "nominatim",
      };
      const ingest = await cli(["ingest", "--from-bucket", "--json"], env);
      assert.equal(ingest.code, 2, ingest.stdout + ingest.stderr);
      assert.match(
        JSON.parse(ingest.stdout).error,
        new RegExp(`; check AWS_ENDPOINT_URL_S3 \\(now "${page.endpoint}"\\)$`),
      );
      const doctor = await cli(["doctor"], env);
      assert.equal(doctor.code, 1, doctor.stdout + doctor.stderr);
      assert.match(doctor.stdout, /→ set AWS_ENDPOINT_URL_S3 to the S3 server's URL/);
      assert.doesNotMatch(ingest.stdout + doctor.stdout, /RUSTFS_ENDPOINT/);
    } finally {
      await page.close();
    }
  },
});

Deno.test({
  name: "cli: a run refused at the bucket check reports the time the check took",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // A page that takes 400 ms, as a bucket check that waits out a timeout takes its time.
    const slow = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      return html404();
    });
    try {
      const ingest = await cli(["ingest", "--from-bucket", "--json"], {
        PGLITE_DIR: `${await scratchDir("test-endpoint")}/never-created`,
        RUSTFS_ENDPOINT: `http://127.0.0.1:${slow.addr.port}`,
        RUSTFS_ACCESS_KEY: "endpoint-test-key",
        RUSTFS_SECRET_KEY: SECRET,
        GEOCODER_PROVIDER: "nominatim",
      });
      assert.equal(ingest.code, 2, ingest.stdout + ingest.stderr);
      const report = JSON.parse(ingest.stdout);
      assert.match(report.error, /the answer is not S3's/);
      assert.ok(report.durationMs >= 400, `${report.durationMs} ms`);
    } finally {
      await slow.shutdown();
    }
  },
});

Deno.test({
  name: "cli: an endpoint with the bucket as its path, or without a scheme, is refused at start " +
    "(exit 2) by ingest, status and doctor, naming the variable and the fix",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cases: [string, string][] = [
      [
        "http://127.0.0.1:9100/isptickets",
        `its path "/isptickets" is the bucket's name; write the server's URL only ` +
        `("http://127.0.0.1:9100")`,
      ],
      ["rustfs:9000", `write "http://rustfs:9000"`],
    ];
    for (const [endpoint, fix] of cases) {
      const env = {
        PGLITE_DIR: `${await scratchDir("test-endpoint")}/never-created`,
        RUSTFS_ENDPOINT: endpoint,
        RUSTFS_ACCESS_KEY: "endpoint-test-key",
        RUSTFS_SECRET_KEY: SECRET,
        GEOCODER_PROVIDER: "nominatim",
      };
      // ingest in text, as on a terminal (under cron its refusal is the JSON run line:
      // tests/cli_json_test.ts).
      const commands = [
        ["ingest", "--from-bucket", "--log-format", "text"],
        ["status", "--from-bucket"],
        ["doctor"],
      ];
      for (const args of commands) {
        const run = await cli(args, env);
        assert.equal(run.code, 2, `${args[0]}: ${run.stdout}${run.stderr}`);
        // doctor reports it as its failed "configuration" check, on stdout.
        const said = args[0] === "doctor" ? run.stdout : run.stderr;
        assert.ok(
          said.includes(`Cannot read RUSTFS_ENDPOINT "${endpoint}": `) && said.includes(fix),
          said,
        );
        assert.ok(!(run.stdout + run.stderr).includes(SECRET), "no secret in the output");
      }
    }
  },
});

/** A database `serve` can start with: it answers nothing (no request here reaches it). */
function unusedDatabase(): Database {
  const refuse = () => Promise.reject(new Error("The database must not be reached"));
  return {
    kind: "postgres",
    query: refuse,
    exec: refuse,
    runStatement: refuse,
    copyRows: refuse,
    copyCsv: refuse,
    transaction: refuse,
    tryLock: refuse,
    unlock: refuse,
    listen: () => Promise.resolve(() => Promise.resolve()),
    close: () => Promise.resolve(),
  };
}

Deno.test({
  name: "cli: ingest, status and doctor against a web server, an empty 404, fleettickets serve " +
    "or a non-HTTP port say RUSTFS_ENDPOINT is not an S3 server (exit 2; doctor fails), without the key",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const page = httpServer(html404);
    const serve = await startServer({
      db: unusedDatabase(),
      settings: { corsOrigins: [], statementTimeoutMs: 5000, staleAfterHours: 2 },
      webRoot: "./web/",
      now: () => new Date(),
      log: () => {},
      redact: (text) => text,
      host: "127.0.0.1",
      port: 0,
    });
    const hangUp = hangUpServer();
    const empty = httpServer(empty404);
    try {
      const endpoints: [string, string][] = [
        [page.endpoint, "the answer is not S3's \\(an HTML page, status 404\\)"],
        [empty.endpoint, "the answer is not S3's \\(an empty answer, status 404\\)"],
        [
          `http://127.0.0.1:${serve.port}`,
          "the answer is not S3's \\(a JSON document, status 404\\)",
        ],
        [hangUp.endpoint, "the endpoint closed the connection without an answer, \\d attempts?"],
      ];
      // The real thing too, when there is one: PostgreSQL closes an HTTP request without a word.
      const database = Deno.env.get("TEST_DATABASE_URL");
      if (database !== undefined) {
        const { hostname, port } = new URL(database);
        endpoints.push([`http://${hostname}:${port}`, endpoints.at(-1)![1]]);
      }
      for (const [endpoint, answer] of endpoints) {
        const env = {
          PGLITE_DIR: `${await scratchDir("test-endpoint")}/never-created`,
          RUSTFS_ENDPOINT: endpoint,
          RUSTFS_ACCESS_KEY: "endpoint-test-key",
          RUSTFS_SECRET_KEY: SECRET,
          GEOCODER_PROVIDER: "nominatim",
        };
        const said = `Cannot read s3://isptickets at ${endpoint.slice(7)}: ${answer}.*; ` +
          `check RUSTFS_ENDPOINT \\(now "${endpoint}"\\)`;
        const started = performance.now();
        const ingest = await cli(["ingest", "--from-bucket", "--dataset", "all", "--json"], env);
        assert.equal(ingest.code, 2, ingest.stdout + ingest.stderr);
        for (const report of JSON.parse(ingest.stdout).datasets) {
          assert.match(report.error, new RegExp(`^${said}$`));
          assert.equal(report.transient, false);
        }
        const status = await cli(["status", "--from-bucket"], env);
        assert.equal(status.code, 2, status.stdout + status.stderr);
        assert.match(status.stderr, new RegExp(said));
        assert.ok(performance.now() - started < 30_000, "at once, not after timeouts");

        const doctor = await cli(["doctor"], env);
        assert.equal(doctor.code, 1, doctor.stdout + doctor.stderr);
        assert.match(
          doctor.stdout,
          new RegExp(
            `^fail +bucket inc +Cannot list "automations/inc/changes/" .*: ${answer}`,
            "m",
          ),
        );
        assert.match(doctor.stdout, /→ set RUSTFS_ENDPOINT to the S3 server's URL/);
        for (const r of [ingest, status, doctor]) {
          assert.ok(!(r.stdout + r.stderr).includes(SECRET), "no secret in the output");
        }
      }
    } finally {
      await page.close();
      await serve.shutdown();
      hangUp.close();
      await empty.close();
    }
  },
});

Deno.test({
  name: "[s3] cli: doctor waits for a slow bucket listing as long as ingest does (30 s), not 10 s",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const server = await startS3TestServer();
    const proxy = startS3FaultProxy(server.endpoint);
    try {
      // The first listing answers after 11 s: within ingest's 30 s. Before, doctor gave up
      // after 10 s and failed a bucket that ingest would have read (a tester's).
      proxy.addRule({
        label: "slow listing",
        match: (r) => r.op === "list",
        action: { kind: "stall", at: "response", releaseAfterMs: 11_000 },
      });
      const doctor = await cli(["doctor"], {
        PGLITE_DIR: `${await scratchDir("test-endpoint")}/never-created`,
        RUSTFS_ENDPOINT: proxy.endpoint,
        RUSTFS_ACCESS_KEY: server.accessKeyId,
        RUSTFS_SECRET_KEY: server.secretAccessKey,
        TICKETS_BUCKET: server.bucket,
        GEOCODER_PROVIDER: "nominatim",
      });
      assert.equal(proxy.injected.get("slow listing"), 1, "the listing was held");
      // An empty bucket: a warning that says so, which took the listing's answer.
      assert.match(
        doctor.stdout,
        /^warn +bucket inc +.*no change files; the bucket holds no files at all$/m,
        doctor.stdout + doctor.stderr,
      );
      assert.doesNotMatch(doctor.stdout, /^fail /m);
    } finally {
      await proxy.close();
      await server.close();
    }
  },
});

// Last: a test registered after it would leave its scratch folder (before: the https:// one's).
cleanUpScratchDirsAtEnd();
