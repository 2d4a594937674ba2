// `deno task serve` as a process, the way it is deployed: started with the worker's permission
// set, it logs one JSON line per request when not on a terminal, and SIGTERM lets an in-flight
// request finish before it exits 0. On PostgreSQL (when TEST_DATABASE_URL is set): the in-process
// tests in tests/serve_test.ts cover both databases; this one needs a second connection to hold a
// lock the request waits on, and a fresh embedded database costs a minute to create.

import assert from "node:assert/strict";
import postgres from "postgres";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import { migrate } from "../core/migrate.ts";
import { STOP_GRACE_MS } from "../serve/server.ts";
import { createScratchDatabase, removeTestDataAtEnd } from "./_harness.ts";

interface Served {
  child: Deno.ChildProcess;
  url: string;
  lines: string[];
  exited: Promise<Deno.CommandStatus>;
  /** All serve printed on stderr, once it has exited. */
  stderr: Promise<string>;
}

/**
 * Starts `main.ts serve --port 0 ...args` and waits for its "listening" line; with `openFiles`,
 * under that limit of open files (`ulimit -n`, soft and hard: Deno raises its soft limit to the
 * hard one).
 */
async function serve(
  env: Record<string, string>,
  args: string[] = [],
  openFiles?: number,
): Promise<Served> {
  const deno = ["run", "-P=worker", "--quiet", "main.ts", "serve", "--port", "0", ...args];
  const command = openFiles === undefined ? { program: Deno.execPath(), args: deno } : {
    program: "/bin/bash",
    args: ["-c", `ulimit -n ${openFiles} && exec "$0" "$@"`, Deno.execPath(), ...deno],
  };
  const child = new Deno.Command(command.program, {
    args: command.args,
    env: { ...env, NO_COLOR: "1" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let listening: (url: string) => void = () => {};
  const url = new Promise<string>((resolve) => listening = resolve);
  const read = (async () => {
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let i;
      while ((i = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 1);
        lines.push(line);
        const entry = JSON.parse(line);
        if (entry.event === "listening") listening(entry.url);
      }
    }
  })();
  // Exited once its last line is read too: the status can come before the pipe's last chunk (a
  // CI run saw every line but "stopped", which serve had written before it exited).
  const exited = Promise.all([child.status, read]).then(([status]) => status);
  const stderr = new Response(child.stderr).text();
  const started = await Promise.race([
    url,
    exited.then(async (s) => {
      throw new Error(`serve exited ${s.code} before listening: ${await stderr}`);
    }),
  ]);
  return { child, url: started, lines, exited, stderr };
}

/** A scratch PostgreSQL database, migrated; its URL. */
async function migratedDatabase(base: string): Promise<string> {
  const url = await createScratchDatabase(base);
  const db = createPostgresDatabase(url);
  await migrate(db);
  await db.close();
  return url;
}

/**
 * Runs `fn` with a serve on a migrated database whose one client asked for a file larger than the
 * socket buffers take (a tiles file of 64 MB) and never reads its answer: a response that never
 * ends. The client and the file go after.
 */
async function withStalledClient(
  base: string,
  fn: (s: Awaited<ReturnType<typeof serve>>) => Promise<void>,
): Promise<void> {
  const url = await migratedDatabase(base);
  const tiles = `.data/test-serve-tiles-${crypto.randomUUID()}.pmtiles`;
  await Deno.writeFile(tiles, new Uint8Array(64 << 20));
  const s = await serve({
    DATABASE_URL: url,
    PATH: Deno.env.get("PATH") ?? "",
    MAP_PMTILES: tiles,
  });
  const at = new URL(s.url);
  const conn = await Deno.connect({ hostname: at.hostname, port: Number(at.port) });
  try {
    await conn.write(new TextEncoder().encode("GET /tiles.pmtiles HTTP/1.1\r\nHost: x\r\n\r\n"));
    await conn.read(new Uint8Array(1024)); // the answer has begun; it is never read again
    await fn(s);
  } finally {
    conn.close();
    await Deno.remove(tiles);
  }
}

const base = Deno.env.get("TEST_DATABASE_URL");
if (base) {
  Deno.test("serve on PostgreSQL: SIGTERM lets the in-flight request finish, then exits 0", async () => {
    const url = await migratedDatabase(base);
    const s = await serve({ DATABASE_URL: url, PATH: Deno.env.get("PATH") ?? "" });
    const locker = postgres(url, { max: 2, onnotice: () => {} });
    try {
      // Hold the table every request reads first, so the next request waits mid-flight.
      let release: () => void = () => {};
      const released = new Promise<void>((r) => release = r);
      const locked = new Promise<void>((ready) => {
        locker.begin(async (tx) => {
          await tx`lock table tickets.import_meta in access exclusive mode`;
          ready();
          await released;
        });
      });
      await locked;
      const inFlight = fetch(`${s.url}api/tickets`);
      for (let i = 0; i < 50; i++) {
        const [w] = await locker`
          select count(*)::int as n from pg_locks where relation = 'tickets.import_meta'::regclass
          and not granted`;
        if (w!.n > 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      s.child.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 300));
      release();
      const response = await inFlight;
      assert.equal(response.status, 200);
      assert.equal((await response.json()).numberMatched, 0);
      assert.equal((await s.exited).code, 0);
      const events = s.lines.map((l) => JSON.parse(l));
      assert.deepEqual(events.map((e) => e.event), [
        "listening",
        "stopping",
        "request",
        "stopped",
      ]);
      assert.equal(events[2].status, 200);
      assert.ok(!s.lines.join("\n").includes(new URL(url).password || "\u0000"));
    } finally {
      await locker.end();
    }
  });

  Deno.test("serve on PostgreSQL: a SIGTERM sent as soon as it says it listens stops it, exit 0", async () => {
    const url = await migratedDatabase(base);
    // Four in a row: before, serve listened for signals only after that line, and Deno's listener
    // takes effect some milliseconds later: half of such stops ended it with 143 (SIGTERM).
    for (let i = 0; i < 4; i++) {
      const s = await serve({ DATABASE_URL: url, PATH: Deno.env.get("PATH") ?? "" });
      s.child.kill("SIGTERM");
      const status = await s.exited;
      assert.deepEqual([status.code, status.signal], [0, null], await s.stderr);
      assert.ok(s.lines.some((line) => JSON.parse(line).event === "stopped"), s.lines.join("\n"));
    }
  });

  Deno.test("serve on PostgreSQL: /api/health answers at once while every pooled connection waits on a lock (its own connection)", async () => {
    const url = await migratedDatabase(base);
    const s = await serve({ DATABASE_URL: url, PATH: Deno.env.get("PATH") ?? "" });
    const locker = postgres(url, { max: 2, onnotice: () => {} });
    let release: () => void = () => {};
    const released = new Promise<void>((r) => release = r);
    try {
      const locked = new Promise<void>((ready) => {
        locker.begin(async (tx) => {
          await tx`lock table tickets.inc in access exclusive mode`;
          ready();
          await released;
        });
      });
      await locked;
      // 12 reads of the locked table: the pool's 8 connections all wait (5 s statement timeout).
      const stuck = Array.from(
        { length: 12 },
        (_, i) => fetch(`${s.url}api/tickets?limit=1&offset=${i}`).then((r) => r.body?.cancel()),
      );
      for (let i = 0; i < 50; i++) {
        const [w] = await locker`
          select count(*)::int as n from pg_locks where relation = 'tickets.inc'::regclass
          and not granted`;
        if (w!.n >= 8) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const [waiting] = await locker`
        select count(*)::int as n from pg_locks where relation = 'tickets.inc'::regclass
        and not granted`;
      assert.ok(waiting!.n >= 8, `${waiting!.n} pooled connections wait on the lock`);
      // Before: health waited for a pooled connection, behind them (seconds).
      const began = performance.now();
      const health = await fetch(`${s.url}api/health`);
      const ms = performance.now() - began;
      assert.equal(health.status, 200);
      assert.equal((await health.json()).ok, true);
      assert.ok(ms < 1000, `health took ${Math.round(ms)} ms`);
      release();
      await Promise.all(stuck);
    } finally {
      release();
      await locker.end();
      s.child.kill("SIGTERM");
      await s.exited;
    }
  });

  Deno.test("serve on PostgreSQL: a very long request path is logged cut to 2,048 characters, saying its length", async () => {
    const url = await migratedDatabase(base);
    const s = await serve({ DATABASE_URL: url, PATH: Deno.env.get("PATH") ?? "" });
    try {
      const path = "/api/" + "a".repeat(60_000);
      const response = await fetch(s.url.replace(/\/$/, "") + path);
      assert.equal(response.status, 404);
      await response.body?.cancel();
      let logged: { path: string } | undefined;
      for (let i = 0; i < 100 && logged === undefined; i++) {
        await new Promise((r) => setTimeout(r, 20));
        logged = s.lines.map((line) => JSON.parse(line)).find((e) => e.event === "request");
      }
      assert.equal(logged?.path, `${path.slice(0, 2048)}… (${path.length} characters)`);
    } finally {
      s.child.kill("SIGTERM");
      assert.equal((await s.exited).code, 0);
    }
    // A secret across the cut is hidden whole: the path is redacted before it is cut.
    const token = "tok-secret-0123456789";
    const t = await serve({
      DATABASE_URL: url,
      PATH: Deno.env.get("PATH") ?? "",
      SERVE_TOKEN: token,
    });
    try {
      const response = await fetch(t.url.replace(/\/$/, "") + `/api/${"a".repeat(2036)}${token}`);
      assert.equal(response.status, 401);
      await response.body?.cancel();
      let logged: { path: string } | undefined;
      for (let i = 0; i < 100 && logged === undefined; i++) {
        await new Promise((r) => setTimeout(r, 20));
        logged = t.lines.map((line) => JSON.parse(line)).find((e) => e.event === "request");
      }
      assert.ok(logged !== undefined && !logged.path.includes("tok-sec"), logged?.path.slice(-40));
    } finally {
      t.child.kill("SIGTERM");
      assert.equal((await t.exited).code, 0);
    }
  });

  Deno.test("serve on PostgreSQL: its first line names the database as every command does; on all addresses without a token, a warning", async () => {
    const url = await migratedDatabase(base);
    for (const [args, warned] of [[[], false], [["--host", "0.0.0.0"], true]] as const) {
      const s = await serve({ DATABASE_URL: url, PATH: Deno.env.get("PATH") ?? "" }, [...args]);
      s.child.kill("SIGTERM");
      assert.equal((await s.exited).code, 0);
      const events = s.lines.map((line) => JSON.parse(line));
      // It said "postgres", where ingest and status say where.
      const database = `PostgreSQL at ${new URL(url).host} (database "${
        new URL(url).pathname.slice(1)
      }")`;
      assert.equal(events[0].database, database);
      const warning = events.find((e) => e.event === "open_without_token");
      assert.equal(warning !== undefined, warned, s.lines.join("\n"));
      if (warned) {
        assert.equal(warning.level, "warn");
        assert.match(warning.message, /^Serving 0\.0\.0\.0 without SERVE_TOKEN: .*set SERVE_TOKEN/);
      }
    }
  });

  Deno.test("serve on PostgreSQL: a POST without a length (empty, chunked) is read, limited, and prints no runtime warning", async () => {
    const url = await migratedDatabase(base);
    const s = await serve({ DATABASE_URL: url, PATH: Deno.env.get("PATH") ?? "" });
    const post = (body?: BodyInit) =>
      fetch(`${s.url}webhook/inc-dashboard`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body,
      });
    const chunked = (text: string) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(text));
          controller.close();
        },
      });
    const empty = await post();
    assert.equal(empty.status, 200);
    assert.equal((await empty.json()).window.name, "7d");
    const form = await post(chunked("window=30d"));
    assert.equal(form.status, 200);
    assert.equal((await form.json()).window.name, "30d");
    const big = await post(chunked("window=30d&x=" + "a".repeat(70_000)));
    assert.equal(big.status, 413);
    await big.body?.cancel();
    s.child.kill("SIGTERM");
    assert.equal((await s.exited).code, 0);
    // Deno printed "Deno.serve: request.signal aborts on successful responses (legacy
    // behavior)…" for each: Hono's bodyLimit copied the request, signal and all.
    assert.equal(await s.stderr, "");
  });

  Deno.test("serve on PostgreSQL: a client that never reads is cut 8 s after SIGTERM, logged, exit 0", async () => {
    await withStalledClient(base, async (s) => {
      const began = performance.now();
      s.child.kill("SIGTERM");
      assert.equal((await s.exited).code, 0);
      const took = performance.now() - began;
      assert.ok(
        took > STOP_GRACE_MS - 200 && took < STOP_GRACE_MS + 2000,
        `exited after ${took} ms`,
      );
      const events = s.lines.map((l) => JSON.parse(l));
      assert.deepEqual(events.map((e) => e.event), [
        "listening",
        "request",
        "stopping",
        "responses_cut",
        "stopped",
      ]);
      assert.equal(events[2].inFlight, 1);
      assert.equal(events[3].responses, 1);
      assert.match(
        events[3].error,
        /^Cut 1 response still being answered or sent 8 s after the stop signal/,
      );
    });
  });

  Deno.test("serve on PostgreSQL: a second stop signal cuts a client that never reads at once, exit 0", async () => {
    await withStalledClient(base, async (s) => {
      const began = performance.now();
      s.child.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, 1000)); // a person's second press, not a copy
      s.child.kill("SIGINT"); // a user pressing Ctrl-C again: before, it waited the 8 s out
      assert.equal((await s.exited).code, 0);
      const took = performance.now() - began;
      assert.ok(took < STOP_GRACE_MS / 2, `exited after ${took} ms`);
      const events = s.lines.map((l) => JSON.parse(l));
      assert.deepEqual(events.map((e) => e.event), [
        "listening",
        "request",
        "stopping",
        "stopping",
        "responses_cut",
        "stopped",
      ]);
      assert.equal(events[3].signal, "SIGINT");
      assert.equal(events[3].now, true);
      assert.match(
        events[4].error,
        /^Cut 1 response still being answered or sent at the second stop signal/,
      );
    });
  });

  Deno.test('serve on PostgreSQL: a CSV export cut by a second stop signal gets its access line, before "stopped"', async () => {
    const url = await migratedDatabase(base);
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    // 30,000 tickets: an export of them is many fetches, paused while its client reads nothing.
    await admin.unsafe(`
      insert into tickets.inc (ticket_id, raw, source_file)
      select 'WOT' || g, jsonb_build_object('normalized_status', 'pending', 'is_actionable',
             'true', 'location_name', repeat('x', 200)), '2026-06-15T10-00-00.csv'
      from generate_series(1, 30000) g`);
    await admin.end();
    for (let trial = 0; trial < 3; trial++) {
      const s = await serve({ DATABASE_URL: url, PATH: Deno.env.get("PATH") ?? "" });
      const at = new URL(s.url);
      const conn = await Deno.connect({ hostname: at.hostname, port: Number(at.port) });
      try {
        await conn.write(
          new TextEncoder().encode(
            "GET /api/tickets.csv?open_only=false HTTP/1.1\r\nHost: x\r\n\r\n",
          ),
        );
        await conn.read(new Uint8Array(1024)); // the export has begun; it is never read again
        s.child.kill("SIGTERM");
        await new Promise((r) => setTimeout(r, 500));
        s.child.kill("SIGTERM"); // a second signal: cut at once
        assert.equal((await s.exited).code, 0);
        const events = s.lines.map((l) => JSON.parse(l));
        const names = events.map((e) => e.event);
        // Before: the export's line came after "stopped", or not at all (2 of 4 stops).
        assert.equal(names.at(-1), "stopped", names.join(", "));
        const line = events.find((e) => e.event === "request");
        assert.equal(line?.path, "/api/tickets.csv", names.join(", "));
        assert.match(line.error ?? "", /^The response stopped before its last row/);
      } finally {
        conn.close();
      }
    }
  });

  Deno.test("serve on PostgreSQL: one stop signal delivered twice at once (Ctrl-C under deno task) is one stop, not a cut", async () => {
    await withStalledClient(base, async (s) => {
      // As a terminal's Ctrl-C reaches it and `deno task` forwards it again (1 ms later there;
      // 30 ms here: sent back to back, the kernel would merge them into one).
      s.child.kill("SIGINT");
      await new Promise((r) => setTimeout(r, 30));
      s.child.kill("SIGINT");
      const began = performance.now();
      assert.equal((await s.exited).code, 0);
      const events = s.lines.map((l) => JSON.parse(l));
      // Before: the second copy was taken for a second Ctrl-C and cut the response at once.
      assert.deepEqual(events.filter((e) => e.event === "stopping").length, 1);
      const cut = events.find((e) => e.event === "responses_cut");
      assert.match(cut?.error ?? "", /8 s after the stop signal/);
      assert.ok(performance.now() - began > STOP_GRACE_MS - 1000, "the grace was waited out");
    });
  });

  Deno.test("serve on PostgreSQL under ulimit -n 256: 300 idle connections do not end it; it warns at start, closes them and listens again", async () => {
    const url = await migratedDatabase(base);
    const s = await serve({ DATABASE_URL: url, PATH: Deno.env.get("PATH") ?? "" }, [], 256);
    const at = new URL(s.url);
    const events = () => s.lines.map((line) => JSON.parse(line));
    const few = events().find((e) => e.event === "few_descriptors");
    assert.equal(few?.level, "warn");
    assert.ok(few.spare > 100 && few.spare < 256, `spare ${few.spare}`);
    assert.match(
      few.message,
      /^Serve can hold about \d+ connections at once \(8 more are kept for the database's connections\): the limit of open/,
    );
    const idle: Deno.TcpConn[] = [];
    try {
      for (let i = 0; i < 300; i++) {
        const conn = await Deno.connect({ hostname: at.hostname, port: Number(at.port) })
          .catch(() => undefined); // refused while it listens again
        if (conn !== undefined) idle.push(conn);
      }
      for (let i = 0; i < 100 && !events().some((e) => e.event === "listening_again"); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const failed = events().find((e) => e.event === "accept_failed");
      assert.equal(failed?.level, "warn", s.lines.join("\n"));
      assert.match(failed.error, /^Stopped accepting connections on .*"Too many open files"/);
      assert.ok(events().some((e) => e.event === "listening_again"), s.lines.join("\n"));
      // It is still up, and a new client is answered.
      const health = await fetch(`${s.url}api/health`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
      // The idle connections of the server that stopped accepting were closed.
      const closed = await idle[0]!.read(new Uint8Array(16)).catch(() => null);
      assert.equal(closed, null);
    } finally {
      for (const conn of idle) {
        try {
          conn.close();
        } catch { /* closed by serve */ }
      }
    }
    s.child.kill("SIGTERM");
    assert.equal((await s.exited).code, 0, await s.stderr);
  });

  Deno.test("serve on PostgreSQL serves only the page's files, with security headers (the worker's permissions)", async () => {
    const url = await migratedDatabase(base);
    const s = await serve({ DATABASE_URL: url, PATH: Deno.env.get("PATH") ?? "" });
    try {
      for (const path of ["app.js/", "format_test.ts", "vendor/VERSIONS.json", "index.html/"]) {
        const response = await fetch(`${s.url}${path}`);
        assert.equal(response.status, 404, path);
        await response.body?.cancel();
      }
      for (const path of ["", "app.js", "vendor/leaflet/leaflet.css"]) {
        const response = await fetch(`${s.url}${path}`);
        assert.equal(response.status, 200, path);
        assert.equal(response.headers.get("X-Content-Type-Options"), "nosniff", path);
        assert.match(response.headers.get("Content-Security-Policy") ?? "", /default-src 'self'/);
        await response.body?.cancel();
      }
    } finally {
      s.child.kill("SIGTERM");
      assert.equal((await s.exited).code, 0);
    }
  });
}

Deno.test("serve stopped while its database does not answer ends at once, exit 0 (it waited out the connect timeout)", async () => {
  // A port that takes connections and never says a word: the connect waits up to 10 s.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) held.push(conn);
  })();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=worker", "--quiet", "main.ts", "serve", "--port", "0"],
    env: {
      DATABASE_URL: `postgres://u:pw@127.0.0.1:${(silent.addr as Deno.NetAddr).port}/db`,
      PATH: Deno.env.get("PATH") ?? "",
    },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    while (held.length === 0) await new Promise((r) => setTimeout(r, 50)); // connecting
    const sent = performance.now();
    child.kill("SIGTERM");
    const [status, out] = await Promise.all([child.status, new Response(child.stdout).text()]);
    await child.stderr.cancel();
    assert.equal(status.code, 0);
    assert.ok(performance.now() - sent < 3000, `${Math.round(performance.now() - sent)} ms`);
    assert.match(out, /"event":"stopped","signal":"SIGTERM","before":"listening"/);
  } finally {
    silent.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
  }
});

removeTestDataAtEnd();
