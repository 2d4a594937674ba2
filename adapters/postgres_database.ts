/**
 * PostgreSQL adapter (postgres.js), used when `DATABASE_URL` is set.
 *
 * @module
 */

import { connect as connectSocket, type Socket } from "node:net";
import postgres from "postgres";
import { encodeCopyText } from "./_copy_text.ts";
import { DATE_OID } from "./_pg_types.ts";
import { socketWords } from "./_socket_words.ts";
import { type StallWatch, watchStalls } from "./_stall_watch.ts";
import type { Database, Row, SqlSession, StatementResult } from "../core/ports/mod.ts";
import { wholeTimeoutMs } from "../core/read_only.ts";

type Sql = postgres.Sql | postgres.TransactionSql;

/**
 * Seconds a command waits for PostgreSQL to answer its first query (every host of a multi-host
 * URL tried in turn within it) before giving up with exit 1.
 */
export const CONNECT_TIMEOUT_S = 10;

/**
 * Longest wait, milliseconds, for the server to take a cancel request (see `cancel()`): the
 * statements after it wait at most this long (a run has 5 s after a signal to report).
 */
export const CANCEL_TIMEOUT_MS = 2000;

/**
 * Seconds a statement may go without an answer before the server is asked, on a new connection,
 * whether it still answers (see `_stall_watch.ts`); default of `stallAfterS`.
 */
export const STALL_AFTER_S = 60;

/** Options for {@linkcode createPostgresDatabase}. */
export interface PostgresDatabaseOptions {
  /** Seconds to wait for a connection (default {@linkcode CONNECT_TIMEOUT_S}). */
  connectTimeout?: number;
  /**
   * Connections in the pool (default 1: a run's advisory lock and staging table live on its one
   * connection). The read API uses several, one per concurrent read-only transaction.
   */
  max?: number;
  /**
   * Keep each statement prepared on its connection (default false): a repeated query skips
   * parsing and planning and one round trip. For a fixed set of statements (the read API).
   */
  prepare?: boolean;
  /**
   * Open every connection read only, with this statement timeout in milliseconds
   * (`default_transaction_read_only`, `statement_timeout` in the startup message): a statement
   * outside any transaction cannot write or run longer either. For the read API, whose pool
   * also plans each prepared statement once (`plan_cache_mode`) and runs no parallel workers.
   */
  readOnlyTimeoutMs?: number;
  /**
   * Bound, in milliseconds, each statement's wait for rows or tables another session holds
   * (`lock_timeout` in the startup message): on every connection from its first statement, a
   * replacement connection included. Unset or 0: the server's setting (unbounded by default).
   */
  lockTimeoutMs?: number;
  /**
   * Seconds a statement may wait without any answer before the server is asked, on a new
   * connection, whether it still answers; when that gets no answer within `connectTimeout`, the
   * waiting statements fail as a lost connection (transient), naming the silence. 0: never asked.
   * Default {@linkcode STALL_AFTER_S}, or 0 for a read-only pool (the read API has a deadline of
   * its own for each read).
   */
  stallAfterS?: number;
}

/** Options for {@linkcode connectPostgresDatabase}. */
export interface ConnectPostgresOptions extends PostgresDatabaseOptions {
  /** Stops waiting for the connection (SIGTERM, Ctrl-C). */
  signal?: AbortSignal;
}

/** PostgreSQL could not be reached, or what answered is not PostgreSQL. */
export class DatabaseConnectError extends Error {
  /** Creates the error; the message names hosts, ports and database, never the password. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatabaseConnectError";
  }
}

/**
 * Connecting failed in a way only a change of DATABASE_URL fixes (the server refuses TLS that
 * the URL asks for): terminal; rerunning as is cannot help.
 */
export class DatabaseUrlError extends DatabaseConnectError {
  /** Creates the error; the message names hosts, ports and database, never the password. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatabaseUrlError";
  }
}

/**
 * What answers at DATABASE_URL's host and port is not PostgreSQL (a web server, an S3 server,
 * another service): terminal, as the S3 adapter's `NotS3EndpointError` is for the bucket;
 * rerunning as is cannot help, the URL must change.
 */
export class NotPostgresError extends DatabaseUrlError {
  /** Creates the error; the message names hosts, ports and database, never the password. */
  constructor(message: string) {
    super(message);
    this.name = "NotPostgresError";
  }
}

/**
 * Connects to PostgreSQL and waits (bounded by the connect timeout, and by `signal`) until the
 * server answers a first query. postgres.js alone reconnects for ever to a port that answers but
 * is not PostgreSQL, and can wait for ever on a multi-host URL whose first host is down.
 */
export async function connectPostgresDatabase(
  url: string,
  options: ConnectPostgresOptions = {},
): Promise<Database> {
  const timeoutS = options.connectTimeout ?? CONNECT_TIMEOUT_S;
  const db = createPostgresDatabase(url, {
    connectTimeout: timeoutS,
    max: options.max,
    prepare: options.prepare,
    readOnlyTimeoutMs: options.readOnlyTimeoutMs,
    lockTimeoutMs: options.lockTimeoutMs,
    stallAfterS: options.stallAfterS,
  });
  const where = describeTarget(url);
  const gaveUp = giveUpConnecting(db, where, timeoutS, options.signal);
  try {
    await Promise.race([db.query("select 1"), gaveUp.promise]);
    if (options.readOnlyTimeoutMs !== undefined) {
      await Promise.race([db.checkReadOnly(), gaveUp.promise]);
    }
    return db;
  } catch (error) {
    // Do not wait on a connection that may never settle; the process is about to report.
    await Promise.race([db.close(0).catch(() => {}), new Promise((r) => setTimeout(r, 500))]);
    throw connectError(error, where, db.answered, url);
  } finally {
    gaveUp.stop();
  }
}

/**
 * A promise that rejects when connecting takes longer than `timeoutS`, when what answers is not
 * PostgreSQL, or on `signal`; `stop()` ends the wait once connecting has settled.
 */
function giveUpConnecting(
  db: PostgresConnectState,
  where: string,
  timeoutS: number,
  signal: AbortSignal | undefined,
): { promise: Promise<never>; stop(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // Bytes that could be PostgreSQL's, then silence: a server or a pooler too busy to
      // finish (what is plainly not PostgreSQL has been refused at its first bytes).
      const reason = db.answered
        ? "the server began to answer, then did not finish connecting"
        : db.lastSocketError ??
          "the server accepted the connection but never answered: is PostgreSQL listening " +
            "there? (check the host and port in DATABASE_URL; a busy server may need a larger " +
            "PGCONNECT_TIMEOUT)";
      reject(
        new DatabaseConnectError(
          `Cannot connect to PostgreSQL ${where} within ${timeoutS} s: ${reason}`,
        ),
      );
    }, timeoutS * 1000);
    db.onNotPostgres(reject);
    // The stop's reason first ("Interrupted by SIGTERM"; before: "…: interrupted", no signal).
    onAbort = () => {
      const why = signal?.reason instanceof Error ? signal.reason.message : "Interrupted";
      reject(new DatabaseConnectError(`${why} while connecting to PostgreSQL ${where}`));
    };
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  return {
    promise,
    stop() {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
      promise.catch(() => {});
    },
  };
}

/** A failure to connect as a {@linkcode DatabaseConnectError} naming the target and what to fix. */
function connectError(
  given: unknown,
  where: string,
  answered: boolean,
  url: string,
): DatabaseConnectError {
  if (given instanceof DatabaseConnectError) return given;
  // Lost while connecting: the socket's own words say why (a refused TLS, a reset), not ours for
  // a session lost mid-statement, which would also name the server twice.
  const error = given instanceof ConnectionLostError ? given.cause : given;
  // The socket's own error already says "Cannot connect to PostgreSQL at host:port": keep its
  // reason only, after the full target.
  const message = ((error as Error).message ?? String(error))
    .replace(/^Cannot connect to PostgreSQL at \S+?:\d+: /, ""); // `::1:5432: ` too
  // A setting to fix: every rerun fails alike until it changes (before: exit 1, an outage).
  const refused = refusedSetting(error, message, url);
  if (refused !== undefined) {
    return new DatabaseUrlError(`Cannot connect to PostgreSQL ${where}: ${message}; ${refused}`, {
      cause: error,
    });
  }
  // A port that takes the connection and resets it without a byte (another service, a proxy).
  const hint = /ECONNRESET|EPIPE/.test(message) && !answered
    ? "; the port took the connection and dropped it without a word: is PostgreSQL listening there? (check the host and port in DATABASE_URL)"
    : "";
  return new DatabaseConnectError(`Cannot connect to PostgreSQL ${where}: ${message}${hint}`, {
    cause: error,
  });
}

/** The TLS stack's words for a certificate it does not trust (or that names another host). */
const UNTRUSTED_CERTIFICATE =
  /self[- ]signed certificate|unable to (verify the first|get local issuer|get issuer) certificate|certificate has expired|certificate is not yet valid/i;

/** The TLS stack's words for a certificate that does not name the host connected to. */
const WRONG_NAME = /does not match certificate's altnames|ERR_TLS_CERT_ALTNAME_INVALID/i;

/**
 * What to fix when the connection fails for a setting, which every rerun meets alike until it
 * changes: a server without TLS asked for it (sslmode=require: the socket's error alone reads as
 * a lost socket), no such database (3D000), a wrong password (28P01), no such role, a role that
 * may not log in or no pg_hba.conf entry (28000: not its other causes, such as an LDAP or RADIUS
 * server that did not answer), no CONNECT privilege (42501). Undefined otherwise.
 */
function refusedSetting(error: unknown, message: string, url: string): string | undefined {
  const rootCert = rootCertOf(url);
  if (/before secure TLS connection/.test(message)) {
    return "the server may not accept TLS: check sslmode in DATABASE_URL (sslmode=disable turns " +
      "TLS off)";
  }
  // Every rerun meets the same certificate (before: exit 1 and transient, retried for ever).
  if (WRONG_NAME.test(message)) {
    return "the certificate does not name this host: connect by a name it lists (DATABASE_URL's " +
      "host), or use sslmode=verify-ca to check the CA and not the name";
  }
  if (UNTRUSTED_CERTIFICATE.test(message)) {
    return rootCert === undefined
      ? "its certificate is not trusted: name its CA's certificate with sslrootcert=<a file " +
        "inside this checkout> in DATABASE_URL (or PGSSLROOTCERT), or use sslmode=require to " +
        "encrypt without checking the certificate"
      : `its certificate is not signed by the CA in sslrootcert "${rootCert}": name the CA ` +
        "that signed it, or use sslmode=require to encrypt without checking the certificate";
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "3D000") return "check the database's name in DATABASE_URL";
  if (code === "28P01") return passwordToCheck(url);
  if (code === "28000" && /pg_hba\.conf/.test(message)) {
    return "check the user and host in DATABASE_URL, or the server's pg_hba.conf";
  }
  if (code === "28000" && /does not exist|not permitted to log in/.test(message)) {
    return "check the user in DATABASE_URL";
  }
  if (code === "42501") return "as the database's owner, grant the role connect on it";
  if (code === "42704") return unknownQueryName(message, url);
  return undefined;
}

/**
 * Names in a DATABASE_URL's query string that the client reads itself (postgres.js's options
 * and libpq's TLS names; the rest it sends the server), for a guess at a mistyped one.
 */
const CLIENT_QUERY_NAMES = [
  "sslmode",
  "sslrootcert",
  "sslnegotiation",
  "target_session_attrs",
  "connect_timeout",
  "idle_timeout",
  "max_lifetime",
  "keep_alive",
  "fetch_types",
];

/**
 * A name in DATABASE_URL's query string that the server refused as no setting of its own
 * (`?sslmod=require`): the client sends every name it does not read itself to the server at
 * startup. Before: exit 1 and the server's words alone, as for an outage (a tester's).
 */
function unknownQueryName(message: string, url: string): string | undefined {
  const name = /unrecognized configuration parameter "([^"]+)"/.exec(message)?.[1];
  let names: string[] = [];
  try {
    names = [...new URL(url).searchParams.keys()];
  } catch {
    // Not a URL the WHATWG parser reads: nothing to name.
  }
  if (name === undefined || !names.includes(name)) return undefined;
  const guess = CLIENT_QUERY_NAMES.find((n) => n !== name && n.slice(0, 4) === name.slice(0, 4));
  return `"${name}" in DATABASE_URL's query string is no setting the server knows (the client ` +
    `sends it every name it does not read itself): ${
      guess === undefined ? "correct or remove it" : `did you mean "${guess}"?`
    }`;
}

/**
 * Which password a refused login used, to check: DATABASE_URL's, or PGPASSWORD's when the URL
 * names none (postgres.js reads it then; before, both were "check DATABASE_URL"), or none.
 */
function passwordToCheck(url: string): string {
  let inUrl = true;
  try {
    inUrl = new URL(url).password !== "";
  } catch {
    // Not a URL the WHATWG parser reads (postgres.js reads more): the URL is what to check.
  }
  if (inUrl) return "check the user and password in DATABASE_URL";
  if (envPgPassword() !== undefined) {
    return "check PGPASSWORD (DATABASE_URL names no password, so PGPASSWORD's was sent) and " +
      "the user in DATABASE_URL";
  }
  return "DATABASE_URL names no password, and PGPASSWORD is not set: put the user's password " +
    "in DATABASE_URL, after the user name and a colon (user:…@host)";
}

/** PGPASSWORD, when set and readable (postgres.js sends it for a URL naming no password). */
function envPgPassword(): string | undefined {
  try {
    return Deno.env.get("PGPASSWORD") || undefined;
  } catch {
    return undefined;
  }
}

/**
 * `at host:port[, host:port…] (database "db")`, never the password. A URL that names no database
 * connects to PGDATABASE's, else the one named as its user (postgres.js, as libpq): said so,
 * since a newcomer told to migrate "the database" would otherwise migrate `postgres` unknowingly.
 */
export function describeTarget(url: string, pgDatabase = envPgDatabase()): string {
  const match = /^postgres(?:ql)?:\/\/(?:([^@/:]*)(?::[^@/]*)?@)?([^/?#]*)(?:\/([^?#]*))?/.exec(
    url,
  );
  const hosts = (match?.[2] ?? "").split(",").map((h) =>
    /:\d*$/.test(h) && !h.endsWith("]") ? h : `${h || "localhost"}:5432`
  );
  const database = decodeURIComponent(match?.[3] ?? "");
  const user = decodeURIComponent(match?.[1] ?? "");
  const named = database !== ""
    ? `database "${database}"`
    : pgDatabase
    ? `database "${pgDatabase}", PGDATABASE's: DATABASE_URL names none`
    : user !== ""
    ? `database "${user}", the user's: DATABASE_URL names none`
    : "database not named in DATABASE_URL";
  return `at ${hosts.join(", ")} (${named})`;
}

/** How reports and messages name the database at `url` (its `description`), never the password. */
export function describePostgres(url: string): string {
  return `PostgreSQL ${describeTarget(url)}`;
}

/** PGDATABASE, when set and readable (postgres.js reads it for a URL naming no database). */
function envPgDatabase(): string | undefined {
  try {
    return Deno.env.get("PGDATABASE") || undefined;
  } catch {
    return undefined; // not allowed to read it: postgres.js cannot either
  }
}

/**
 * Connects to PostgreSQL. One connection for the whole run, so the session advisory lock
 * and the staging temp table live as long as the run.
 *
 * @example Usage
 * ```ts ignore
 * import { createPostgresDatabase, migrate } from "../mod.ts";
 *
 * const db = createPostgresDatabase(Deno.env.get("DATABASE_URL")!, { connectTimeout: 5 });
 * await migrate(db);
 * const [row] = await db.query<{ n: number }>(`select count(*)::int as n from tickets.inc`);
 * console.log(row?.n);
 * await db.close();
 * ```
 */
export function createPostgresDatabase(
  url: string,
  options: PostgresDatabaseOptions = {},
): Database & PostgresConnectState & {
  close(timeoutS?: number): Promise<void>;
  checkReadOnly(): Promise<void>;
} {
  const tls = withRootCert(url);
  const target: PoolTarget = {
    url: tls.url,
    where: describeTarget(url),
    timeoutS: options.connectTimeout ?? CONNECT_TIMEOUT_S,
    ssl: tls.ssl,
  };
  const readOnlyTimeoutMs = options.readOnlyTimeoutMs === undefined
    ? undefined
    : wholeTimeoutMs(options.readOnlyTimeoutMs);
  const sockets = newSocketState();
  const sql = openPool(
    target,
    { max: options.max ?? 1 },
    sockets,
    {
      ...readOnlySession(readOnlyTimeoutMs),
      ...options.lockTimeoutMs
        ? { lock_timeout: String(wholeTimeoutMs(options.lockTimeoutMs)) }
        : {},
    },
  );
  const stallAfterS = options.stallAfterS ?? (readOnlyTimeoutMs === undefined ? STALL_AFTER_S : 0);
  // The listening connection counts its own sockets: a new one must not read as the loss of
  // the connection that holds the run's lock.
  return new PostgresDatabase(sql, sockets, {
    prepare: options.prepare ?? false,
    readOnlyTimeoutMs,
    description: describePostgres(url),
    stall: stallAfterS > 0 ? { afterS: stallAfterS, probe: () => answersAtAll(target) } : undefined,
  }, (listener) =>
    openPool(target, {
      max: 1,
      fetch_types: false,
      onnotify: listener.onnotify,
      onclose: listener.onclose,
    }, newSocketState()));
}

/** Where a pool connects, and how long each connection may take. */
interface PoolTarget {
  url: string;
  /** {@linkcode describeTarget}'s words for the URL. */
  where: string;
  timeoutS: number;
  /** TLS options checking the server's certificate against `sslrootcert`'s CA, if named. */
  ssl?: Record<string, unknown>;
}

/**
 * TLS against the CA that `sslrootcert` names (libpq's parameter: a PEM file, inside this
 * checkout, which the permission set reads), which postgres.js does not read (before: ignored,
 * and a server under a private CA could not be verified: a tester's, Coolify's managed
 * PostgreSQL). The URL without it, and postgres.js's `ssl` options: the server's certificate
 * must chain to that CA and, for verify-full, name the host. `sslrootcert=system` is
 * postgres.js's own (the system's CAs): left to it. The config checks the sslmode it goes with.
 */
export function withRootCert(url: string): { url: string; ssl?: Record<string, unknown> } {
  const at = url.indexOf("?");
  if (at < 0) return { url };
  const search = new URLSearchParams(url.slice(at + 1));
  const file = search.get("sslrootcert");
  if (file === null || file === "system") return { url };
  search.delete("sslrootcert");
  const rest = search.toString();
  const ssl: Record<string, unknown> = { ca: readRootCert(file), rejectUnauthorized: true };
  const mode = search.getAll("sslmode").at(-1) ?? search.getAll("ssl").at(-1);
  if (mode === "verify-ca") ssl.checkServerIdentity = () => undefined;
  // An IP address has no name to send: the certificate is checked against it (else "localhost").
  const hosts = hostList(url)?.split(",") ?? [];
  if (hosts.length === 1) ssl.host = hosts[0]!.replace(/:\d*$/, "").replace(/^\[(.*)\]$/, "$1");
  return { url: url.slice(0, at) + (rest ? `?${rest}` : ""), ssl };
}

/** The CA certificate file a URL names (sslrootcert), if any but postgres.js's `system`. */
function rootCertOf(url: string): string | undefined {
  const at = url.indexOf("?");
  const file = at < 0 ? null : new URLSearchParams(url.slice(at + 1)).get("sslrootcert");
  return file === null || file === "system" ? undefined : file;
}

/** The PEM text of the CA certificate `sslrootcert` names, or why it cannot be read. */
function readRootCert(file: string): string {
  const cannot = `Cannot read the CA certificate sslrootcert "${file}"`;
  if (file.trim() === "") {
    throw new DatabaseUrlError(`${cannot}: it names no file; name the CA's PEM file, or remove it`);
  }
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new DatabaseUrlError(`${cannot}: it does not exist`);
    }
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new DatabaseUrlError(
        `${cannot}: fleettickets may read files inside this checkout (the permission set in ` +
          `deno.json); copy it there (such as .data/ca.crt) and name that`,
      );
    }
    // A folder, or anything else a rerun meets alike: a setting to fix (before: exit 1,
    // transient, "Is a directory (os error 21)": a tester's).
    const why = error instanceof Error ? error.message.replace(/ \(os error \d+\).*$/, "") : "";
    throw new DatabaseUrlError(`${cannot}: ${why.toLowerCase()}; name the CA's PEM file`);
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new DatabaseUrlError(
      `${cannot}: it holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`,
    );
  }
  return text;
}

/** A URL's `host:port[,host:port…]` part, as written; undefined when it is no postgres:// URL. */
function hostList(url: string): string | undefined {
  return /^postgres(?:ql)?:\/\/(?:[^@/]*@)?([^/?#]*)/.exec(url)?.[1];
}

/**
 * The hosts and ports of a URL that names an IPv6 address (`postgres://u@[::1]:5432/db`), which
 * postgres.js's own reading cuts at the address's first colon (before: "the host name is not
 * known (ENOTFOUND)", a tester's); undefined for a URL without one, read by postgres.js.
 *
 * @example
 * ```ts ignore
 * bracketedHosts("postgres://u@[::1]:5433,db2/x"); // { host: ["::1", "db2"], port: [5433, 5432] }
 * ```
 */
export function bracketedHosts(url: string): { host: string[]; port: number[] } | undefined {
  const part = hostList(url) ?? "";
  if (!part.includes("[")) return undefined;
  const host: string[] = [];
  const port: number[] = [];
  for (const one of part.split(",")) {
    const m = /^\[([^\]]*)\](?::(\d+))?$|^([^:]*)(?::(\d+))?$/.exec(one);
    if (m === null) return undefined;
    host.push(m[1] ?? (m[3] || "localhost"));
    port.push(Number(m[2] ?? m[4] ?? 5432));
  }
  return { host, port };
}

/**
 * A postgres.js pool over our own sockets (see {@linkcode openSessionSocket}); `session`: further
 * settings in the startup message (a read-only pool's).
 */
function openPool(
  target: PoolTarget,
  settings: Record<string, unknown>,
  state: SocketState,
  session: Record<string, string> = {},
) {
  return postgres(target.url, {
    connect_timeout: target.timeoutS,
    ...(target.ssl === undefined ? {} : { ssl: target.ssl }),
    onnotice: () => {},
    // Never swap the connection by age mid-run: the run's advisory lock lives on it.
    max_lifetime: null,
    // temp_buffers: a change file's COPY table stays in memory (the default 8 MB spills a
    // 12 MB baseline to disk: its COPY and scans take ~2× as long). Allocated only when used.
    connection: { application_name: "fleettickets", temp_buffers: "64MB", ...session },
    ...settings,
    // Supported by postgres.js, missing from its type definitions (hosts as arrays too).
    ...{
      ...bracketedHosts(target.url),
      // `cancel`: a cancel request's connection (vendor patch), which is no session.
      socket: (settings: SocketSettings, opening?: { cancel?: boolean }) =>
        openSessionSocket(target, settings, state, opening),
    } as Record<string, unknown>,
  });
}

/**
 * Whether the server at `target` answers a new connection within its connect timeout: its
 * `select 1`, or an error of its own (too many connections, shutting down) is an answer; a
 * socket error or silence is none. Never rejects.
 */
async function answersAtAll(target: PoolTarget): Promise<boolean> {
  const sql = openPool(target, { max: 1, fetch_types: false }, newSocketState());
  let timer: ReturnType<typeof setTimeout> | undefined;
  const silence = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), target.timeoutS * 1000);
    Deno.unrefTimer(timer);
  });
  const answer = sql`select 1`.then(
    () => true,
    (error) => error instanceof postgres.PostgresError,
  );
  try {
    return await Promise.race([answer, silence]);
  } finally {
    clearTimeout(timer);
    sql.end({ timeout: 0 }).catch(() => {});
  }
}

/**
 * The read API's pool settings. Its statements are prepared and each is planned once per
 * connection: PostgreSQL's default plans again for every call when a `limit $n` makes the
 * reusable plan look dearer (/api/nearest: 0.4 ms planning to 0.2 ms running). Without parallel
 * workers: concurrent requests already use every core (a worker-sorted page took 2.4× as long).
 */
function readOnlySession(readOnlyTimeoutMs: number | undefined): Record<string, string> {
  return readOnlyTimeoutMs === undefined ? {} : {
    default_transaction_read_only: "on",
    statement_timeout: String(readOnlyTimeoutMs),
    plan_cache_mode: "force_generic_plan",
    max_parallel_workers_per_gather: "0",
  };
}

function newSocketState(): SocketState {
  return { opened: 0, answered: false, lastError: undefined, open: new Set() };
}

/** Opens a socket (see {@linkcode openSocket}); a session's is counted and its first bytes checked. */
async function openSessionSocket(
  target: PoolTarget,
  settings: SocketSettings,
  state: SocketState,
  opening?: { cancel?: boolean },
): Promise<Socket> {
  const socket = await openSocket(settings, target.timeoutS * 1000, state);
  if (opening?.cancel) return socket;
  state.opened++;
  state.open.add(socket);
  socket.once("close", () => state.open.delete(socket));
  socket.once("data", (chunk: Uint8Array) => checkFirstBytes(socket, chunk, target.where, state));
  return socket;
}

/** Destroys the socket, telling the connect check, when `chunk` cannot come from PostgreSQL. */
function checkFirstBytes(
  socket: Socket,
  chunk: Uint8Array,
  where: string,
  state: SocketState,
): void {
  state.answered = true;
  const answer = notPostgresAnswer(chunk);
  if (answer === undefined) return;
  // Waiting out the timeout tells no more; and postgres.js, given such bytes then a
  // closed socket, would connect again for ever (a query of the read API never ending).
  const { host, port } = socket as { host?: string; port?: number };
  const who = where.includes(", ") ? ` from ${host}:${port}` : ""; // which of several
  const error = new NotPostgresError(
    `Cannot connect to PostgreSQL ${where}: the answer${who} is not PostgreSQL's ` +
      `(${answer}), another service listens there; check the host and port in DATABASE_URL`,
  );
  state.onNotPostgres?.(error);
  socket.destroy(error);
}

/** What a listening connection reports. */
interface ListenerEvents {
  onnotify: (channel: string, payload: string) => void;
  onclose: () => void;
}

/** Delay before listening again after losing the listening connection, milliseconds. */
export const LISTEN_RETRY_MS = 1000;

/** What the connect check can say about the connection attempts. */
export interface PostgresConnectState {
  /** The last socket error (host, port and reason), if any. */
  readonly lastSocketError: string | undefined;
  /** Whether any socket received bytes (something answers on the port). */
  readonly answered: boolean;
  /**
   * Calls `fn` when a socket's first bytes cannot come from a PostgreSQL server (see
   * {@linkcode notPostgresAnswer}), with the error the socket is destroyed with.
   */
  onNotPostgres(fn: (error: NotPostgresError) => void): void;
}

interface SocketState {
  opened: number;
  /** The sessions' sockets still open: a server given up on has them destroyed. */
  open: Set<Socket>;
  answered: boolean;
  lastError: string | undefined;
  /** Called when a socket's first bytes cannot come from a PostgreSQL server. */
  onNotPostgres?: (error: NotPostgresError) => void;
}

/**
 * What a connection's first bytes were, in words, when they cannot come from a PostgreSQL
 * server; undefined when they can. PostgreSQL answers the startup message with R
 * (authentication), E (an error) or v (protocol version), each followed by a 4-byte length
 * that counts itself (a few bytes to a few kB), and a TLS request with the single byte S or N.
 * An HTTP server's "HTTP/1.1 400 …", an SSH banner "SSH-2.0-…" or a TLS alert is none of these.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const bytes = (text: string) => new TextEncoder().encode(text);
 * assert.equal(notPostgresAnswer(bytes("HTTP/1.1 400 Bad Request\r\n")), 'it begins "HTTP/1.1 400 Bad Request"');
 * assert.equal(notPostgresAnswer(Uint8Array.of(0x52, 0, 0, 0, 8, 0, 0, 0, 0)), undefined); // R: AuthenticationOk
 * assert.equal(notPostgresAnswer(bytes("N")), undefined); // no TLS, go on in clear
 * ```
 */
export function notPostgresAnswer(chunk: Uint8Array): string | undefined {
  const first = String.fromCharCode(chunk[0] ?? 0);
  const plausible = "REv".includes(first)
    ? chunk.length < 5 || plausibleLength(new DataView(chunk.buffer, chunk.byteOffset).getUint32(1))
    : "SN".includes(first) && chunk.length === 1;
  if (plausible) return undefined;
  const line = new TextDecoder("utf-8", { fatal: false }).decode(chunk.subarray(0, 200))
    .split(/\r?\n/)[0]!;
  if (/^[\x20-\x7e]{2,}$/.test(line)) {
    return `it begins "${line.length > 40 ? `${line.slice(0, 40)}…` : line}"`;
  }
  const hex = [...chunk.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  return `its first bytes are ${hex}${chunk.length > 8 ? " …" : ""}`;
}

/** A message length PostgreSQL could send first (it counts its own 4 bytes). */
const plausibleLength = (n: number) => n >= 4 && n <= 64 * 1024;

// Our own socket to set TCP_NODELAY (postgres.js leaves Nagle on, and the small CopyDone that
// ends a COPY then waits ~40 ms for the server's delayed ACK) and to try every host of a
// multi-host URL in turn (postgres.js tries only the first when given a socket factory).
interface SocketSettings {
  host: string[];
  port: number[];
  path?: string;
}

async function openSocket(
  settings: SocketSettings,
  timeoutMs: number,
  state: SocketState,
): Promise<Socket> {
  if (settings.path) return await openOne({ path: settings.path }, timeoutMs, state);
  let last: unknown;
  // Every host gets its share of the timeout, so a silent first host leaves time for the next.
  const perHostMs = timeoutMs / Math.max(1, settings.host.length);
  for (const [i, host] of settings.host.entries()) {
    const port = settings.port[i] ?? settings.port[0] ?? 5432;
    try {
      const socket = await openOne({ host, port }, perHostMs, state);
      // postgres.js names host:port in its own connection errors from these.
      Object.assign(socket, { host, port });
      return socket;
    } catch (error) {
      last = error;
    }
  }
  throw last;
}

/** A socket error's code, with what it means for DATABASE_URL where that is plain. */
function inWords(error: Error & { code?: string }): string {
  const words = socketWords(error.code, "PostgreSQL");
  if (words === undefined) return error.code ?? error.message;
  if (error.code === "ECONNREFUSED") return words;
  const network = error.code === "EHOSTUNREACH" || error.code === "ENETUNREACH";
  return `${words}: check the host in DATABASE_URL${network ? " and the network" : ""}`;
}

function openOne(
  target: { host: string; port: number } | { path: string },
  timeoutMs: number,
  state: SocketState,
): Promise<Socket> {
  const name = "path" in target ? target.path : `${target.host}:${target.port}`;
  return new Promise((resolve, reject) => {
    const socket = connectSocket({ ...target, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      state.lastError = `${name} did not answer within ${timeoutMs / 1000} s`;
      reject(new Error(`Cannot connect to PostgreSQL at ${name} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      // Under Deno a reset socket can stay half-open without "close", and postgres.js only
      // reconnects on "close": every later query would wait for ever.
      socket.on("error", () => socket.destroy());
      socket.on("end", () => socket.destroy());
      resolve(socket);
    });
    socket.once("error", (error: Error & { code?: string }) => {
      clearTimeout(timer);
      if (error.code === "EPERM" && "host" in target) {
        // Deno refuses a host name outside --allow-net at its lookup with a bare EPERM (a
        // compiled binary's list): the permission refusal it is, not a transient failure (before:
        // "Cannot connect to PostgreSQL at db2.internal:5432 …: EPERM", retried; a tester's).
        state.lastError = `${name}: not allowed by the permission set`;
        reject(
          new Deno.errors.NotCapable(
            `Requires net access to "${name}", run again with the --allow-net flag`,
          ),
        );
        return;
      }
      const reason = inWords(error);
      state.lastError = `${name}: ${reason}`;
      reject(new Error(`Cannot connect to PostgreSQL at ${name}: ${reason}`));
    });
  });
}

/** A pool's statements in flight, and a cancel on its way to the server (see `cancel()`). */
interface InFlight {
  queries: Set<{ cancel(): Promise<void> | null }>;
  /** Settles once the server has taken the cancel requests (or after CANCEL_TIMEOUT_MS). */
  cancelling?: Promise<void>;
  /** Set once `close()` has waited: no statement is sent after it. */
  closing?: boolean;
  /** The last statement that ended found the server gone (lost, refused): none settles now. */
  unreachable?: boolean;
  /** Notices a server that stopped answering (see `stallAfterS`); undefined: not watched. */
  watch?: StallWatch;
  /** Set once the watch gave up on the server: why every waiting statement failed. */
  stalled?: string;
}

/** `wait()` as a wait the stall watch sees (see `_stall_watch.ts`), or as is when unwatched. */
function watched<T>(watch: StallWatch | undefined, wait: () => PromiseLike<T>): Promise<T> {
  return watch === undefined ? Promise.resolve(wait()) : watch.during(wait);
}

/** A statement asked for once the pool is closing: refused, not sent (see `close()`). */
function refuseWhileClosing(inFlight: InFlight, where: string): void {
  if (inFlight.closing) {
    throw new Error(`Cannot send a statement to ${where}: the connection is closing`);
  }
}

/**
 * Resolves once a cancel on its way has reached the server. A statement sent before that could
 * be the one it stops (the cancelled one may have ended meanwhile): a ROLLBACK, the run record.
 */
async function afterCancel(inFlight: InFlight): Promise<void> {
  while (inFlight.cancelling) await inFlight.cancelling;
}

/**
 * Sends a cancel request for each of `queries`; settles once the server has taken them all (and
 * `also` has settled), or after {@linkcode CANCEL_TIMEOUT_MS}. Never rejects.
 */
function cancelRequestsTaken(
  queries: Iterable<{ cancel(): Promise<void> | null }>,
  also?: Promise<void>,
): Promise<void> {
  const requests = [...queries].map((query) => query.cancel()?.catch(() => {}));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, CANCEL_TIMEOUT_MS));
  return Promise.race([Promise.all([also, ...requests]), timeout]).then(() => clearTimeout(timer));
}

class PostgresSession implements SqlSession {
  #sql: Sql;
  #prepare: boolean;
  #inFlight: InFlight;
  /** The server, as errors name it (`PostgreSQL at host:port (database "db")`). */
  protected where: string;
  /** Rethrows `error`, a lost connection told plainly ({@linkcode lostInWords}). */
  protected readonly plainly = (error: unknown): never => {
    throw this.inWords(error);
  };

  /** `error` told plainly: the server's silence once the watch gave up on it, else lostInWords. */
  protected inWords(error: unknown): unknown {
    const stalled = this.#inFlight.stalled;
    if (stalled === undefined || !(error instanceof Error)) return lostInWords(error, this.where);
    if (error instanceof ConnectionLostError && error.message === stalled) return error;
    const code = (error as { code?: unknown }).code;
    return new ConnectionLostError(stalled, typeof code === "string" ? code : "STALLED", error);
  }

  constructor(sql: Sql, prepare: boolean, inFlight: InFlight, where: string) {
    this.#sql = sql;
    this.#prepare = prepare;
    this.#inFlight = inFlight;
    this.where = where;
  }

  async query<T extends Row = Row>(text: string, params?: readonly unknown[]): Promise<T[]> {
    if (this.#inFlight.cancelling) await afterCancel(this.#inFlight);
    refuseWhileClosing(this.#inFlight, this.where);
    // Without parameters a statement goes as a simple query (never prepared). Sent now, not at
    // the first await: statements issued one after another go out in that order.
    const rows = await this.#track(
      this.#sql.unsafe(
        text,
        (params ?? []) as postgres.ParameterOrJSON<never>[],
        this.#prepare && params !== undefined && params.length > 0 ? { prepare: true } : {},
      ).execute(),
    );
    // A plain array, like PGlite's: postgres.js returns an Array subclass with metadata.
    return Array.from(rows) as unknown as T[];
  }

  async exec(script: string): Promise<void> {
    if (this.#inFlight.cancelling) await afterCancel(this.#inFlight);
    refuseWhileClosing(this.#inFlight, this.where);
    await this.#track(this.#sql.unsafe(script).simple());
  }

  /** Awaits a statement, which the database's or this session's `cancel()` can stop meanwhile. */
  async #track<T>(query: Promise<T> & { cancel(): Promise<void> | null }): Promise<T> {
    this.#inFlight.queries.add(query);
    this.#running.add(query);
    try {
      const result = await watched(this.#inFlight.watch, () => query);
      this.#inFlight.unreachable = false;
      return result;
    } catch (error) {
      this.#inFlight.unreachable = isConnectionLost(error) || isUnreachable(error) ||
        this.#inFlight.stalled !== undefined;
      throw this.inWords(error);
    } finally {
      this.#inFlight.queries.delete(query);
      this.#running.delete(query);
    }
  }

  /** This session's statements being run. */
  #running = new Set<{ cancel(): Promise<void> | null }>();

  cancel(): Promise<void> {
    return cancelRequestsTaken(this.#running);
  }

  async copyRows(
    table: string,
    columns: readonly string[],
    batches: AsyncIterable<readonly (readonly (string | null)[])[]>,
  ): Promise<number> {
    let count = 0;
    async function* text() {
      for await (const rows of batches) {
        count += rows.length;
        yield encodeCopyText(rows);
      }
    }
    await this.#copy(`copy ${table} (${columns.join(", ")}) from stdin`, text());
    return count;
  }

  async copyCsv(
    table: string,
    columns: readonly string[],
    body: AsyncIterable<Uint8Array>,
  ): Promise<void> {
    const sql = `copy ${table} (${columns.join(", ")}) from stdin with (format csv, header true)`;
    await this.#copy(sql, body);
  }

  /**
   * One COPY: the server parses and stores while we produce the next chunk. The next chunk is
   * asked for once the socket has taken this one, so a producer may reuse its buffer.
   */
  #copy(statement: string, chunks: AsyncIterable<string | Uint8Array>): Promise<void> {
    return watched(this.#inFlight.watch, () => this.#copyChunks(statement, chunks));
  }

  async #copyChunks(statement: string, chunks: AsyncIterable<string | Uint8Array>): Promise<void> {
    const stream = await this.#sql.unsafe(statement).writable().catch(this.plainly);
    let failed: Error | undefined;
    stream.on("error", (error: Error) => failed = error);
    // Waits for `start`'s callback. Every wait also ends on "error" and "close": a stream
    // destroyed by a lost connection emits its error once, maybe before we listen, and never
    // calls back.
    const settled = (start: (done: (error?: Error | null) => void) => void) =>
      new Promise<void>((resolve, reject) => {
        const gone = () => failed ?? new Error("Cannot copy rows: the connection was lost");
        if (failed || stream.destroyed) return reject(gone());
        const done = (error?: Error | null) => {
          stream.off("error", done);
          stream.off("close", onClose);
          if (error) reject(error);
          else resolve();
        };
        const onClose = () => done(gone());
        stream.on("error", done);
        stream.on("close", onClose);
        start(done);
      });
    // Only the connection's failures are told as a lost connection: what the rows' source throws
    // (an S3 download cut short: "aborted", ECONNRESET) stays its own.
    try {
      for await (const chunk of chunks) {
        if (failed) this.plainly(failed);
        await settled((done) => stream.write(chunk, done)).catch(this.plainly);
        this.#inFlight.watch?.answered(); // the socket took it: the server reads
      }
    } catch (error) {
      if (!stream.destroyed) stream.destroy(error as Error);
      throw error;
    }
    await settled((done) => stream.end(done)).catch(this.plainly);
  }
}

class PostgresDatabase extends PostgresSession implements Database, PostgresConnectState {
  readonly kind = "postgres" as const;
  readonly description: string;
  #sql: postgres.Sql;
  #inFlight: InFlight;
  #sockets: SocketState;
  #listener: (events: ListenerEvents) => postgres.Sql;
  #prepare: boolean;
  /** Which connection took the run's advisory locks (they die with it). */
  #lockedOn: number | undefined;
  /** Set for a read-only pool; cleared by checkReadOnly when the server did not keep it. */
  readOnlyTimeoutMs: number | undefined;

  constructor(
    sql: postgres.Sql,
    sockets: SocketState,
    options: {
      prepare: boolean;
      readOnlyTimeoutMs: number | undefined;
      description: string;
      /** Watch for a server that stopped answering (see `stallAfterS`). */
      stall?: { afterS: number; probe: () => Promise<boolean> };
    },
    listener: (events: ListenerEvents) => postgres.Sql,
  ) {
    const inFlight: InFlight = { queries: new Set() };
    super(sql, options.prepare, inFlight, options.description);
    this.#inFlight = inFlight;
    if (options.stall !== undefined) inFlight.watch = this.#watch(options.stall);
    this.description = options.description;
    this.#prepare = options.prepare;
    this.readOnlyTimeoutMs = options.readOnlyTimeoutMs;
    this.#sql = sql;
    this.#sockets = sockets;
    this.#listener = listener;
  }

  /**
   * A watch that gives up on a server silent for `afterS` and then deaf to a new connection: the
   * waiting statements fail (their connections are ended) with words that say so.
   */
  #watch(stall: { afterS: number; probe: () => Promise<boolean> }): StallWatch {
    return watchStalls({
      afterMs: stall.afterS * 1000,
      probe: stall.probe,
      onStall: (silentMs) => {
        this.#inFlight.stalled = `Lost the connection to ${this.where}: no answer to a statement ` +
          `for ${Math.round(silentMs / 1000)} s, and none to a new connection either (a stopped ` +
          `or frozen server, or a network that drops packets); gave up (DATABASE_STALL_SECONDS)`;
        this.#inFlight.unreachable = true;
        // Destroyed, not ended: a graceful end waits for the frozen server to read what the
        // socket still holds (a COPY's chunks), and so did every statement waiting on it.
        for (const socket of this.#sockets.open) socket.destroy();
        this.#sql.end({ timeout: 0 }).catch(() => {});
      },
    });
  }

  /**
   * Checks that the server kept the session settings of a read-only pool; when it did not (a
   * pooler that drops startup parameters), the pool stops claiming them, so reads go back to a
   * transaction each, which sets them itself.
   */
  async checkReadOnly(): Promise<void> {
    if (this.readOnlyTimeoutMs === undefined) return;
    const [row] = await this.query<{ ok: boolean }>(
      `select current_setting('default_transaction_read_only') = 'on'
              and (select setting from pg_settings where name = 'statement_timeout') = $1 as ok`,
      [String(this.readOnlyTimeoutMs)],
    );
    if (row?.ok !== true) this.readOnlyTimeoutMs = undefined;
  }

  get lastSocketError(): string | undefined {
    return this.#sockets.lastError;
  }

  get answered(): boolean {
    return this.#sockets.answered;
  }

  onNotPostgres(fn: (error: NotPostgresError) => void): void {
    this.#sockets.onNotPostgres = fn;
  }

  async runStatement(text: string): Promise<StatementResult> {
    // The extended protocol, as PGlite's: several statements are refused, not run as a script
    // (each result a list of its own).
    const result = await this.#sql.unsafe(
      text,
      [],
      { simple: false } as postgres.UnsafeQueryOptions,
    )
      .execute()
      .catch(this.plainly);
    return {
      columns: (result.columns ?? []).map((column) => column.name),
      rows: Array.from(result),
      // postgres.js keeps the whole tag's words ("CREATE TABLE"); PGlite only the first.
      command: (result.command ?? "").split(" ")[0]!,
      count: result.count ?? undefined,
      dateColumns: (result.columns ?? []).filter((c) => c.type === DATE_OID).map((c) => c.name),
    };
  }

  async transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
    if (this.#inFlight.cancelling) await afterCancel(this.#inFlight);
    // What `fn` throws stays as it is (its statements' failures are told already, by query()):
    // an S3 download cut short inside it is not a lost database connection.
    const thrownByFn = new WeakSet<object>();
    // BEGIN and COMMIT are statements too.
    return await watched(
      this.#inFlight.watch,
      () =>
        this.#sql.begin(async (tx: postgres.TransactionSql) => {
          // postgres.js reconnects silently; a new connection no longer holds the run's lock, and
          // writing without it could apply a file twice next to another run.
          if (this.#lockedOn !== undefined && this.#lockedOn !== this.#sockets.opened) {
            throw new Error(
              "Lost the database connection that held the run's lock; stopping (the next run goes on)",
            );
          }
          try {
            return await fn(new PostgresSession(tx, this.#prepare, this.#inFlight, this.where));
          } catch (error) {
            // The ROLLBACK postgres.js sends next must not be what a late cancel stops.
            await afterCancel(this.#inFlight);
            if (typeof error === "object" && error !== null) thrownByFn.add(error);
            throw error;
          }
        }),
    ).catch((error) => {
      if (typeof error === "object" && error !== null && thrownByFn.has(error)) throw error;
      return this.plainly(error);
    }) as T;
  }

  /**
   * Cancels the statements in flight: PostgreSQL's cancel request (as psql's Ctrl-C) stops the
   * one running on the server at once, so its transaction rolls back and a lock it waits for or
   * holds in that transaction is let go; those not sent yet are dropped. Statements issued
   * meanwhile wait until the server has taken the request (at most {@linkcode CANCEL_TIMEOUT_MS}).
   * Never rejects: a request that cannot be delivered leaves the statement running.
   */
  override cancel(): Promise<void> {
    if (this.#inFlight.queries.size === 0) return Promise.resolve();
    const previous = this.#inFlight.cancelling;
    const cancelling: Promise<void> = cancelRequestsTaken(this.#inFlight.queries, previous)
      .then(() => {
        if (this.#inFlight.cancelling === cancelling) this.#inFlight.cancelling = undefined;
      });
    this.#inFlight.cancelling = cancelling;
    return cancelling;
  }

  async session<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const reserved = await this.#sql.reserve().catch(this.plainly);
    try {
      return await fn(new PostgresSession(reserved, this.#prepare, this.#inFlight, this.where));
    } finally {
      reserved.release();
    }
  }

  async tryLock(name: string): Promise<boolean> {
    if (this.#inFlight.cancelling) await afterCancel(this.#inFlight);
    // Watched: on a frozen server, `--wait-lock` asks each second.
    const attempt = async () => {
      const [row] = await watched(this.#inFlight.watch, () =>
        this.#sql`
        select pg_try_advisory_lock(hashtextextended(${name}, 0)) as ok`);
      return row?.ok === true;
    };
    // A connection that died while idle (a server restart between runs) fails its first
    // queries; nothing is held yet, so retrying on a fresh connection is safe.
    let ok = false;
    for (let tries = 1;; tries++) {
      try {
        ok = await attempt();
        break;
      } catch (error) {
        const gone = this.#inFlight.stalled !== undefined; // given up on: no retry
        if (tries >= 3 || gone || !isConnectionLost(error)) throw this.inWords(error);
        await new Promise((resolve) => setTimeout(resolve, 100 * tries));
      }
    }
    if (ok) this.#lockedOn = this.#sockets.opened;
    return ok;
  }

  async unlock(name: string): Promise<void> {
    if (this.#inFlight.cancelling) await afterCancel(this.#inFlight);
    if (this.#lockedOn !== this.#sockets.opened) {
      this.#lockedOn = undefined; // the lock went with the connection
      return;
    }
    this.#lockedOn = undefined;
    await watched(
      this.#inFlight.watch,
      () => this.#sql`select pg_advisory_unlock(hashtextextended(${name}, 0))`,
    ).catch(this.plainly);
  }

  async listen(channel: string, onEvent: () => void): Promise<() => Promise<void>> {
    // A connection of its own, listening again at once when it is lost, then every
    // LISTEN_RETRY_MS while that fails (postgres.js's own listen retries in a busy loop while
    // the server is down).
    const statement = `listen "${channel.replaceAll('"', '""')}"`;
    let stopped = false;
    let closes = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const listened = () => {
      closes = 0;
      onEvent();
    };
    const again = () => {
      if (stopped || timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        if (!stopped) sql.unsafe(statement).then(listened, () => {});
      }, closes++ === 0 ? 0 : LISTEN_RETRY_MS);
    };
    const sql = this.#listener({
      onnotify: (name) => {
        if (name === channel) onEvent();
      },
      onclose: again,
    });
    const stop = async () => {
      stopped = true;
      clearTimeout(timer);
      await sql.end({ timeout: 0 });
    };
    try {
      await sql.unsafe(statement);
    } catch (error) {
      await stop();
      throw error;
    }
    listened();
    return stop;
  }

  /**
   * Waits up to `timeoutS` for the statements in flight, cancels those still running, then ends
   * the pool. Before, the pool only ended: the server went on with a statement until it ended by
   * itself (a reader's kept its locks until the statement timeout, 21 s after serve had exited).
   */
  async close(timeoutS = 5): Promise<void> {
    const inFlight = this.#inFlight;
    inFlight.watch?.stop();
    const deadline = Date.now() + timeoutS * 1000;
    while (inFlight.queries.size > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // From here on nothing more is sent: a request queued for a connection would otherwise send
    // its statement once the cancel freed one (a tester saw 4 of 12 left running after serve).
    inFlight.closing = true;
    if (inFlight.queries.size > 0) {
      await this.cancel(); // at most CANCEL_TIMEOUT_MS; the server usually takes it at once
      await this.#sql.end({ timeout: 0.2 });
      return;
    }
    // A server found gone: its connections are only trying to reconnect, and ending them
    // gracefully took the whole timeout (a run exited 5 s after its last line: a tester's).
    const left = inFlight.unreachable ? 0 : Math.max(0, (deadline - Date.now()) / 1000);
    await this.#sql.end({ timeout: left });
  }
}

const CONNECTION_LOST = new Set([
  "ECONNRESET",
  "EPIPE",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01", // admin_shutdown: terminated by the server or an operator
  "57P02",
  "57P03",
]);

/**
 * postgres.js's words for a connection lost mid-statement (`write CONNECTION_CLOSED host:port`),
 * or the socket's (`read ECONNRESET`), made plain and naming the server: a
 * {@linkcode ConnectionLostError} with the same code (so still transient), the original as its
 * cause. PostgreSQL's own words (57P01 "terminating connection due to administrator command")
 * are kept.
 */
export function lostInWords(error: unknown, where: string): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (
    !(error instanceof Error) || typeof code !== "string" || error instanceof ConnectionLostError
  ) {
    return error;
  }
  if (LOST_BY_SERVER.has(code)) {
    return new ConnectionLostError(
      `Lost the connection to ${where}: the server stopped or restarted, ended this session ` +
        `(pg_terminate_backend, an idle timeout), or the network dropped it (${code})`,
      code,
      error,
    );
  }
  if (code === "CONNECTION_ENDED" || code === "CONNECTION_DESTROYED") {
    return new ConnectionLostError(
      `Lost the connection to ${where}: this process closed it while a statement ran (it was ` +
        `stopping) (${code})`,
      code,
      error,
    );
  }
  return error;
}

/** A connection lost mid-statement, told plainly ({@linkcode lostInWords}); `cause` is postgres.js's. */
class ConnectionLostError extends Error {
  /** postgres.js's or the socket's code (`CONNECTION_CLOSED`, `ECONNRESET`, …). */
  readonly code: string;

  constructor(message: string, code: string, cause: Error) {
    super(message, { cause });
    this.name = "ConnectionLostError";
    this.code = code;
  }
}

/** The codes of a connection the server or the network lost, which carry no words of theirs. */
const LOST_BY_SERVER = new Set(["ECONNRESET", "EPIPE", "CONNECTION_CLOSED"]);

/**
 * A server that could not be reached when a statement needed a new connection: postgres.js's
 * code, or the words of this adapter's own sockets (openOne), which carry none.
 */
function isUnreachable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code === "CONNECT_TIMEOUT" || code === "ECONNREFUSED";
  return error instanceof Error && error.message.startsWith("Cannot connect to PostgreSQL at ");
}

function isConnectionLost(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && CONNECTION_LOST.has(code);
}
