// Handler tests without a socket (app.request): every bad input is a 400 naming its parameter
// before anything reaches the database, and the guards (methods, token, CORS, body size, path)
// answer as documented. End-to-end tests over a real port are in tests/serve_test.ts.

import assert from "node:assert/strict";
import type { Config } from "../app/config.ts";
import type { Database } from "../core/ports/mod.ts";
import { createApp } from "./app.ts";
import { fakeDatabase } from "./_fake_database.ts";
import { CSV_COLUMNS } from "../core/read_tickets_csv.ts";

const SETTINGS: Config["serve"] = {
  corsOrigins: [],
  statementTimeoutMs: 5000,
  staleAfterHours: 2,
};

function appWith(
  settings: Partial<Config["serve"]> = {},
  db: Database = fakeDatabase(),
  { demo }: { demo?: boolean } = {},
) {
  const lines: Record<string, unknown>[] = [];
  const app = createApp({
    db,
    demo,
    settings: { ...SETTINGS, ...settings },
    webRoot: "./.data/no-such-web-root/",
    now: () => new Date("2026-06-15T12:00:00+03:00"),
    log: (entry) => lines.push(entry),
    redact: (text) => text.replaceAll("s3cret-token-value", "***"),
  });
  return { app, lines };
}

async function problem(response: Response) {
  assert.equal(response.headers.get("Content-Type"), "application/problem+json");
  return await response.json() as { status: number; detail: string; parameter?: string };
}

// [url, parameter named]
const BAD: readonly [string, string][] = [
  ["/api/nearest?lat=-1.29", "lon"],
  ["/api/nearest?lon=36.8", "lat"],
  ["/api/nearest?lon=abc&lat=-1.29", "lon"],
  ["/api/nearest?lon=36.8&lat=95", "lat"],
  ["/api/nearest?lon=181&lat=0", "lon"],
  ["/api/nearest?lon=NaN&lat=0", "lon"],
  ["/api/nearest?lon=Infinity&lat=0", "lon"],
  ["/api/nearest?lon=0x10&lat=0", "lon"],
  ["/api/nearest?lon=36.8&lat=-1.2&k=0", "k"],
  ["/api/nearest?lon=36.8&lat=-1.2&k=-1", "k"],
  ["/api/nearest?lon=36.8&lat=-1.2&k=1000000000", "k"],
  ["/api/nearest?lon=36.8&lat=-1.2&k=2.5", "k"],
  ["/api/nearest?lon=36.8&lat=-1.2&max_km=0", "max_km"],
  ["/api/nearest?lon=36.8&lat=-1.2&dataset=tickets", "dataset"],
  ["/api/nearest?lon=36.8&lat=-1.2&sla_state=late", "sla_state"],
  ["/api/nearest?lon=36.8&lat=-1.2&rank=random", "rank"],
  ["/api/nearest?lon=36.8&lon=37&lat=-1.2", "lon"],
  ["/api/tickets?limit=0", "limit"],
  ["/api/tickets?limit=-1", "limit"],
  ["/api/tickets?limit=1000000000", "limit"],
  ["/api/tickets?limit=50001", "limit"],
  ["/api/tickets?offset=-5", "offset"],
  ["/api/tickets?bbox=36,-2,37", "bbox"],
  ["/api/tickets?bbox=36,-2,181,-1", "bbox"],
  ["/api/tickets?bbox=36,-1,37,-2", "bbox"],
  ["/api/tickets?bbox=36,-2,37,x", "bbox"],
  ["/api/tickets?bbox=36,-95,37,-1", "bbox"],
  ["/api/tickets?dataset=users", "dataset"],
  ["/api/tickets?dataset=inc;drop%20table%20tickets.inc", "dataset"],
  ["/api/tickets?sla_state=breached'--", "sla_state"],
  ["/api/tickets?open_only=maybe", "open_only"],
  ["/api/tickets?cluster=" + "x".repeat(201), "cluster"],
  ["/api/tickets?team=a%00b", "team"],
  ["/api/tickets.csv?limit=0", "limit"],
  ["/api/tickets.csv?bbox=1,2,3", "bbox"],
  ["/api/tickets/INC%1B%5B31mRED", "id"], // a control character
  ["/api/tickets/" + "x".repeat(201), "id"], // longer than ingest takes
  ["/api/dashboard?window=fortnight", "window"],
  ["/api/dashboard?window=custom&from=2026-06-10", "to"],
  ["/api/dashboard?from=2026-06-10&to=2026-06-01", "from"],
  ["/api/dashboard?from=2026-02-30&to=2026-03-01", "from"],
  ["/api/dashboard?from=0001-01-01&to=9999-12-31", "from"], // over 366 days
  ["/api/backlog?from=0000-12-31&to=0001-01-01", "from"], // year 0000 is no PostgreSQL date
  ["/api/tickets?clustr=Westlands", "clustr"], // a typo must not widen the selection
  ["/api/tickets.csv?cluster=Westlands&sla=breached", "sla"],
  ["/api/nearest?lon=36.8&lat=-1.3&rnak=urgency", "rnak"],
  ["/api/dashboard?windo=30d", "windo"],
  ["/api/health?verbose=1", "verbose"],
  ["/api/dashboard?window=7d&from=2026-06-01&to=2026-06-10", "from"], // 7d has its own days
  ["/api/teams?window=30d&to=2026-06-10", "to"],
  ["/api/dashboard?window=7d'%20or%201=1", "window"],
  ["/webhook/inc-dashboard?window=week", "window"],
  ["/webhook/tickets?open_only=yes%27", "open_only"],
  ["/api/backlog?from=yesterday", "from"],
  ["/api/backlog?from=2026-06-10&to=2026-06-01", "from"],
  ["/api/teams?window=year", "window"],
  ["/api/teams?by=region", "by"],
  ["/api/teams?from=2026-06-10&to=2026-06-01", "from"],
  // Not percent-encoding: before, read as the literal text (a filter on "%E0%A4" matched nothing).
  ["/api/tickets?cluster=%E0%A4", "cluster"], // UTF-8 cut short
  ["/api/tickets.csv?team=100%", "team"],
  ["/api/nearest?lon=36.8&lat=-1.2&sla_state=%C0%AF", "sla_state"], // an overlong "/"
  ["/webhook/inc-dashboard?cluster=%zz", "cluster"],
  ["/api/dashboard?status=%FF", "status"],
  ["/api/tickets/WOT%E0", "id"], // before: looked up as the text "WOT%E0"
];

for (const [url, parameter] of BAD) {
  Deno.test(`GET ${url.slice(0, 70)} is a 400 naming "${parameter}", before any query`, async () => {
    const db = fakeDatabase();
    const { app } = appWith({}, db);
    const response = await app.request(url);
    assert.equal(response.status, 400);
    const body = await problem(response);
    assert.equal(body.parameter, parameter);
    assert.equal(body.status, 400);
    assert.match(body.detail, new RegExp(parameter));
    assert.deepEqual(db.statements, []);
  });
}

Deno.test("a ticket id too long is echoed cut, with a mark and its length", async () => {
  // Before: its first 40 characters alone, which read as an id within the 200 allowed.
  const { app } = appWith();
  const body = await problem(await app.request("/api/tickets/" + "b".repeat(250)));
  assert.equal(
    body.detail,
    `Cannot read the ticket id "${"b".repeat(40)}… (250 characters)": expected up to 200 ` +
      "characters without control characters, such as WOT0764585",
  );
});

Deno.test("a day sent alone is said as sent, not as a custom window nobody named", async () => {
  const { app } = appWith();
  const alone = await problem(await app.request("/api/dashboard?from=2026-06-01"));
  assert.equal(alone.detail, "Cannot use from without to: give both from and to (YYYY-MM-DD)");
  const named = await problem(await app.request("/api/teams?window=custom&to=2026-06-15"));
  assert.equal(
    named.detail,
    'Cannot use window "custom" without from: give both from and to (YYYY-MM-DD)',
  );
});

Deno.test("an unknown /api path is a 404 whatever its parameters", async () => {
  const { app } = appWith();
  assert.equal((await app.request("/api/nosuch?x=1")).status, 404);
});

Deno.test("the webhooks ignore parameters they do not read (the predecessor's front-end may send more)", async () => {
  const { app } = appWith({}, fakeDatabase(() => [{ payload: { type: "FeatureCollection" } }]));
  for (
    const url of [
      "/webhook/tickets?open_only=true&_=1732838400",
      "/webhook/inc-dashboard?v=2",
      "/webhook/inc-dashboard?window=7d&from=2026-06-01&to=2026-06-10", // days dropped, as before
    ]
  ) {
    const response = await app.request(url);
    await response.body?.cancel();
    assert.notEqual(response.status, 400, url);
  }
});

Deno.test("a POSTed form with a bad window is a 400 naming it", async () => {
  const db = fakeDatabase();
  const { app } = appWith({}, db);
  const response = await app.request("/webhook/inc-dashboard", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: "cluster=Westlands&window=fortnight",
  });
  assert.equal((await problem(response)).parameter, "window");
  assert.deepEqual(db.statements, []);
});

Deno.test("a POST body is read as a multipart form, as text/plain JSON or form, and empty as no filters", async () => {
  const { app } = appWith();
  const post = (headers: Record<string, string>, body: BodyInit) =>
    app.request("/webhook/inc-dashboard", { method: "POST", headers, body });
  const form = new FormData();
  form.set("cluster", "Westlands");
  form.set("window", "fortnight");
  // Each reaches the window's check (before: 415 for multipart and text/plain).
  for (
    const response of [
      await post({}, form), // fetch(url, { body: new FormData(form) })
      await post({ "Content-Type": "text/plain;charset=UTF-8" }, '{"window":"fortnight"}'),
      await post({ "Content-Type": "text/plain" }, "cluster=Westlands&window=fortnight"),
    ]
  ) {
    assert.equal((await problem(response)).parameter, "window");
  }
  // An empty body says no filters, whatever its type (before: "it is not JSON").
  const empty = await post({ "Content-Type": "application/json" }, "");
  assert.notEqual(empty.status, 400);
  await empty.body?.cancel();
  const emptyForm = await post({ "Content-Type": "multipart/form-data; boundary=x" }, "");
  assert.notEqual(emptyForm.status, 400); // before the review: "it is not a multipart form"
  await emptyForm.body?.cancel();
  const file = new FormData();
  file.set("cluster", new File(["x"], "x.txt"));
  const refused = await problem(await post({}, file));
  assert.equal(refused.parameter, "cluster");
  assert.equal(refused.detail, 'Cannot read "cluster" (a file): expected text or a number');
  // A file where the route reads nothing is ignored, as any field it does not read.
  const ignored = new FormData();
  ignored.set("attachment", new File(["x"], "x.txt"));
  ignored.set("window", "fortnight");
  assert.equal((await problem(await post({}, ignored))).parameter, "window");
});

Deno.test("a POSTed JSON body with a nested value, or not an object, is a 400", async () => {
  const { app } = appWith();
  const nested = await app.request("/webhook/inc-dashboard", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ cluster: { $ne: 1 } }),
  });
  assert.equal((await problem(nested)).parameter, "cluster");
  const array = await app.request("/webhook/inc-dashboard", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "[1,2]",
  });
  assert.equal(array.status, 400);
  const broken = await app.request("/webhook/inc-dashboard", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{",
  });
  assert.equal(broken.status, 400);
});

Deno.test("a compressed POST body is a 415 saying to send it uncompressed", async () => {
  const { app } = appWith();
  const gzipped = await new Response(
    new Blob(['{"window": "7d"}']).stream().pipeThrough(new CompressionStream("gzip")),
  ).arrayBuffer();
  const response = await app.request("/webhook/inc-dashboard", {
    method: "POST",
    headers: { "Content-Type": "application/json", "Content-Encoding": "gzip" },
    body: gzipped,
  });
  assert.equal(response.status, 415); // before: 400 "it is not JSON"
  assert.match(
    (await response.json()).detail,
    /^Cannot read a request body sent with Content-Encoding "gzip": send it uncompressed/,
  );
});

Deno.test("a POST body in another format is a 415", async () => {
  const { app } = appWith();
  const response = await app.request("/webhook/inc-dashboard", {
    method: "POST",
    headers: { "Content-Type": "text/xml" },
    body: "<window>7d</window>",
  });
  assert.equal(response.status, 415);
  // Every type it reads is named (before: text/plain, which it reads, was left out).
  assert.equal(
    (await response.json()).detail,
    'Cannot read the "text/xml" body: send application/json, application/x-www-form-urlencoded, ' +
      "multipart/form-data or text/plain (JSON or a form)",
  );
});

Deno.test("a text/plain body that is JSON but not an object is refused as JSON, not read as a form", async () => {
  const { app } = appWith();
  for (const body of ['["Westlands"]', "true", "null"]) {
    const response = await app.request("/webhook/inc-dashboard", {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body,
    });
    // Before: 200, every filter dropped (read as a form with no field).
    assert.equal(response.status, 400, body);
    assert.match((await response.json()).detail, /expected a JSON object/, body);
  }
});

Deno.test("a JSON body's true or false is refused as an object is, not read as text", async () => {
  const { app } = appWith();
  const response = await app.request("/webhook/inc-dashboard", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ cluster: true }),
  });
  assert.equal(response.status, 400); // before: 200, the cluster "true"
  const problem = await response.json();
  assert.equal(problem.parameter, "cluster");
  assert.equal(problem.detail, 'Cannot read "cluster" true: expected text or a number');
});

Deno.test("a JSON body's number too large for a double is refused, not read as Infinity", async () => {
  const { app } = appWith();
  const response = await app.request("/webhook/inc-dashboard", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: '{"from": 1e400}',
  });
  assert.equal(response.status, 400); // before: 400 naming the date "Infinity", not what was sent
  const problem = await response.json();
  assert.equal(problem.parameter, "from");
  assert.equal(problem.detail, 'Cannot read "from": the number is too large');
});

Deno.test("a JSON body's key given twice is a 400, as a query parameter given twice (not last-wins)", async () => {
  const { app } = appWith();
  for (
    const body of [
      '{"window": "7d", "window": "30d"}',
      '{"window": "7d", "cluster": "x", "win\\u0064ow": "30d"}', // the same key, escaped
      '{"cluster": "Westlands", "cluster": null}', // before: no cluster filter at all
    ]
  ) {
    const response = await app.request("/webhook/inc-dashboard", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body,
    });
    assert.equal(response.status, 400, body); // before: 200 for the 30-day window
    const problem = await response.json();
    const name = body.includes('cluster": null') ? "cluster" : "window";
    assert.equal(problem.parameter, name);
    assert.equal(problem.detail, `Parameter "${name}" is given 2 times`);
  }
  // A key inside a value's text, or a nested object's, is no top-level key.
  const response = await app.request("/webhook/inc-dashboard", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: '{"cluster": "window\\":", "window": "7d"}',
  });
  // (Past the parameters: this test's database answers nothing else.)
  assert.notEqual(response.status, 400, await response.text());
});

Deno.test("a POST body over 64 KB is a 413", async () => {
  const { app } = appWith();
  const response = await app.request("/webhook/inc-dashboard", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: "cluster=" + "x".repeat(10 * 1024 * 1024),
  });
  assert.equal(response.status, 413);
  await problem(response);
});

const ROUTES = [
  ["/webhook/tickets", "GET"],
  ["/webhook/inc-dashboard", "GET, POST"],
  ["/api/dashboard", "GET"],
  ["/api/tickets", "GET"],
  ["/api/tickets.csv", "GET"],
  ["/api/tickets/INC1", "GET"],
  ["/api/nearest", "GET"],
  ["/api/backlog", "GET"],
  ["/api/teams", "GET"],
  ["/api/health", "GET"],
  ["/api/config", "GET"],
  ["/", "GET"],
  ["/index.html", "GET"],
] as const;

for (const method of ["HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"]) {
  Deno.test(`${method} on every route is a 405 with Allow`, async () => {
    const db = fakeDatabase();
    const { app } = appWith({}, db);
    for (const [path, allow] of ROUTES) {
      const response = await app.request(path, { method });
      assert.equal(response.status, 405, `${method} ${path}`);
      assert.equal(response.headers.get("Allow"), allow, `${method} ${path}`);
    }
    assert.deepEqual(db.statements, []);
  });
}

Deno.test("POST is allowed only on the dashboard webhook", async () => {
  const { app } = appWith();
  const response = await app.request("/api/tickets", { method: "POST", body: "x=1" });
  assert.equal(response.status, 405);
  assert.equal(response.headers.get("Allow"), "GET");
});

Deno.test("an unknown API path is a problem+json 404", async () => {
  const { app } = appWith();
  const response = await app.request("/api/users");
  assert.equal(response.status, 404);
  await problem(response);
});

Deno.test("an error echoes at most 200 characters of a long path or parameter name", async () => {
  const { app } = appWith();
  const long = "x".repeat(63_000);
  const missing = await app.request(`/api/${long}`);
  assert.equal(missing.status, 404);
  const body = await missing.text(); // before: 63,087 bytes, the path whole
  assert.ok(body.length < 500, `${body.length} bytes`);
  assert.match(JSON.parse(body).detail, /^Nothing at "\/api\/x{195}… \(63005 characters\)"$/);
  const unknown = await app.request(`/api/tickets?${long}=1`);
  assert.equal(unknown.status, 400);
  const problem400 = JSON.parse(await unknown.text());
  assert.match(
    problem400.detail,
    /^Unknown parameter "x{40}… \(63000 characters\)" on \/api\/tickets/,
  );
  assert.equal(problem400.parameter, `${"x".repeat(200)}… (63000 characters)`);
});

Deno.test("paths with dot segments or encoded separators never reach the file system", async () => {
  const { app } = appWith();
  for (const path of ["/%2e%2e/deno.json", "/..%2fdeno.json", "/web/..%5c..%5cdeno.json"]) {
    const response = await app.request(path);
    assert.ok(response.status === 400 || response.status === 404, path);
    assert.doesNotMatch(await response.text(), /"imports"/, path);
  }
});

Deno.test("a ticket id holding NUL is refused in the words of a ticket's path", async () => {
  const { app } = appWith();
  const response = await app.request("/api/tickets/WO%001");
  assert.equal(response.status, 400);
  // Before: "it may not contain dot segments, encoded dots or slashes, backslashes or NUL",
  // though a ticket's path takes encoded slashes and dots within an id.
  assert.equal(
    (await response.json()).detail,
    'Cannot read the path: a ticket id may not be "." or ".." (encoded too) nor hold NUL',
  );
});

Deno.test("with SERVE_TOKEN set, /api and /webhook need the bearer token", async () => {
  const token = "s3cret-token-value";
  const { app, lines } = appWith({ token });
  for (const path of ["/api/config", "/webhook/tickets", "/api/health"]) {
    const missing = await app.request(path);
    assert.equal(missing.status, 401, path);
    const asked = await problem(missing);
    assert.equal(asked.status, 401);
    assert.equal(asked.detail, 'Send the API token as "Authorization: Bearer <token>"');
    const wrong = await app.request(path, { headers: { Authorization: "Bearer nope" } });
    assert.equal(wrong.status, 401, path);
    const text = await wrong.text();
    assert.ok(!text.includes(token));
    assert.match(JSON.parse(text).detail, /^The API token is wrong: send the one serve was given/);
    const basic = await app.request(path, { headers: { Authorization: `Basic ${btoa(token)}` } });
    assert.equal(basic.status, 401, path);
    assert.match((await problem(basic)).detail as string, /^The Authorization header is malformed/);
  }
  // The token comes first: without it, nothing is said about parameters.
  assert.equal((await app.request("/api/tickets?clustr=x")).status, 401);
  const right = await app.request("/api/config", { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(right.status, 200);
  // The page itself needs no token.
  assert.equal((await app.request("/")).status, 200);
  assert.ok(lines.length > 0);
  assert.ok(!JSON.stringify(lines).includes(token));
});

for (const corsOrigins of [[], ["https://ops.example.com"]]) {
  Deno.test(
    `with SERVE_TOKEN set${
      corsOrigins.length > 0 ? " and CORS on" : ""
    }, every /api and /webhook request without the token is the same 401, whatever its method or path`,
    async () => {
      const db = fakeDatabase();
      const { app } = appWith({ token: "s3cret-token-value", corsOrigins }, db);
      const paths = [
        "/api",
        "/api/health",
        "/api/tickets?clustr=x",
        "/api/tickets/WO%2F1",
        "/api/nonexist",
        "/api/nonexist/deeper",
        "/webhook/tickets",
        "/webhook/inc-dashboard",
        "/webhook/nonexist",
      ];
      for (const path of paths) {
        for (const method of ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]) {
          for (const origin of [undefined, "https://ops.example.com", "https://evil.example.com"]) {
            const response = await app.request(path, {
              method,
              headers: origin === undefined ? {} : { Origin: origin },
            });
            await response.body?.cancel();
            const what = `${method} ${path} from ${origin}`;
            assert.equal(response.status, 401, what);
            assert.equal(response.headers.get("Allow"), null, what);
            assert.equal(
              response.headers.get("WWW-Authenticate"),
              'Bearer realm="fleettickets"',
              what,
            );
          }
        }
      }
      assert.deepEqual(db.statements, []);
    },
  );
}

Deno.test("with SERVE_TOKEN set, a preflight needs no token (browsers send none), whatever its path", async () => {
  const listed = "https://ops.example.com";
  const { app } = appWith({ token: "s3cret-token-value", corsOrigins: [listed] });
  for (const path of ["/api/tickets", "/api/nonexist", "/webhook/inc-dashboard"]) {
    for (const origin of [listed, "https://evil.example.com"]) {
      const response = await app.request(path, {
        method: "OPTIONS",
        headers: { Origin: origin, "Access-Control-Request-Method": "GET" },
      });
      assert.equal(response.status, 204, `${path} from ${origin}`);
      assert.equal(
        response.headers.get("Access-Control-Allow-Origin"),
        origin === listed ? listed : null,
      );
    }
  }
  // A listed origin reads the 401 (CORS headers on it), and with the token gets the usual 405.
  const refused = await app.request("/api/config", { headers: { Origin: listed } });
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get("Access-Control-Allow-Origin"), listed);
  const authorization = "Bearer s3cret-token-value";
  const post = await app.request("/api/health", { method: "POST", headers: { authorization } });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("Allow"), "GET");
});

Deno.test("a wrong or malformed token's challenge names the realm too", async () => {
  const { app } = appWith({ token: "s3cret-token-value" });
  const wrong = await app.request("/api/config", { headers: { Authorization: "Bearer nope" } });
  assert.equal(
    wrong.headers.get("WWW-Authenticate"),
    'Bearer realm="fleettickets", error="invalid_token"',
  );
  const malformed = await app.request("/api/config", { headers: { Authorization: "Basic x" } });
  assert.equal(
    malformed.headers.get("WWW-Authenticate"),
    'Bearer realm="fleettickets", error="invalid_request"',
  );
});

Deno.test("CORS headers go to listed origins only, and preflights from them succeed", async () => {
  const origin = "https://ops.example.com";
  const { app } = appWith({ corsOrigins: [origin] });
  const allowed = await app.request("/api/config", { headers: { Origin: origin } });
  assert.equal(allowed.headers.get("Access-Control-Allow-Origin"), origin);
  for (const other of ["https://evil.example.com", "https://ops.example.com.evil.io", "null"]) {
    const refused = await app.request("/api/config", { headers: { Origin: other } });
    assert.equal(refused.headers.get("Access-Control-Allow-Origin"), null, other);
  }
  const preflight = await app.request("/api/tickets", {
    method: "OPTIONS",
    headers: { Origin: origin, "Access-Control-Request-Method": "GET" },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("Access-Control-Allow-Origin"), origin);
  const foreign = await app.request("/api/tickets", {
    method: "OPTIONS",
    headers: { Origin: "https://evil.example.com", "Access-Control-Request-Method": "GET" },
  });
  assert.equal(foreign.status, 204); // the status does not tell which origins are listed
  const cors = [...foreign.headers.keys()].filter((name) => name.startsWith("access-control-"));
  assert.deepEqual(cors, []);
});

Deno.test("with CORS on, OPTIONS on a path answers the same status whatever the origin, and every answer varies by Origin", async () => {
  const listed = "https://ops.example.com";
  const { app } = appWith({ corsOrigins: [listed] });
  const origins = [listed, "https://evil.example.com", undefined];
  const paths = ["/", "/index.html", "/api/tickets", "/api/users", "/webhook/inc-dashboard"];
  for (const path of paths) {
    for (const preflight of [true, false]) {
      const statuses = new Set<number>();
      for (const origin of origins) {
        const response = await app.request(path, {
          method: "OPTIONS",
          headers: {
            ...(origin === undefined ? {} : { Origin: origin }),
            ...(preflight ? { "Access-Control-Request-Method": "GET" } : {}),
          },
        });
        await response.body?.cancel();
        statuses.add(response.status);
        assert.match(response.headers.get("Vary") ?? "", /Origin/, `${path} from ${origin}`);
        const cors = response.headers.get("Access-Control-Allow-Origin");
        assert.equal(cors, origin === listed && response.status === 204 ? listed : null);
      }
      assert.equal(
        statuses.size,
        1,
        `OPTIONS ${path}${preflight ? " (preflight)" : ""}: ${[...statuses]}`,
      );
    }
  }
  const answers = [
    await app.request("/api/tickets", { method: "POST", body: "x=1" }), // 405
    await app.request("/api/tickets", { method: "PUT", headers: { Origin: listed } }), // 405
    await app.request("/api/users", { headers: { Origin: listed } }), // 404
    await app.request("/api/tickets?clustr=x"), // 400
    await app.request("/%2e%2e/deno.json"), // 400
    await app.request("/"), // the page
  ];
  for (const response of answers) {
    await response.body?.cancel();
    assert.match(response.headers.get("Vary") ?? "", /Origin/, `${response.status}`);
    assert.doesNotMatch(response.headers.get("Vary") ?? "", /Origin.*Origin/);
  }
});

Deno.test("a listed origin's revalidation of /api/config is a 304 with its CORS headers", async () => {
  // Before: Hono's ETag middleware dropped them from the 304, and the browser blocked it.
  const origin = "https://ops.example.com";
  const { app } = appWith({ corsOrigins: [origin] });
  const first = await app.request("/api/config", { headers: { Origin: origin } });
  await first.body?.cancel();
  const tag = first.headers.get("ETag")!;
  assert.match(tag, /^W\/"/);
  const again = await app.request("/api/config", {
    headers: { Origin: origin, "If-None-Match": tag },
  });
  assert.equal(again.status, 304);
  assert.equal(again.headers.get("Access-Control-Allow-Origin"), origin);
  assert.equal(again.headers.get("Access-Control-Expose-Headers"), "ETag");
  assert.equal(again.headers.get("Cache-Control"), "no-cache");
  const other = await app.request("/api/config", {
    headers: { Origin: "https://evil.example.com", "If-None-Match": tag },
  });
  assert.equal(other.status, 304);
  assert.equal(other.headers.get("Access-Control-Allow-Origin"), null);
});

Deno.test("without DASHBOARD_CORS_ORIGINS no response carries CORS headers", async () => {
  const { app } = appWith();
  const response = await app.request("/api/config", { headers: { Origin: "https://a.example" } });
  assert.equal(response.headers.get("Access-Control-Allow-Origin"), null);
});

Deno.test("/api/config gives the page its settings", async () => {
  const { app } = appWith({
    tilesUrl: "https://tiles.example/{z}/{x}/{y}.png",
    staleAfterHours: 3,
  });
  assert.deepEqual(await (await app.request("/api/config")).json(), {
    tilesUrl: "https://tiles.example/{z}/{x}/{y}.png",
    pmtiles: false,
    staleAfterHours: 3,
    embedded: false,
    demo: false,
  });
  // On the embedded database the stale banner says no ingest runs beside serve (a tester's).
  const pglite = { ...fakeDatabase(() => []), kind: "pglite" as const };
  const { app: embedded } = appWith({}, pglite);
  assert.equal((await (await embedded.request("/api/config")).json()).embedded, true);
  // Serving the demo's database, which no ingest writes, it says that instead (a newcomer's).
  const { app: demo } = appWith({}, pglite, { demo: true });
  const config = await (await demo.request("/api/config")).json();
  assert.deepEqual([config.embedded, config.demo], [true, true]);
});

Deno.test("a database error is a 500 whose body and log line hold no secret", async () => {
  const db = fakeDatabase(() => {
    throw new Error("password authentication failed: postgres://u:s3cret-token-value@db/x");
  });
  const { app, lines } = appWith({}, db);
  const response = await app.request("/api/tickets");
  assert.equal(response.status, 500);
  const text = await response.text();
  assert.ok(!text.includes("s3cret"));
  assert.ok(!JSON.stringify(lines).includes("s3cret-token-value"));
});

Deno.test("a lost database is a 503, a statement timeout a 503 naming the limit", async () => {
  const lost = appWith(
    {},
    fakeDatabase(() => {
      throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    }),
  );
  assert.equal((await lost.app.request("/api/tickets")).status, 503);
  assert.equal((await lost.app.request("/api/health")).status, 503);
  const slow = appWith(
    {},
    fakeDatabase((text) => {
      if (text.includes("import_meta")) return [];
      throw Object.assign(new Error("canceling statement due to statement timeout"), {
        code: "57014",
      });
    }),
  );
  const response = await slow.app.request("/api/tickets");
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("Retry-After"), "5"); // before: none
  assert.match((await problem(response)).detail, /5 s \(a large selection, or another session/);
});

Deno.test("health that cannot read the datasets' state is a 503 logged in our words, without the error's class", async () => {
  class PostgresError extends Error {
    override name = "PostgresError";
    code = "42501";
  }
  const { app, lines } = appWith(
    {},
    fakeDatabase((text) => {
      if (text.includes("import_meta")) {
        throw new PostgresError("permission denied for table import_meta");
      }
      return [];
    }),
  );
  const response = await app.request("/api/health");
  assert.equal(response.status, 503);
  assert.deepEqual(await response.json(), { ok: false, database: "postgres", datasets: [] });
  const failed = lines.filter((line) => line.event === "health_failed");
  assert.deepEqual(failed, [{
    level: "error",
    event: "health_failed",
    error:
      "Cannot read the datasets' state from tickets.import_meta: permission denied for table import_meta",
  }]);
});

Deno.test("a database dropped, closed to connections or refusing serve's login is a 503, not a 500", async () => {
  const cases: [string, string][] = [
    ["3D000", 'database "fleet" does not exist'],
    ["55000", 'database "fleet" is not currently accepting connections'],
    ["57P04", "database dropped"],
    ["28P01", 'password authentication failed for user "reader"'],
    ["28000", 'role "reader" is not permitted to log in'],
    ["08001", "could not establish connection"],
  ];
  for (const [code, message] of cases) {
    const { app } = appWith(
      {},
      fakeDatabase(() => {
        throw Object.assign(new Error(message), { code });
      }),
    );
    for (const path of ["/api/tickets", "/api/nearest?lon=36.8&lat=-1.29", "/api/dashboard"]) {
      const response = await app.request(path);
      assert.equal(response.status, 503, `${code} on ${path}`);
      assert.equal(response.headers.get("Retry-After"), "5", `${code} on ${path}`);
      assert.equal((await problem(response)).detail, "The database cannot be reached");
    }
  }
});

Deno.test("CORS headers go only to a listed origin; every answer varies by Origin", async () => {
  const { app } = appWith({ corsOrigins: ["https://ops.example.com"] });
  const listed = await app.request("/api/config", {
    headers: { Origin: "https://ops.example.com" },
  });
  assert.equal(listed.headers.get("Access-Control-Allow-Origin"), "https://ops.example.com");
  assert.equal(listed.headers.get("Access-Control-Expose-Headers"), "ETag");
  assert.match(listed.headers.get("Vary") ?? "", /Origin/);
  const origins = [
    "https://evil.example",
    "http://ops.example.com",
    "https://OPS.example.com",
    "null",
  ];
  for (const origin of [...origins, undefined]) {
    const response = await app.request("/api/config", {
      headers: origin === undefined ? {} : { Origin: origin },
    });
    const cors = [...response.headers.keys()].filter((name) => name.startsWith("access-control-"));
    assert.deepEqual(cors, [], `no CORS header for ${origin ?? "no Origin"}`);
    assert.match(response.headers.get("Vary") ?? "", /Origin/);
  }
});

Deno.test("a CSV export whose client goes away stops fetching and logs the rows it sent", async () => {
  const row = Object.fromEntries(CSV_COLUMNS.map((name) => [name, "x"]));
  const db = fakeDatabase((text) => text.startsWith("fetch forward") ? Array(2000).fill(row) : []);
  const { app, lines } = appWith({}, db);
  const response = await app.request("/api/tickets.csv?open_only=false");
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  let received = "";
  while (!received.includes("\r\nx,")) {
    received += new TextDecoder().decode((await reader.read()).value);
  }
  await reader.cancel();
  const fetches = () => db.statements.filter((t) => t.startsWith("fetch forward")).length;
  const atCancel = fetches();
  for (let i = 0; i < 50 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(lines.length, 1);
  const line = lines[0]!;
  assert.equal(line.path, "/api/tickets.csv");
  assert.ok((line.rows as number) >= 2000, `rows ${line.rows}`);
  assert.match(String(line.error), /the client closed the connection$/);
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(fetches() <= atCancel + 1, "no fetch after the one in flight (the rows never end)");
});

Deno.test("a CSV export whose client leaves after the whole file was read logs the rows it took, with an error", async () => {
  const row = Object.fromEntries(CSV_COLUMNS.map((name) => [name, "x"]));
  let pages = 0;
  const db = fakeDatabase((text) =>
    text.startsWith("fetch forward") && pages++ < 10 ? Array(2000).fill(row) : []
  );
  const { app, lines } = appWith({}, db);
  const response = await app.request("/api/tickets.csv?open_only=false");
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  await reader.read(); // the header
  await reader.read(); // the first 2,000 rows
  // The database has given all 20,000 rows by now: the export reads at its own pace.
  for (let i = 0; i < 50 && pages <= 10; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(pages, 11);
  await reader.cancel();
  for (let i = 0; i < 50 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  const line = lines[0]!;
  assert.equal(line.status, 200);
  assert.ok((line.rows as number) < 20_000, `rows ${line.rows}: the rows taken, not read`);
  assert.ok((line.rows as number) >= 2000, `rows ${line.rows}`);
  assert.match(String(line.error), /the client closed the connection$/);
});

Deno.test("a CSV export read to its end logs every row", async () => {
  const row = Object.fromEntries(CSV_COLUMNS.map((name) => [name, "x"]));
  let pages = 0;
  const db = fakeDatabase((text) =>
    text.startsWith("fetch forward") && pages++ < 3 ? Array(2000).fill(row) : []
  );
  const { app, lines } = appWith({}, db);
  const response = await app.request("/api/tickets.csv?open_only=false");
  const text = await response.text();
  assert.equal(text.split("\r\n").length, 1 + 6000 + 1);
  for (let i = 0; i < 50 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(lines[0]!.rows, 6000);
  assert.equal(lines[0]!.error, undefined);
});

Deno.test("a ticket id with spaces, accents, quotes or a # is looked up as it is (a parameter)", async () => {
  const asked: unknown[] = [];
  const db = fakeDatabase((_text, params) => {
    if (params.length === 3) asked.push(params[0]); // readTicket's (id, now, dataset)
    return [];
  });
  const { app } = appWith({}, db);
  // A "/" and 200 characters, as ingest takes them (a tester's "A<b>1</b>" was a 400).
  // A backslash too, encoded (before: a 400). Not "." or "..": a URL resolves them, even encoded.
  const ids = [
    "WOT 0799 A",
    "Tükét-1",
    "WOT#1",
    "INC'; drop",
    "x".repeat(200),
    "DD_HTML<b>1</b>",
    "WOT\\1",
    "v1.2..3",
  ];
  for (const id of ids) {
    const response = await app.request(`/api/tickets/${encodeURIComponent(id)}`);
    assert.equal(response.status, 404, id);
    assert.equal((await problem(response)).detail, `No ticket "${id}" in INC or CRQ`);
  }
  assert.deepEqual(asked, ids);
});

Deno.test("every request writes one access-log line: method, path without query, status, ms, rows", async () => {
  const { app, lines } = appWith();
  await app.request("/api/nearest?lon=1&lat=95&token=abc");
  assert.equal(lines.length, 1);
  const line = lines[0]!;
  assert.deepEqual(Object.keys(line).sort(), ["event", "method", "ms", "path", "rows", "status"]);
  assert.equal(line.path, "/api/nearest");
  assert.equal(line.status, 400);
});

Deno.test("/api/config carries a weak ETag and Cache-Control: no-cache, and a repeat is a 304", async () => {
  const { app } = appWith();
  const first = await app.request("/api/config");
  // Before: neither header, so a cache could keep a server's old settings.
  assert.equal(first.headers.get("Cache-Control"), "no-cache");
  const tag = first.headers.get("ETag");
  assert.match(tag ?? "", /^W\/"/);
  const again = await app.request("/api/config", { headers: { "If-None-Match": tag! } });
  assert.equal(again.status, 304);
});

Deno.test("a 304 carries Vary: Accept-Encoding as its 200 does, and so does a short 200", async () => {
  const { app } = appWith();
  for (const path of ["/api/config", "/"]) {
    const first = await app.request(path, { headers: { "Accept-Encoding": "gzip" } });
    assert.equal(first.status, 200, path);
    await first.body?.cancel();
    // Before: only an answer of 1 KB or more (/api/config is ~300 bytes), and never a 304.
    assert.equal(first.headers.get("Vary"), "Accept-Encoding", path);
    const again = await app.request(path, {
      headers: { "Accept-Encoding": "gzip", "If-None-Match": first.headers.get("ETag")! },
    });
    assert.equal(again.status, 304, path);
    assert.equal(again.headers.get("Vary"), "Accept-Encoding", path);
  }
});

Deno.test("a database that answers nothing (stopped, or packets dropped) gets a 503 within the deadline, health and reads alike", async () => {
  // Before: both waited as long as the database did (80 s in a tester's run with SIGSTOP).
  const frozen = fakeDatabase();
  const never = () => new Promise<never>(() => {});
  frozen.query = never;
  frozen.transaction = never;
  const { app, lines } = appWith({ statementTimeoutMs: 100 }, frozen);
  for (const [path, limitMs] of [["/api/health", 1100], ["/api/tickets", 1200]] as const) {
    const started = performance.now();
    const response = await app.request(path);
    const took = performance.now() - started;
    assert.equal(response.status, 503, path);
    assert.ok(took >= limitMs - 50 && took < limitMs + 1000, `${path}: ${took} ms`);
    if (path === "/api/health") {
      assert.deepEqual(await response.json(), { ok: false, database: "postgres", datasets: [] });
    } else {
      const body = await problem(response);
      assert.match(
        body.detail,
        /^The database did not answer within 1\.2 s \(serve's connections all busy with other requests, or the database stopped, overloaded or unreachable\); try again$/,
      );
      assert.equal(response.headers.get("Retry-After"), "5");
    }
  }
  assert.ok(lines.some((l) => l.event === "health_failed"));
  assert.ok(lines.some((l) => l.event === "request_failed" && l.path === "/api/tickets"));
});
