/**
 * `serve [--port 8080] [--host 127.0.0.1]`: the read API over the configured database (embedded
 * when DATABASE_URL is unset), until SIGTERM/SIGINT, which drain in-flight requests for at most
 * STOP_GRACE_MS (serve/server.ts), cutting what is still being sent then (exit 0 either way).
 *
 * @module
 */

import { unreadablePageFile } from "../serve/unreadable_page_file.ts";
import { fileURLToPath } from "node:url";
import { type Config, ConfigError } from "../app/config.ts";
import { openDatabase } from "../app/open_database.ts";
import { DatabaseLockedError } from "../adapters/pglite_database.ts";
import { describeMissingGrants, missingReadGrants } from "../core/check_read_grants.ts";
import type { Database } from "../core/ports/mod.ts";
import { terminalText } from "../core/terminal_text.ts";
import { fewDescriptorsWarning } from "../serve/descriptors.ts";
import { hostPort, isLoopback } from "../serve/address.ts";
import { type RunningServer, startServer } from "../serve/server.ts";
import { configToRead } from "./_config_to_read.ts";
import { lineBatcher } from "./_line_batcher.ts";
import { checkReadableFile } from "./_open_store.ts";
import { type Context, parse, SourceError, UsageError } from "./_context.ts";

/** Writes one log line. */
type Log = (entry: Record<string, unknown>) => void;

/** Why `host:port` cannot be listened on, in words that say what to change. */
function listenError(error: unknown, host: string, port: number): Error {
  const at = hostPort(host, port);
  if (error instanceof Deno.errors.AddrInUse) {
    return new SourceError(
      `Cannot listen on ${at}: the port is in use; stop what holds it or choose another with --port`,
    );
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return new SourceError(
      `Cannot listen on ${at}: the address is not on this machine; choose another with --host`,
    );
  }
  if (error instanceof Deno.errors.NotCapable) {
    // Before: "Cannot connect to …: fleettickets may connect only to the configured hosts", the
    // words of a connection refused, not of an address to listen on (a tester's).
    return new SourceError(
      `Cannot listen on ${at}: the permissions this fleettickets runs with do not include that ` +
        `address (a binary from deno task compile may listen on 127.0.0.1, localhost and ` +
        `0.0.0.0 only); choose one of those with --host`,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new SourceError(
      port > 0 && port < 1024
        ? `Cannot listen on ${at}: ports below 1024 need privileges; choose --port 1024 or above`
        : `Cannot listen on ${at}: not permitted`,
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new SourceError(`Cannot listen on ${at}: ${message}; choose another with --host`);
}

/**
 * Fails fast when the address cannot be listened on, before the database opens (the embedded
 * one takes seconds to).
 */
function checkListen(host: string, port: number): void {
  try {
    Deno.listen({ hostname: host, port }).close();
  } catch (error) {
    throw listenError(error, host, port);
  }
}

/** The map page's files: web/ beside the code (in the binary too: `deno task compile`). */
const WEB_ROOT = fileURLToPath(new URL("../web/", import.meta.url));

/** Runs the read API until a signal; returns the exit code. */
export async function runServe(context: Context, args: string[]): Promise<number> {
  const { config, io, redact } = context;
  const { host, port } = readAddress(args);
  checkListen(host, port);
  // Before the database opens, like the port: a map without its tiles is a setting to fix.
  if (config.serve.pmtiles !== undefined) {
    await checkReadableFile(config.serve.pmtiles, "the tiles file MAP_PMTILES");
  }
  // And a page serve may not read (it was answered as absent: the stand-in page, 404s).
  const unreadable = await unreadablePageFile(WEB_ROOT);
  if (unreadable !== undefined) {
    throw new SourceError(
      `Cannot serve the map page: this user may not read "${unreadable}"; make the page's ` +
        `folder readable by the user serve runs as (chmod -R a+rX on it)`,
    );
  }
  // One write per batch of lines, not per request (flushed before returning).
  const lines = lineBatcher(io.stdout);
  // The path redacted before it is cut: a secret cut in two would no longer be recognised.
  const log: Log = (entry) => lines.push(redact(logLine(shortPath(entry, redact), io)));
  const target = await configToRead(context);
  const pgliteDir = target.pgliteDir;
  // Listened for before anything starts: Deno's listener takes effect some milliseconds after it
  // is added, and a SIGTERM right after the "listening" line otherwise ended serve with 143.
  const stop = stopSignal(io, log, () => lines.flush());
  const db = await openServedDatabase(target, config.serve.statementTimeoutMs).catch((error) => {
    stop.unsubscribe();
    throw error;
  });
  let healthDb: Database | undefined;
  let server: RunningServer | undefined;
  let stopped = false;
  try {
    await refuseMissingGrants(db);
    healthDb = await openHealthDatabase(target, db, config.serve.statementTimeoutMs);
    const few = descriptorsWarning(db);
    const demo = pgliteDir !== context.config.pgliteDir; // configToRead chose the demo's
    server = await startListening(context, { db, healthDb, demo }, log, { host, port });
    stop.started(server);
    logListening(context, log, { host, port: server.port, db, pgliteDir });
    if (few !== undefined) log(few);
    lines.flush(); // whoever waits for the address sees it now
    await untilFinished(server, log);
    stopped = true;
    return 0;
  } finally {
    stop.unsubscribe();
    lines.flush();
    // The stop has had its grace (serve/server.ts): a statement still running after a cut gets
    // 1 s more, so the whole stop stays under the 10 s Docker and Kubernetes wait. "stopped" is
    // the last line, after every access line.
    await closeThenFlush([db, healthDb], lines.flush, {
      server,
      last: stopped ? () => log({ event: "stopped" }) : undefined,
    });
  }
}

/** How long a stopped serve waits for the access lines of its cut exports, milliseconds. */
const LAST_LINES_WAIT_MS = 1000;

/**
 * Closes the databases, then writes the lines logged meanwhile, also when a close failed: the
 * access lines of exports cut while still reading end with the close (before, 8 of 8 such lines
 * were lost). Throws the first failure after.
 */
async function closeThenFlush(
  dbs: (Database | undefined)[],
  flush: () => void,
  { server, last }: { server?: RunningServer; last?: () => void },
): Promise<void> {
  const closed = await Promise.allSettled(dbs.map((db) => db?.close(1)));
  // An export cut by a second signal ends its reading as the database closes: its line is
  // written just after (before, it was lost in 2 of 4 stops a tester made, or came after
  // "stopped").
  await server?.linesWritten(LAST_LINES_WAIT_MS);
  last?.();
  flush();
  const failed = closed.find((c) => c.status === "rejected");
  if (failed !== undefined) throw failed.reason;
}

/** The "listening" line, and a warning when anyone who reaches the port reads every ticket. */
function logListening(
  { config }: Context,
  log: Log,
  at: { host: string; port: number; db: Database; pgliteDir: string },
): void {
  const { host, port, db } = at;
  log({
    event: "listening",
    url: `http://${hostPort(host, port)}/`,
    // As every command names it: `PostgreSQL at 127.0.0.1:5432 (database "fleet")`.
    database: db.kind === "pglite" ? `embedded (${at.pgliteDir})` : db.description ?? "postgres",
    token: config.serve.token !== undefined,
    corsOrigins: config.serve.corsOrigins,
  });
  if (config.serve.token === undefined && !isLoopback(host)) {
    log({
      level: "warn",
      event: "open_without_token",
      message: `Serving ${host} without SERVE_TOKEN: anyone who reaches the port reads every ` +
        `ticket; set SERVE_TOKEN, or listen on 127.0.0.1 behind a proxy that checks callers`,
    });
  }
}

/** Characters of a request path an access-log line keeps. */
const LOGGED_PATH_CHARS = 2048;

/**
 * `entry` with a request path over {@linkcode LOGGED_PATH_CHARS} cut, saying how long it was: a
 * 64 KB path (the most Deno's server takes) would otherwise be written, and redacted, whole.
 */
function shortPath(
  entry: Record<string, unknown>,
  redact: (text: string) => string,
): Record<string, unknown> {
  if (typeof entry.path !== "string" || entry.path.length <= LOGGED_PATH_CHARS) return entry;
  const path = redact(entry.path);
  return {
    ...entry,
    path: `${path.slice(0, LOGGED_PATH_CHARS)}… (${entry.path.length} characters)`,
  };
}

/** `--port` (default 8080) and `--host` (default 127.0.0.1, brackets around IPv6 optional). */
function readAddress(args: string[]): { host: string; port: number } {
  const values = parse(args, { port: { type: "string" }, host: { type: "string" } });
  const portText = String(values.port ?? "8080");
  // Decimal digits only: Number() also reads "0x1F90" (8080), "1e3" and " 80 ".
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port <= 65535)) {
    throw new UsageError(`Cannot read --port "${portText}": expected 0 to 65535 in decimal digits`);
  }
  const host = String(values.host ?? "127.0.0.1").replace(/^\[(.*)\]$/, "$1"); // [::1] or ::1
  return { host, port };
}

/** One log line: short text on a terminal, else a JSON object with its time. */
export function logLine(
  entry: Record<string, unknown>,
  io: Pick<Context["io"], "terminal">,
): string {
  return io.terminal.stdout
    ? terminalLine(entry)
    : JSON.stringify({ time: new Date().toISOString(), ...entry });
}

/** The terminal form of a log line: a request as `GET /path 200 3.1 ms 5 rows`, else its event. */
function terminalLine(entry: Record<string, unknown>): string {
  const { level, event, error, ...rest } = entry;
  const words: unknown[] = [];
  if (event === "request") {
    const { method, path, status, ms, rows } = rest;
    words.push(
      method,
      path,
      status,
      ms === undefined ? "" : `${ms} ms`,
      rows ? `${rows} rows` : "",
    );
  } else if (event === "listening") {
    const { url, database, token, corsOrigins } = rest;
    const cors = Array.isArray(corsOrigins) && corsOrigins.length > 0
      ? `; CORS: ${corsOrigins.join(" ")}`
      : "";
    words.push(
      `listening on ${url} (database: ${database}; token: ${token ? "required" : "none"}${cors})`,
    );
  } else if (typeof rest.message === "string") {
    words.push(`${level === "warn" ? "warning" : level ?? "info"}: ${rest.message}`);
  } else {
    words.push(level, event);
    for (const [name, value] of Object.entries(rest)) {
      if (value !== undefined) {
        words.push(`${name}=${typeof value === "string" ? value : JSON.stringify(value)}`);
      }
    }
  }
  if (error) words.push(error);
  return words.map((word) => terminalText(String(word ?? "")).trim()).filter((word) => word)
    .join(" ");
}

/** Connections of serve's PostgreSQL pool. */
const SERVE_POOL_SIZE = 8;

/**
 * Every connection takes a file descriptor: too few, and a few hundred idle clients stop serve
 * accepting (serve/server.ts listens again, but cannot do more). Counted before it listens, less
 * what PostgreSQL's connections not open yet will take: the pool's but the one open (health's is
 * open too), and the listener's.
 */
function descriptorsWarning(db: Database): Record<string, unknown> | undefined {
  return fewDescriptorsWarning(db.kind === "postgres" ? SERVE_POOL_SIZE : 0);
}

/** The migrated database, read only; an embedded one another process holds is an error. */
function openServedDatabase(target: Config, statementTimeoutMs: number): Promise<Database> {
  return openDatabase(target, {
    requireMigrated: true,
    existing: true,
    poolSize: SERVE_POOL_SIZE,
    prepare: true,
    readOnlyTimeoutMs: statementTimeoutMs,
  }).catch((error) => {
    if (!(error instanceof DatabaseLockedError)) throw error;
    // Not a run to skip, as for ingest: this server did not start.
    const holder = error.holder === undefined
      ? "another process holds it (another serve, or a run)"
      : `a running "${error.holder.command}" (process ${error.holder.pid}, since ` +
        `${error.holder.since}) holds it`;
    throw new Error(
      `Cannot serve the embedded database "${target.pgliteDir}": ${holder}; stop that one, ` +
        `or serve PostgreSQL through DATABASE_URL`,
    );
  });
}

/**
 * PostgreSQL: one more connection, for `/api/health` alone, so that a pool busy with exports and
 * dashboards does not make a healthy server look down to a load balancer's probe (before: 60
 * clients put health at 2 s p50, 8 exports at 7.5 s). The embedded database runs one thing at a
 * time: none.
 */
function openHealthDatabase(
  target: Config,
  db: Database,
  statementTimeoutMs: number,
): Promise<Database | undefined> {
  if (db.kind !== "postgres") return Promise.resolve(undefined);
  return openDatabase(target, {
    existing: true,
    poolSize: 1,
    prepare: true,
    readOnlyTimeoutMs: statementTimeoutMs,
  });
}

/** How long serve's start-up check of its privileges may take, milliseconds. */
const START_CHECK_TIMEOUT_MS = 30_000;

/**
 * Refuses to serve PostgreSQL as a role that lacks a privilege the read API needs, naming the
 * GRANT statements to run: otherwise `serve` starts, `/api/health` says ok, and the routes that
 * read what the role may not answer 500. The embedded database has one role, a superuser.
 */
export async function refuseMissingGrants(db: Database): Promise<void> {
  if (db.kind !== "postgres") return;
  // serve's own check, not a request: SERVE_STATEMENT_TIMEOUT is for requests (at its smallest,
  // 0.1 s, a new connection's first look at the catalogs overran it: serve did not start).
  const missing = await db.transaction(async (tx) => {
    await tx.query(`select set_config('statement_timeout', $1, true)`, [
      String(START_CHECK_TIMEOUT_MS),
    ]);
    return await missingReadGrants(tx);
  });
  if (missing.grants.length === 0) return;
  throw new ConfigError(
    `Cannot serve: ${describeMissingGrants(missing, "the read API needs")}`,
  );
}

/** Serves `db` at `address`; the port may have been taken while the database opened. */
function startListening(
  { config, redact }: Context,
  { db, healthDb, demo }: { db: Database; healthDb: Database | undefined; demo: boolean },
  log: Log,
  { host, port }: { host: string; port: number },
): Promise<RunningServer> {
  return startServer({
    db,
    healthDb,
    demo,
    settings: config.serve,
    webRoot: WEB_ROOT,
    now: () => new Date(),
    log,
    redact,
    host,
    port,
  }).catch((error) => {
    throw listenError(error, host, port); // taken while the database opened
  });
}

/** SIGTERM/SIGINT, listened for from serve's start: {@linkcode stopSignal}. */
interface StopSignal {
  /**
   * From now on a signal stops `server`: the requests that had arrived answered, or cut after
   * STOP_GRACE_MS (serve/server.ts) when still being sent, which is logged.
   */
  started(server: RunningServer): void;
  unsubscribe(): void;
}

/**
 * Listens for SIGTERM/SIGINT now. Before the server has started (the database opening, which can
 * take seconds), a signal ends serve at once, exit 0: nothing is being answered yet. (Without
 * `io.exit`, in tests, it stops the server once it has started.)
 */
function stopSignal(io: Context["io"], log: Log, flush: () => void): StopSignal {
  let running: RunningServer | undefined;
  let received: string | undefined;
  let stopping = false;
  const stop = (signal: string) => {
    // A second signal (Ctrl-C again) stops waiting for the requests in flight: cut now.
    log({
      event: "stopping",
      signal,
      inFlight: running!.inFlight,
      ...(stopping ? { now: true } : {}),
    });
    running!.shutdown({ now: stopping });
    stopping = true;
  };
  const unsubscribe = io.onSignal((signal) => {
    if (running !== undefined) return stop(signal);
    if (io.exit === undefined) return void (received ??= signal);
    log({ event: "stopped", signal, before: "listening" });
    flush();
    io.exit(0);
  });
  return {
    started(server) {
      running = server;
      if (received !== undefined) stop(received);
    },
    unsubscribe,
  };
}

/** Waits until the server has stopped; a server that cannot go on is logged, then reported. */
async function untilFinished(server: RunningServer, log: Log): Promise<void> {
  try {
    await server.finished;
  } catch (error) {
    log({
      level: "error",
      event: "serve_failed",
      error: error instanceof Error ? error.message : String(error),
    });
    await server.shutdown().catch(() => {}); // what is being answered, within the grace
    throw error;
  }
}
