// startServer's wiring of the remembered data version: listening for changes, and going on
// without them (a replica cannot LISTEN) on SERVE_VERSION_TTL alone.

import assert from "node:assert/strict";
import type { Config } from "../app/config.ts";
import type { DataVersion } from "../core/data_version.ts";
import type { Database } from "../core/ports/mod.ts";
import { fakeDatabase } from "./_fake_database.ts";
import { startServer, type StartServerOptions } from "./server.ts";
import { VersionCache } from "./version_cache.ts";
import { LargeReads } from "./_large_reads.ts";
import { CSV_COLUMNS } from "../core/read_tickets_csv.ts";

const SETTINGS: Config["serve"] = {
  corsOrigins: [],
  statementTimeoutMs: 5000,
  staleAfterHours: 2,
  versionTtlMs: 1000,
};

/** A server on a free port logging into `lines`, with `options` over the defaults. */
function start(
  db: Database,
  lines: Record<string, unknown>[],
  options: Partial<StartServerOptions> = {},
) {
  return startServer({
    db,
    settings: SETTINGS,
    webRoot: "./.data/no-such-web-root/",
    now: () => new Date("2026-06-15T12:00:00+03:00"),
    log: (entry) => lines.push(entry),
    redact: (text) => text.replaceAll("pw-never-shown", "***"),
    host: "127.0.0.1",
    port: 0,
    ...options,
  });
}

Deno.test("a change notification makes the server forget the data version", async () => {
  let notify: () => void = () => {};
  let stopped = false;
  const db: Database = {
    ...fakeDatabase(),
    listen: (_channel, onEvent) => {
      notify = onEvent;
      return Promise.resolve(() => Promise.resolve(void (stopped = true)));
    },
  };
  const versions = new VersionCache<DataVersion>(60_000);
  const server = await start(db, [], { versions });
  assert.equal(await server.listening, true);
  versions.store(versions.begin(), { datasets: [], token: "v1" });
  const forgotten = versions.invalidated();
  notify();
  await forgotten;
  assert.equal(versions.fresh(), undefined);
  await server.shutdown();
  assert.equal(stopped, true, "stops listening when it stops");
});

Deno.test("a database that cannot listen leaves the server up, on the TTL alone, with a warning", async () => {
  const db: Database = {
    ...fakeDatabase(),
    listen: () =>
      Promise.reject(new Error("cannot execute LISTEN during recovery (pw-never-shown)")),
  };
  const lines: Record<string, unknown>[] = [];
  const server = await start(db, lines);
  try {
    assert.equal(await server.listening, false);
    const warning = lines.find((line) => line.event === "not_listening");
    assert.equal(warning?.level, "warn");
    assert.equal(warning?.versionTtlMs, 1000);
    assert.doesNotMatch(JSON.stringify(lines), /pw-never-shown/);
    const config = await fetch(`http://127.0.0.1:${server.port}/api/config`);
    assert.equal(config.status, 200);
    await config.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

/**
 * A database whose CSV export gives `pages` pages of 2,000 rows (~200 KB each), then ends, or
 * with `failLater`, fails 200 ms later on a statement timeout.
 */
function exportingDatabase(pages: number, failLater = false, fetchMs = 0): Database {
  // fetchMs: each fetch takes that long (an export still reading while the test looks at it).
  const row = Object.fromEntries(CSV_COLUMNS.map((name) => [name, "x".repeat(3)]));
  let fetched = 0;
  const base = fakeDatabase((text) => {
    if (!text.startsWith("fetch forward")) return [];
    if (fetched++ < pages) return Array(2000).fill(row);
    if (failLater) {
      throw Object.assign(new Error("canceling statement due to statement timeout"), {
        code: "57014",
      });
    }
    return [];
  });
  return {
    ...base,
    transaction: (fn) =>
      base.transaction((tx) =>
        fn({
          ...tx,
          query: async (text, params) => {
            if (failLater && fetched >= pages && text.startsWith("fetch forward")) {
              await new Promise((resolve) => setTimeout(resolve, 200));
            }
            if (fetchMs > 0 && text.startsWith("fetch forward")) {
              await new Promise((resolve) => setTimeout(resolve, fetchMs));
            }
            return await tx.query(text, params);
          },
        })
      ),
  };
}

/** Opens a connection, sends `GET path` and reads only the first bytes of the answer. */
async function stalledClient(port: number, path: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
  const head = new Uint8Array(1024);
  await conn.read(head); // the response has begun; now it is never read again
  return conn;
}

Deno.test("a POST whose client leaves before its whole body is a 499 in the access log, not a server error; CONNECT is a 405 that names no path", async () => {
  const lines: Record<string, unknown>[] = [];
  const server = await start(fakeDatabase(() => []), lines);
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(new TextEncoder().encode(
      "POST /webhook/inc-dashboard HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
        'Content-Length: 100\r\n\r\n{"window":',
    ));
    await new Promise((resolve) => setTimeout(resolve, 200));
    conn.close(); // gone before the other 89 bytes
    await until(() => lines.some((line) => line.event === "request"));
    // Before: "request_failed … Cannot read body as underlying resource unavailable", then 500.
    assert.deepEqual(lines.filter((line) => line.event === "request_failed"), []);
    assert.equal(lines.find((line) => line.event === "request")?.status, 499);

    const proxy = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await proxy.write(
      new TextEncoder().encode(
        "CONNECT evil.example.com:443 HTTP/1.1\r\nHost: evil.example.com:443\r\n\r\n",
      ),
    );
    const answer = new Uint8Array(4096);
    const n = await proxy.read(answer);
    proxy.close();
    const text = new TextDecoder().decode(answer.subarray(0, n ?? 0));
    assert.match(text, /^HTTP\/1\.1 405/);
    assert.match(text, /"detail":"CONNECT is not allowed: serve is no proxy"/); // before: on "3"
  } finally {
    await server.shutdown();
  }
});

Deno.test("a client that never reads holds shutdown only for the grace, then its response is cut and logged", async () => {
  const lines: Record<string, unknown>[] = [];
  // ~10 MB: more than the socket buffers take
  const server = await start(exportingDatabase(50), lines, { stop: { graceMs: 400 } });
  const conn = await stalledClient(server.port, "/api/tickets.csv?open_only=false");
  try {
    assert.equal(server.inFlight, 1);
    const began = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stopped = await Promise.race([
      server.shutdown().then(() => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), 5000)),
    ]);
    clearTimeout(timer);
    assert.ok(stopped, "shutdown resolved");
    const took = performance.now() - began;
    assert.ok(took >= 400 && took < 1500, `took ${took} ms`);
    const cut = lines.find((line) => line.event === "responses_cut");
    assert.equal(cut?.level, "warn");
    assert.equal(cut?.responses, 1);
    assert.match(
      String(cut?.error),
      /^Cut 1 response still being answered or sent 0\.4 s after the stop signal/,
    );
    const request = lines.find((line) => line.event === "request");
    assert.equal(request?.path, "/api/tickets.csv");
    assert.match(String(request?.error), /the server stopped 0\.4 s after the stop signal/);
    assert.ok((request?.rows as number) < 100_000, `rows ${request?.rows}: taken, not read`);
  } finally {
    conn.close();
    await new Promise((resolve) => setTimeout(resolve, 100)); // Deno's server sees the close
  }
});

Deno.test("a request still waiting on the database at the cut gets a 503 and its access-log line", async () => {
  const lines: Record<string, unknown>[] = [];
  const base = fakeDatabase();
  const waiting: Database = { ...base, transaction: () => new Promise(() => {}) }; // never answers
  const server = await start(waiting, lines, { stop: { graceMs: 300 } });
  const answer = fetch(`http://127.0.0.1:${server.port}/api/health`);
  while (server.inFlight === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  await server.shutdown();
  const response = await answer;
  assert.equal(response.status, 503);
  await response.body?.cancel();
  // It was answered 503 with no access-log line at all.
  const request = lines.find((line) => line.event === "request");
  assert.deepEqual(
    [request?.method, request?.path, request?.status, request?.error],
    ["GET", "/api/health", 503, "The server stopped before this request was answered"],
  );
  assert.match(
    String(lines.find((line) => line.event === "responses_cut")?.error),
    /^Cut 1 response still being answered or sent/,
  );
});

Deno.test("a request cut by the stop is logged once, also when its handler ends after", async () => {
  const lines: Record<string, unknown>[] = [];
  const base = fakeDatabase();
  // The database answers (a failure, as a cancelled statement) 300 ms after the cut.
  let cutDone = () => {};
  const cutSeen = new Promise<void>((resolve) => cutDone = resolve);
  const late: Database = {
    ...base,
    transaction: () =>
      cutSeen.then(() => new Promise((_, reject) => setTimeout(() => reject(new Error("x")), 300))),
  };
  const server = await start(late, lines, { stop: { graceMs: 300 } });
  const answer = fetch(`http://127.0.0.1:${server.port}/api/health`);
  while (server.inFlight === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  await server.shutdown();
  cutDone();
  const response = await answer;
  assert.equal(response.status, 503);
  await response.body?.cancel();
  await new Promise((resolve) => setTimeout(resolve, 500)); // the handler has ended by now
  // Before: two lines, the stop's 503 and the handler's once it ended.
  const requests = lines.filter((line) => line.event === "request");
  assert.equal(requests.length, 1, JSON.stringify(requests));
  assert.equal(requests[0]?.error, "The server stopped before this request was answered");
});

Deno.test("a CSV export that fails once sent is logged request_failed with its method and path", async () => {
  const lines: Record<string, unknown>[] = [];
  const server = await start(exportingDatabase(1, true), lines);
  try {
    const response = await fetch(
      `http://127.0.0.1:${server.port}/api/tickets.csv?open_only=false`,
    );
    assert.equal(response.status, 200); // sent before the failure
    await assert.rejects(response.text());
    for (let i = 0; i < 50 && !lines.some((l) => l.event === "request_failed"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const failed = lines.find((line) => line.event === "request_failed");
    assert.equal(failed?.method, "GET");
    assert.equal(failed?.path, "/api/tickets.csv");
    assert.match(String(failed?.error), /statement timeout/);
  } finally {
    await server.shutdown();
  }
});

/** `Deno.serve`'s error when an accept finds no file descriptor. */
const OUT_OF_FILES = "Error: Too many open files (os error 24)";

/**
 * A `Deno.serve` whose servers stop accepting when `trip()` is called (as Deno's does on EMFILE:
 * `finished` rejects, the connections it has stay served): the last one started; the starts
 * numbered in `failing` (1 is the first) fail as a socket() without descriptors does.
 */
function runningOutOfFiles(failing: (call: number) => boolean) {
  let calls = 0;
  let trip: () => void = () => {};
  const denoServe = (options: Deno.ServeTcpOptions, handler: Deno.ServeHandler) => {
    calls++;
    if (failing(calls)) throw new Error("Too many open files (os error 24)");
    const real = Deno.serve(options, handler);
    const finished = new Promise<void>((_, reject) => {
      trip = () => reject(new Deno.errors.Http(OUT_OF_FILES));
    });
    return { ...real, addr: real.addr, finished, shutdown: () => real.shutdown() };
  };
  return { denoServe, trip: () => trip(), starts: () => calls };
}

async function until(condition: () => boolean) {
  for (let i = 0; i < 200 && !condition(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(condition(), "in time");
}

Deno.test("a server out of file descriptors listens again on its address with back-off, logging why and what to do", async () => {
  const lines: Record<string, unknown>[] = [];
  const files = runningOutOfFiles((call) => call === 2 || call === 3);
  const server = await start(fakeDatabase(), lines, {
    acceptRetry: { firstMs: 10, maxMs: 1000 },
    denoServe: files.denoServe,
  });
  try {
    files.trip();
    await until(() => lines.some((line) => line.event === "listening_again"));
    const events = lines.filter((line) => line.event !== "request");
    assert.deepEqual(
      events.map((line) => [line.event, line.retryInMs]),
      [["accept_failed", 10], ["listen_failed", 20], ["listen_failed", 40], [
        "listening_again",
        undefined,
      ]],
    );
    assert.match(
      String(events[0]!.error),
      /^Stopped accepting connections on 127\.0\.0\.1:\d+: the process ran out of file descriptors \("Too many open files"\); closing the idle connections, listening again in 0\.01 s; raise the limit of open files \(ulimit -n; LimitNOFILE= in a systemd unit; --ulimit nofile= with Docker\) or put a reverse proxy \(nginx, Caddy\) in front of serve to hold idle and slow clients$/,
    );
    assert.equal(events[3]!.url, `http://127.0.0.1:${server.port}/`);
    const response = await fetch(`http://127.0.0.1:${server.port}/api/config`);
    assert.equal(response.status, 200);
    await response.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

Deno.test("a server that cannot listen again for long ends, naming the limit of open files and the fix", async () => {
  const files = runningOutOfFiles((call) => call > 1);
  const server = await start(fakeDatabase(), [], {
    acceptRetry: { firstMs: 10, maxMs: 20, giveUpMs: 100 },
    denoServe: files.denoServe,
  });
  files.trip();
  await assert.rejects(
    server.finished,
    new RegExp(
      `^Error: Cannot accept connections on 127\\.0\\.0\\.1:${server.port}: the process has had ` +
        `no file descriptor to spare for 0\\.1 s \\("Too many open files": each connection holds ` +
        `one, idle ones too\\); raise the limit of open files \\(ulimit -n; `,
    ),
  );
});

Deno.test("a server whose new listener runs out again soon waits longer each time, and goes on while it can listen", async () => {
  const lines: Record<string, unknown>[] = [];
  const files = runningOutOfFiles(() => false);
  const server = await start(fakeDatabase(), lines, {
    // Listening again never fails here: giving up is only for that.
    acceptRetry: { firstMs: 10, maxMs: 30, giveUpMs: 1 },
    denoServe: files.denoServe,
  });
  try {
    for (let starts = 2; starts <= 5; starts++) {
      files.trip(); // clients fill it again at once
      await until(() => files.starts() === starts);
    }
    assert.deepEqual(
      lines.filter((line) => line.event === "accept_failed").map((line) => line.retryInMs),
      [10, 20, 30, 30],
    );
    const response = await fetch(`http://127.0.0.1:${server.port}/api/config`);
    assert.equal(response.status, 200);
    await response.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

/** A database whose ticket pages hold `features` (the version and the rest read nothing). */
function pagesDatabase(features: string): Database {
  return fakeDatabase((text) =>
    text.includes("json_agg") ? [{ matched: 9000, returned: 9000, features }] : []
  );
}

Deno.test("a large page whose client never reads holds one of the large-read slots until it is cut; meanwhile the next large page is a 503 with Retry-After, small reads answer at once", async () => {
  const feature = `{"type":"Feature","geometry":null,"properties":{"x":"${"a".repeat(560)}"}}`;
  const features = `[${Array(9000).fill(feature).join(",")}]`; // ~5.4 MB: held while sent
  const reads = new LargeReads({ slots: 1, queue: 0, stallMs: 600 });
  const lines: Record<string, unknown>[] = [];
  const server = await start(pagesDatabase(features), lines, {
    largeReads: reads,
  });
  const url = `http://127.0.0.1:${server.port}`;
  const stalled = await stalledClient(server.port, "/api/tickets?limit=50000&open_only=false");
  try {
    assert.equal(reads.busy, 1);
    const refused = await fetch(`${url}/api/tickets?limit=20000`);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("Retry-After"), "5");
    assert.equal(refused.headers.get("Content-Type"), "application/problem+json");
    assert.match(
      (await refused.json()).detail,
      /^Cannot read "\/api\/tickets" now: the 1 large read allowed at once \(pages or CSV exports that may hold more than 5000 tickets: a limit over 5000, the export's default of 50000 included; map payloads of every ticket\) is being built or sent and 0 more wait; try again in 5 s, or ask for 5000 or fewer a page \(limit=5000, then next\)$/,
    );
    const small = await fetch(`${url}/api/tickets?limit=100`);
    assert.equal(small.status, 200);
    await small.body?.cancel();
    // The map payload of every ticket, closed ones too, is a large read (it went around them).
    const everything = await fetch(`${url}/webhook/tickets?open_only=false`);
    assert.equal(everything.status, 503);
    assert.match((await everything.json()).detail, /^Cannot read "\/webhook\/tickets" now: /);
    // The stalled client is cut after 0.6 s without taking anything: its slot is free again.
    await until(() => reads.busy === 0);
    // Its access line says so (before: "200, 9000 rows" when built, then a request_failed line
    // naming neither method nor path).
    const cutLine = (line: Record<string, unknown>) =>
      line.event === "request" && line.path === "/api/tickets" && line.error !== undefined;
    await until(() => lines.some(cutLine));
    assert.match(
      String(lines.find(cutLine)?.error),
      /^The response stopped before its last row: the client took nothing for 0\.6 s \(it had taken \d+ of \d+ bytes in \d+ s\)$/,
    );
    assert.deepEqual(lines.filter((line) => line.event === "request_failed"), []);
    const next = await fetch(`${url}/api/tickets?limit=50000`);
    assert.equal(next.status, 200);
    assert.equal((await next.json()).features.length, 9000);
    assert.equal(reads.busy, 0);
  } finally {
    stalled.close();
    await server.shutdown();
  }
});

Deno.test("CSV exports take the large-read places while their rows are read (a second one is a 503, small reads answer); an export whose client takes nothing is cut, its place and memory freed", async () => {
  // Before: no bound: 8 exports held all 8 connections (/api/health waited 7.5 s), and a
  // client that never read kept its export in memory as long as it kept the connection.
  // A least rate far above what the socket buffers hold per second: the 0.6 s grace decides.
  const reads = new LargeReads({ slots: 1, queue: 0, stallMs: 600, minBytesPerSecond: 64 << 20 });
  const lines: Record<string, unknown>[] = [];
  const server = await start(exportingDatabase(50, false, 10), lines, { largeReads: reads });
  const url = `http://127.0.0.1:${server.port}`;
  const stalled = await stalledClient(server.port, "/api/tickets.csv?open_only=false");
  try {
    assert.equal(reads.busy, 1, "the export holds a place while its rows are read");
    const refused = await fetch(`${url}/api/tickets.csv`);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("Retry-After"), "5");
    assert.match(
      (await refused.json()).detail,
      /^Cannot read "\/api\/tickets\.csv" now: the 1 large read allowed at once \(pages or CSV exports that may hold more than 5000 tickets: a limit over 5000, the export's default of 50000 included; map payloads of every ticket\) is being built or sent and 0 more wait; try again in 5 s, or export 5000 tickets or fewer at a time \(limit=5000, then after=DATASET:TICKET_ID of the last row\)$/,
    );
    const small = await fetch(`${url}/api/config`);
    assert.equal(small.status, 200);
    await small.body?.cancel();
    await until(() => reads.busy === 0); // read (50 fetches of 10 ms): the place is free again
    const cut = (line: Record<string, unknown>) =>
      line.event === "request" && line.status === 200 && line.error !== undefined;
    await until(() => lines.some(cut));
    const request = lines.find(cut);
    assert.equal(request?.path, "/api/tickets.csv");
    assert.match(
      String(request?.error),
      /^The response stopped before its last row: the client fell behind after \d+ rows were sent \(its rows waited \d+ s for it in all\): too slow \(it must take 65536 KiB\/s on average, after 0\.6 s of grace\)$/,
    );
    assert.ok((request?.rows as number) < 100_000, `rows ${request?.rows}: taken, not read`);
    assert.deepEqual(lines.filter((line) => line.event === "request_failed"), []);
  } finally {
    stalled.close();
    await server.shutdown();
  }
});

Deno.test("an export client reading steadily at 3 times the least rate is not cut, though the server takes megabytes ahead of its socket", async () => {
  // Before: cut when a batch waited 0.6 s, and the server asks for the next only once the
  // megabytes it took ahead have drained (a client at 48 KiB/s was cut at 20 s by the defaults;
  // the average rule itself: _export_stream_test.ts). The grace covers this thread building the
  // whole export at once (0.3-0.5 s, the client and the server sharing it): 0.3 s cut it at
  // random (1 run in 4).
  const floor = 2 << 20; // 2 MiB/s
  const reads = new LargeReads({ stallMs: 1500, minBytesPerSecond: floor });
  const lines: Record<string, unknown>[] = [];
  const server = await start(exportingDatabase(100), lines, { largeReads: reads }); // ~17.6 MB
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await conn.write(
      new TextEncoder().encode("GET /api/tickets.csv?open_only=false HTTP/1.1\r\nHost: x\r\n\r\n"),
    );
    const began = performance.now();
    const chunk = new Uint8Array(64 * 1024);
    let received = 0;
    for (;;) {
      const n = await conn.read(chunk);
      if (n === null) break;
      received += n;
      if (new TextDecoder().decode(chunk.subarray(Math.max(0, n - 7), n)).endsWith("0\r\n\r\n")) {
        break; // the chunked body's end
      }
      const due = began + (received / (3 * floor)) * 1000; // 3x the least rate
      const ahead = due - performance.now();
      if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead));
    }
    await until(() => lines.some((line) => line.event === "request"));
    const request = lines.find((line) => line.event === "request");
    assert.equal(request?.error, undefined, String(request?.error));
    assert.equal(request?.rows, 200_000);
  } finally {
    conn.close();
    await server.shutdown();
  }
});
