// The read API under load (`deno task bench`, or alone: `deno run -A bench/serve_bench.ts`):
// the 20,956-ticket baseline on PostgreSQL, `serve` as its own process, 32 concurrent clients
// on loopback for a bounded time per endpoint, against an anchor measured in the same run: the
// same SQL called directly through one postgres.js connection. Prints a Markdown table.
//
// The clients: 32 loops in this process, each on its own keep-alive HTTP/1.1 connection
// (bench/http1_client.ts: Deno.connect, each response read whole, its status checked), each
// sending its next request when the last one is read. BENCH_SERVE_CLIENT=fetch uses `fetch`
// instead (what this bench used first): on 2 cores it takes CPU from the server it measures. The
// floor row is a bare `Deno.serve` answering 304 to the same client: no server can do better here.
//
// Needs BENCH_DATABASE_URL (or TEST_DATABASE_URL): PostgreSQL + PostGIS whose user may create
// databases. The generated tickets carry no coordinates, so each is placed at a point derived
// from its id within ~28 km of central Nairobi (the geocoder's job in production).

import postgres from "postgres";
import { generateStream } from "../demo/generate_stream.ts";
import { createDirObjectStore } from "../adapters/dir_object_store.ts";
import { createPostgresDatabase } from "../adapters/postgres_database.ts";
import { INC } from "../core/datasets.ts";
import { ingest } from "../core/ingest.ts";
import { migrate } from "../core/migrate.ts";
import { nearest, nearestSql } from "../core/nearest.ts";
import { readInOrder } from "../core/read_only.ts";
import { ticketPageSql, type TicketQuery } from "../core/read_tickets.ts";
import { createScratchDatabase, dropScratchDatabase } from "../tests/_harness.ts";
import { Http1Connection } from "./http1_client.ts";

const CLIENTS = 32;
const SECONDS = Number(Deno.env.get("BENCH_SERVE_SECONDS") ?? "4");
const MEMORY_REQUESTS = Number(Deno.env.get("BENCH_SERVE_REQUESTS") ?? "100000");
const CLIENT = Deno.env.get("BENCH_SERVE_CLIENT") === "fetch" ? "fetch" : "http1";

interface Figures {
  requests: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  notModified: number;
}

const pct = (sorted: number[], p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

function figures(latencies: number[], seconds: number, notModified: number): Figures {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    requests: sorted.length,
    perSecond: sorted.length / seconds,
    p50: pct(sorted, 0.5),
    p95: pct(sorted, 0.95),
    p99: pct(sorted, 0.99),
    notModified: notModified / Math.max(1, sorted.length),
  };
}

/** `clients` loops for `seconds`, each sending `next()`'s request; latency per request. */
async function load(
  url: string,
  next: (client: number, etag: string | undefined) => { path: string; etag?: string },
  options: { seconds?: number; requests?: number; clients?: number; etag?: string } = {},
): Promise<Figures> {
  const clients = options.clients ?? CLIENTS;
  const deadline = performance.now() + (options.seconds ?? SECONDS) * 1000;
  const budget = { left: options.requests ?? Infinity };
  const latencies: number[] = [];
  let notModified = 0;
  const started = performance.now();
  const target = new URL(url);
  await Promise.all(Array.from({ length: clients }, async (_, client) => {
    const connection = CLIENT === "http1"
      ? await Http1Connection.open(target.hostname, Number(target.port))
      : undefined;
    let etag = options.etag;
    try {
      while (performance.now() < deadline && budget.left-- > 0) {
        const { path, etag: send } = next(client, etag);
        const headers = {
          "Accept-Encoding": "identity",
          ...(send ? { "If-None-Match": send } : {}),
        };
        const t0 = performance.now();
        let status: number;
        let tag: string | undefined;
        if (connection) {
          const response = await connection.get(path, headers);
          status = response.status;
          tag = response.headers.get("etag");
        } else {
          const response = await fetch(url + path, { headers });
          await response.arrayBuffer();
          status = response.status;
          tag = response.headers.get("ETag") ?? undefined;
        }
        latencies.push(performance.now() - t0);
        if (status === 304) notModified++;
        else if (status !== 200) throw new Error(`${path}: ${status}`);
        etag = tag ?? etag;
      }
    } finally {
      connection?.close();
    }
  }));
  return figures(latencies, (performance.now() - started) / 1000, notModified);
}

/** Runs `query` sequentially on one connection for `seconds`; latency per call. */
async function direct(sql: postgres.Sql, query: () => Promise<unknown>, seconds = 2) {
  const deadline = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  while (performance.now() < deadline) {
    const t0 = performance.now();
    await query();
    latencies.push(performance.now() - t0);
  }
  await sql`select 1`;
  return figures(latencies, seconds, 0);
}

/** `query` from CLIENTS concurrent callers for SECONDS; latency per call. */
async function concurrent(
  query: () => Promise<unknown>,
  seconds = SECONDS,
): Promise<Figures> {
  const deadline = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  const started = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      await query();
      latencies.push(performance.now() - t0);
    }
  }));
  return figures(latencies, (performance.now() - started) / 1000, 0);
}

/** A deterministic vehicle position in Nairobi. */
function vehicle(i: number): { lon: number; lat: number } {
  const x = Math.sin(i * 12.9898) * 43758.5453;
  const y = Math.sin(i * 78.233) * 43758.5453;
  return {
    lon: 36.82 + (x - Math.floor(x) - 0.5) * 0.4,
    lat: -1.29 + (y - Math.floor(y) - 0.5) * 0.4,
  };
}

/** A bare `Deno.serve` in its own process answering every request 304: the floor of a 304 here. */
async function floor304(): Promise<Figures> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: ({ port }) => console.log(port) },
        () => new Response(null, { status: 304, headers: { ETag: 'W/"floor"', "Cache-Control": "no-cache" } }))`,
    ],
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("The bare server exited before listening");
    text += value;
  }
  try {
    return await load(`http://127.0.0.1:${text.trim()}`, (_, etag) => ({ path: "/", etag }), {
      etag: 'W/"floor"',
    });
  } finally {
    reader.releaseLock();
    child.kill("SIGTERM");
    await child.status;
  }
}

async function rssKb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
}

/** Runs the whole serve benchmark; returns the Markdown report. */
export async function runServeBench(base: string): Promise<string> {
  const work = ".data/bench-serve";
  await Deno.remove(work, { recursive: true }).catch(() => {});
  const stream = generateStream({ tickets: 20956, deltas: 0, seed: 42 });
  await Deno.mkdir(`${work}/${INC.changesPrefix}`, { recursive: true });
  for (const f of stream.files) {
    await Deno.writeTextFile(`${work}/${INC.changesPrefix}${f.name}`, f.text);
  }
  const url = await createScratchDatabase(base);
  const db = createPostgresDatabase(url);
  await migrate(db);
  await ingest(createDirObjectStore(work), db, { datasets: [INC], apply: true });
  await db.exec(`
    update tickets.inc set geo_source = 'location', geom = st_setsrid(st_makepoint(
      36.82 + (hashtext(ticket_id) % 1000) / 4000.0,
      -1.29 + (hashtext(ticket_id || '/') % 1000) / 4000.0), 4326);
    analyze tickets.inc`);
  const [counts] = await db.query<{ total: number; open: number }>(
    `select count(*)::int as total, count(*) filter (where is_actionable)::int as open
     from tickets.inc`,
  );
  await db.close();
  console.error(`bench serve: ${counts!.total} tickets, ${counts!.open} open`);

  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-P=worker", "--quiet", "main.ts", "serve", "--port", "0"],
    env: { DATABASE_URL: url },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let head = "";
  let server = "";
  while (!server) {
    const { value, done } = await reader.read();
    if (done) throw new Error("serve exited before listening");
    head += value;
    server = /"url":"([^"]+)"/.exec(head)?.[1] ?? "";
  }
  // Drain the access log (one line per request) so the pipe never fills.
  (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })();
  const base_ = server.replace(/\/$/, "");
  const tickets = "/api/tickets?dataset=inc&limit=50000";
  const nearestPath = (i: number) => {
    const v = vehicle(i);
    return `/api/nearest?lon=${v.lon.toFixed(5)}&lat=${v.lat.toFixed(5)}&k=10`;
  };
  let n = 0;
  const rows: string[] = [];
  try {
    // Warm-up.
    await load(base_, () => ({ path: tickets }), { seconds: 1, clients: 4 });
    await load(base_, () => ({ path: nearestPath(n++) }), { seconds: 1 });

    const etagOf = async (path: string) => {
      const response = await fetch(base_ + path);
      await response.arrayBuffer();
      return response.headers.get("ETag") ?? undefined;
    };
    const t200 = await load(base_, () => ({ path: tickets }));
    const t304 = await load(base_, (_, etag) => ({ path: tickets, etag }), {
      etag: await etagOf(tickets),
    });
    const near = await load(base_, () => ({ path: nearestPath(n++) }));
    const dash = await load(base_, () => ({ path: "/api/dashboard" }));
    const dash304 = await load(base_, (_, etag) => ({ path: "/api/dashboard", etag }), {
      etag: await etagOf("/api/dashboard"),
    });
    const floor = await floor304();
    const seqTickets = await load(base_, () => ({ path: tickets }), { clients: 1, seconds: 2 });
    const seqNear = await load(base_, () => ({ path: nearestPath(n++) }), {
      clients: 1,
      seconds: 2,
    });
    const seqUrgent = await load(base_, () => ({ path: `${nearestPath(n++)}&rank=urgency` }), {
      clients: 1,
      seconds: 2,
    });

    // The anchor: the same SQL on one connection, sequentially.
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    const now = () => new Date();
    const query: TicketQuery = { dataset: "inc", openOnly: true, limit: 50000, offset: 0 };
    const page = ticketPageSql(query);
    const dTickets = await direct(
      sql,
      () => sql.unsafe(page.text, [now().toISOString(), ...page.params] as never[]),
    );
    let m = 0;
    const dNear = await direct(sql, () => {
      const q = nearestSql(
        { ...vehicle(m++), k: 10, maxKm: 25, dataset: "inc", rank: "distance" },
        now(),
      );
      return sql.unsafe(q.text, q.params as never[]);
    });
    const dDash = await direct(
      sql,
      () => sql`select reporting.fn_inc_dashboard(null, null, '7d', null, null, now())::text`,
    );
    await sql.end();
    // What PostgreSQL alone gives 32 callers: serve's statement for a nearest request (the data
    // version is remembered: serve reads it once a second, or after a change notification) on a
    // pool like serve's (8 read-only connections, prepared statements), no HTTP.
    const pool = createPostgresDatabase(url, { max: 8, prepare: true, readOnlyTimeoutMs: 5000 });
    const nearestStatements = () =>
      readInOrder(
        pool,
        { timeoutMs: 5000 },
        (tx) =>
          nearest(tx, { ...vehicle(m++), k: 10, maxKm: 25, dataset: "inc", rank: "distance" }),
      );
    await concurrent(nearestStatements, 1); // connect and prepare, as serve's warm-up does
    const dNear32 = await concurrent(nearestStatements);
    await pool.close();

    // Memory over MEMORY_REQUESTS requests (304s of the map and nearest questions).
    const rss: [number, number][] = [[0, await rssKb(child.pid)]];
    let sent = 0;
    while (sent < MEMORY_REQUESTS) {
      const chunk = Math.min(MEMORY_REQUESTS / 10, MEMORY_REQUESTS - sent);
      await load(
        base_,
        (client, etag) =>
          client % 2 === 0 ? { path: "/api/dashboard", etag } : { path: nearestPath(n++ % 500) },
        { requests: chunk, seconds: 600 },
      );
      sent += chunk;
      rss.push([sent, await rssKb(child.pid)]);
    }

    const ms = (x: number) => `${x.toFixed(1)} ms`;
    const line = (name: string, f: Figures, target = "") =>
      `| ${name} | ${f.perSecond.toFixed(0)} | ${ms(f.p50)} | ${ms(f.p95)} | ${ms(f.p99)} | ${
        (f.notModified * 100).toFixed(0)
      }% | ${target} |`;
    rows.push(
      `Baseline: ${counts!.total} INC tickets (${
        counts!.open
      } open) on PostgreSQL; serve as its own process (pool of 8); ${CLIENTS} clients on loopback (${
        CLIENT === "http1" ? "keep-alive HTTP/1.1 connections" : "fetch"
      }), ${SECONDS} s per row; Accept-Encoding: identity.`,
      "",
      "| request | req/s | p50 | p95 | p99 | 304 | target |",
      "|---|---|---|---|---|---|---|",
      line(`/api/tickets, all ${counts!.open} open INC`, t200),
      line("/api/tickets, repeated with its ETag", t304, "304 p95 ≤ 3 ms"),
      line("/api/nearest k=10, a new point each time", near, "p95 ≤ 15 ms"),
      line("/api/dashboard (7d)", dash),
      line("/api/dashboard, repeated with its ETag", dash304, "304 p95 ≤ 3 ms"),
      line("floor: a bare Deno.serve answering 304, same clients", floor),
      line("/api/tickets, 1 client", seqTickets),
      line("/api/nearest, 1 client", seqNear),
      line("/api/nearest rank=urgency, 1 client", seqUrgent),
      line("anchor: tickets SQL, one postgres.js connection", dTickets),
      line("anchor: nearest SQL, one connection", dNear),
      line("anchor: fn_inc_dashboard, one connection", dDash),
      line(
        "floor: serve's nearest statement, 32 callers on a pool like serve's, no HTTP",
        dNear32,
      ),
      "",
      `/api/tickets (1 client) / anchor: **${
        (seqTickets.p50 / dTickets.p50).toFixed(2)
      }×** at p50 (target ≤ 1.5×); /api/nearest (1 client) / anchor: ${
        (seqNear.p50 / dNear.p50).toFixed(2)
      }×.`,
      "",
      `serve RSS over ${MEMORY_REQUESTS} requests: ${
        rss.map(([k, kb]) => `${k / 1000}k: ${(kb / 1024).toFixed(0)} MB`).join(", ")
      }.`,
    );
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Deno.remove(work, { recursive: true }).catch(() => {});
    await dropScratchDatabase(url);
  }
  return rows.join("\n");
}

if (import.meta.main) {
  const base = Deno.env.get("BENCH_DATABASE_URL") ?? Deno.env.get("TEST_DATABASE_URL");
  if (!base) {
    console.error("Set BENCH_DATABASE_URL to a PostgreSQL + PostGIS server");
    Deno.exit(2);
  }
  console.log(await runServeBench(base));
}
