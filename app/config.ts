/**
 * Configuration from the environment (see `.env.example` and the README's table).
 *
 * @module
 */

import { resolve } from "node:path";
import { parseDecimal } from "./parse_decimal.ts";

/** Everything the worker reads from its environment. */
export interface Config {
  /** PostgreSQL URL; unset means the embedded PGlite database. */
  databaseUrl?: string;
  /** Seconds to wait for PostgreSQL to answer (`PGCONNECT_TIMEOUT`; default 10). */
  connectTimeoutS?: number;
  /**
   * Seconds a statement may go without any answer from PostgreSQL before the worker asks the
   * server, on a new connection, whether it still answers (`DATABASE_STALL_SECONDS`; default 60;
   * 0: never): no answer there within the connect timeout fails the command as a lost connection.
   */
  stallAfterS?: number;
  /** Data directory of the embedded database. */
  pgliteDir: string;
  /**
   * How long a folder's change file must have been still before it is applied, ms
   * (`FOLDER_SETTLE_SECONDS`; default 10 s): one written less than that ago may still be being
   * written (drain.ts, `settleMs`).
   */
  folderSettleMs: number;
  /** S3 connection (credentials may be missing until a bucket command needs them). */
  s3: {
    endpoint?: string;
    /** The variable messages name for the endpoint: the one that set it, else `RUSTFS_ENDPOINT`. */
    endpointVariable: "RUSTFS_ENDPOINT" | "AWS_ENDPOINT_URL_S3";
    region: string;
    accessKeyId?: string;
    secretAccessKey?: string;
    bucket: string;
  };
  /** Geocoding provider (the key may be missing until `geocode --apply` needs it). */
  geocoder: {
    provider: "locationiq" | "opencage" | "nominatim";
    apiKey?: string;
    baseUrl?: string;
    /** Requests per second; undefined = the provider's published limit. */
    rate?: number;
    /** Most paid calls per run; undefined = no limit. */
    budget?: number;
  };
  /** The read API (`serve`). */
  serve: {
    /** Origins allowed to call the API from a browser (exact match); empty: no CORS. */
    corsOrigins: string[];
    /** Bearer token every `/api` and `/webhook` request must carry; undefined: none. */
    token?: string;
    /** Statement timeout of each request's read-only transaction, milliseconds. */
    statementTimeoutMs: number;
    /**
     * How long the data version is remembered for answering `304`s without a query,
     * milliseconds (forgotten at once on a change notification); 0 or undefined: not at all.
     */
    versionTtlMs?: number;
    /** Raster or vector tile URL template for the page; undefined: none. */
    tilesUrl?: string;
    /** A local `.pmtiles` file served at `/tiles.pmtiles`; undefined: none. */
    pmtiles?: string;
    /** Hours without an applied file before a dataset counts as stale. */
    staleAfterHours: number;
  };
}

/** The variable names the worker reads (the permission set allows exactly these). */
export const ENV_NAMES = [
  "DATABASE_URL",
  "PGCONNECT_TIMEOUT",
  "DATABASE_STALL_SECONDS",
  "PGUSER",
  "PGSSLMODE",
  "PGSSLROOTCERT",
  "PGLITE_DIR",
  "FOLDER_SETTLE_SECONDS",
  "RUSTFS_ENDPOINT",
  "RUSTFS_ACCESS_KEY",
  "RUSTFS_SECRET_KEY",
  "RUSTFS_REGION",
  "TICKETS_BUCKET",
  "AWS_ENDPOINT_URL_S3",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_REGION",
  "GEOCODER_PROVIDER",
  "GEOCODER_API_KEY",
  "GEOCODER_BASE_URL",
  "GEOCODER_RATE",
  "GEOCODER_BUDGET",
  "DASHBOARD_CORS_ORIGINS",
  "SERVE_TOKEN",
  "SERVE_STATEMENT_TIMEOUT",
  "SERVE_VERSION_TTL",
  "MAP_TILES_URL",
  "MAP_PMTILES",
  "STALE_AFTER_HOURS",
] as const;

/** The embedded database folder when PGLITE_DIR is unset. */
export const DEFAULT_PGLITE_DIR = ".data/pglite";

/** Where `deno task demo` keeps its embedded database (rebuilt by each demo). */
export const DEMO_PGLITE_DIR = ".data/demo/pglite";

/**
 * Whether two folder paths name the same folder as written: `./x/` is `x`, and so are
 * `/checkout/x` and `y/../x` (before: those two were taken for other folders).
 */
export function sameDir(a: string, b: string): boolean {
  return resolve(a) === resolve(b);
}

/**
 * Raised for a missing or malformed setting; the message names the variable.
 *
 * @example Usage
 * ```ts
 * import { ConfigError, loadConfig } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.throws(() => loadConfig((name) => name === "GEOCODER_RATE" ? "fast" : undefined), {
 *   name: "ConfigError",
 *   message: 'Cannot read GEOCODER_RATE "fast": expected a positive number in decimal digits',
 * });
 * assert.ok(new ConfigError("Cannot read GEOCODER_RATE") instanceof Error);
 * ```
 */
export class ConfigError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * Reads the configuration; `RUSTFS_*` win over the standard `AWS_*` names.
 *
 * @example Usage
 * ```ts
 * import { loadConfig } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * // In the worker: loadConfig((name) => Deno.env.get(name)).
 * const env: Record<string, string> = {
 *   RUSTFS_ENDPOINT: "http://127.0.0.1:9000",
 *   TICKETS_BUCKET: "isptickets",
 *   GEOCODER_PROVIDER: "opencage",
 *   GEOCODER_BUDGET: "2500",
 * };
 * const config = loadConfig((name) => env[name]);
 * assert.equal(config.databaseUrl, undefined); // the embedded database
 * assert.equal(config.pgliteDir, ".data/pglite");
 * assert.equal(config.s3.endpoint, "http://127.0.0.1:9000");
 * assert.equal(config.geocoder.provider, "opencage");
 * assert.equal(config.geocoder.budget, 2500);
 * ```
 */
export function loadConfig(env: (name: string) => string | undefined): Config {
  const get = (name: string) => {
    const value = env(name)?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  const { endpoint, endpointVariable, bucket } = endpointAndBucket(get);
  if (env("DATABASE_URL") !== undefined && get("DATABASE_URL") === undefined) {
    // Set but empty (a secret left unfilled, `DATABASE_URL=` in .env, `${DATABASE_URL}` of an
    // unset variable in a compose file): before, read as unset, so a production run wrote into a
    // new embedded database and moved the bucket's files to processed/ (a tester's). Every other
    // empty variable still reads as unset.
    throw new ConfigError(
      `Cannot read DATABASE_URL: it is set but empty; write ${URL_FORM}, or unset it (remove ` +
        `its line from .env) to use the embedded database`,
    );
  }
  const databaseUrl = databaseUrlSetting(get);
  const provider = geocoderProvider(get);
  const baseUrl = get("GEOCODER_BASE_URL");
  if (baseUrl !== undefined && !/^https?:\/\/[^/]/i.test(baseUrl) || !canParse(baseUrl)) {
    // Before: "localhost:18210" or "ftp://…" passed (doctor said ok) and every call failed.
    // Not echoed: a key may be written into it.
    throw new ConfigError(
      "Cannot read GEOCODER_BASE_URL: expected the service's http:// or https:// URL, such as " +
        '"http://localhost:8080"',
    );
  }
  const positive = (name: string) =>
    numberSetting(env, name, "a positive number in decimal digits", (n) => n > 0);
  return {
    serve: loadServeConfig(env, get, positive),
    geocoder: {
      provider,
      apiKey: get("GEOCODER_API_KEY"),
      baseUrl,
      rate: positive("GEOCODER_RATE"),
      // A whole number of calls; 0 pauses paid lookups (before: refused, which stopped every
      // command, the config being read whole).
      budget: numberSetting(
        env,
        "GEOCODER_BUDGET",
        "a whole number of calls, 0 or more",
        (n) => Number.isInteger(n) && n >= 0,
      ),
    },
    databaseUrl,
    connectTimeoutS: positive("PGCONNECT_TIMEOUT"),
    stallAfterS: stallSeconds(env),
    // `.data/x/` is `.data/x`: its lock file and marker sit beside the folder, not inside it.
    pgliteDir: (get("PGLITE_DIR") ?? DEFAULT_PGLITE_DIR).replace(/(.)\/+$/, "$1"),
    folderSettleMs: seconds(env, "FOLDER_SETTLE_SECONDS", 0, 600) ?? 10_000,
    s3: {
      endpoint,
      endpointVariable,
      region: s3Region(get),
      accessKeyId: get("RUSTFS_ACCESS_KEY") ?? get("AWS_ACCESS_KEY_ID"),
      secretAccessKey: get("RUSTFS_SECRET_KEY") ?? get("AWS_SECRET_ACCESS_KEY"),
      bucket,
    },
  };
}

/**
 * The S3 endpoint (checked: {@linkcode checkEndpoint}), the variable that set it (`RUSTFS_ENDPOINT`
 * wins over `AWS_ENDPOINT_URL_S3`) and the bucket.
 */
function endpointAndBucket(
  get: (name: string) => string | undefined,
): Pick<Config["s3"], "endpoint" | "endpointVariable" | "bucket"> {
  const endpointVariable = get("RUSTFS_ENDPOINT") === undefined &&
      get("AWS_ENDPOINT_URL_S3") !== undefined
    ? "AWS_ENDPOINT_URL_S3"
    : "RUSTFS_ENDPOINT";
  const endpoint = get(endpointVariable);
  const bucket = get("TICKETS_BUCKET") ?? "isptickets";
  checkBucketName(bucket);
  if (endpoint !== undefined) checkEndpoint(endpointVariable, endpoint, bucket);
  return { endpoint, endpointVariable, bucket };
}

/** DATABASE_URL, checked ({@linkcode checkDatabaseUrl}), with a user in it or in PGUSER. */
function databaseUrlSetting(get: (name: string) => string | undefined): string | undefined {
  const databaseUrl = get("DATABASE_URL");
  if (databaseUrl !== undefined) checkDatabaseUrl(databaseUrl);
  const pgUser = get("PGUSER");
  if (databaseUrl !== undefined && !namesUser(databaseUrl) && pgUser === undefined) {
    // The client would fall back to the system's user name, which the worker may not read.
    throw new ConfigError(
      `Cannot read DATABASE_URL: it names no user; write ${URL_FORM} (or set PGUSER)`,
    );
  }
  const [mode, rootCert] = [get("PGSSLMODE"), get("PGSSLROOTCERT")];
  if (databaseUrl === undefined) return undefined; // the embedded database: no TLS
  const url = withTlsSettings(databaseUrl, mode, rootCert);
  checkRootCert(url);
  return url;
}

/**
 * PGSSLMODE and PGSSLROOTCERT, as libpq reads them: the URL's own sslmode (or ssl) and
 * sslrootcert first, else these (before, ignored: `PGSSLMODE=require` connected without TLS; a
 * tester's). A mode that is not libpq's is refused, as in the URL.
 */
function withTlsSettings(url: string, mode: string | undefined, rootCert: string | undefined) {
  if (mode !== undefined && !SSL_MODES.includes(mode)) {
    throw new ConfigError(`Cannot read PGSSLMODE: "${mode}" is not one of ${SSL_MODES.join(", ")}`);
  }
  const search = urlSearch(url);
  const add: string[] = [];
  if (mode !== undefined && !search.has("sslmode") && !search.has("ssl")) {
    add.push(`sslmode=${mode}`);
  }
  if (rootCert !== undefined && rootCert !== "" && !search.has("sslrootcert")) {
    add.push(`sslrootcert=${encodeURIComponent(rootCert)}`);
  }
  if (add.length === 0) return url;
  return `${url}${url.includes("?") ? "&" : "?"}${add.join("&")}`;
}

/** The query of a DATABASE_URL. */
function urlSearch(url: string): URLSearchParams {
  const at = url.indexOf("?");
  return new URLSearchParams(at < 0 ? "" : url.slice(at + 1));
}

/**
 * A CA certificate (sslrootcert) checks the server only with sslmode verify-full or verify-ca:
 * with another mode it would be named for nothing (libpq's `require` would quietly check it;
 * postgres.js would not), so it is refused. `system` is postgres.js's own word for the system's
 * CAs.
 */
function checkRootCert(url: string): void {
  const search = urlSearch(url);
  const cert = search.get("sslrootcert");
  if (cert === null || cert === "system") return;
  const mode = search.getAll("sslmode").at(-1) ?? search.getAll("ssl").at(-1);
  if (mode !== "verify-full" && mode !== "verify-ca") {
    throw new ConfigError(
      `Cannot read DATABASE_URL: sslrootcert "${cert}" (or PGSSLROOTCERT) checks the server's ` +
        `certificate only with sslmode=verify-full (or verify-ca), not ${
          mode === undefined ? "without an sslmode" : `sslmode=${mode}`
        }; set sslmode=verify-full`,
    );
  }
}

/** GEOCODER_PROVIDER, in any case; locationiq when unset (`deno task compile` reads it too). */
export function geocoderProvider(
  get: (name: string) => string | undefined,
): Config["geocoder"]["provider"] {
  const provider = (get("GEOCODER_PROVIDER") ?? "locationiq").toLowerCase();
  if (!["locationiq", "opencage", "nominatim"].includes(provider)) {
    throw new ConfigError(
      `Cannot read GEOCODER_PROVIDER "${provider}": expected locationiq, opencage or nominatim`,
    );
  }
  return provider as Config["geocoder"]["provider"];
}

function loadServeConfig(
  env: (name: string) => string | undefined,
  get: (name: string) => string | undefined,
  positive: (name: string) => number | undefined,
): Config["serve"] {
  const origins = (get("DASHBOARD_CORS_ORIGINS") ?? "").split(",").map((o) => o.trim())
    .filter((o) => o !== "");
  for (const origin of origins) {
    // "null" is what sandboxed frames and file: pages send: allowing it would let any site in.
    const sent = URL.canParse(origin) ? new URL(origin).origin : undefined;
    if (sent === origin && sent !== "null") continue;
    // A trailing slash, capitals or a default port: say what a browser sends, the exact match.
    throw new ConfigError(
      `Cannot read DASHBOARD_CORS_ORIGINS: "${origin}" is not an origin such as ` +
        `"https://ops.example.com"` +
        (sent === undefined || sent === "null"
          ? ""
          : `; a browser sends "${sent}" (no path, lower case, no default port)`),
    );
  }
  const tilesUrl = get("MAP_TILES_URL");
  if (tilesUrl !== undefined && !URL.canParse(tilesUrl.replaceAll(/[{}]/g, ""))) {
    throw new ConfigError("Cannot read MAP_TILES_URL: it is not a URL template");
  }
  const pmtiles = get("MAP_PMTILES");
  if (pmtiles !== undefined && !pmtiles.endsWith(".pmtiles")) {
    throw new ConfigError(`Cannot read MAP_PMTILES "${pmtiles}": expected a .pmtiles file`);
  }
  return {
    corsOrigins: origins,
    token: serveToken(get("SERVE_TOKEN")),
    // 0.1 s to 1 h: less would cancel serve's own start-up statements; more is beyond what a read
    // should hold a connection for.
    statementTimeoutMs: seconds(env, "SERVE_STATEMENT_TIMEOUT", 0.1, 3600) ?? 5000,
    versionTtlMs: seconds(env, "SERVE_VERSION_TTL", 0, 60) ?? 1000,
    tilesUrl,
    pmtiles,
    staleAfterHours: positive("STALE_AFTER_HOURS") ?? 2,
  };
}

/**
 * The S3 endpoint: the server's `http://` or `https://` URL, no more. Without a scheme
 * (`rustfs:9000`) a URL parser reads the host as the scheme, and every run fails; with a path
 * (the bucket, often) every request goes to the wrong place and reads as a missing bucket.
 * Messages quote the value without any user or password in it.
 */
/**
 * The region the S3 requests are signed for (`RUSTFS_REGION`, else `AWS_REGION`, else
 * `us-east-1`): a name such as `eu-west-1`, else refused at start (before: the SDK's "Region not
 * accepted", a transient failure every run retried; a tester's).
 */
function s3Region(get: (name: string) => string | undefined): string {
  const variable = get("RUSTFS_REGION") !== undefined ? "RUSTFS_REGION" : "AWS_REGION";
  const region = get(variable) ?? "us-east-1";
  if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(region)) {
    throw new ConfigError(
      `Cannot read ${variable} "${region}": expected a region name of letters, digits and ` +
        `hyphens, such as "us-east-1" (MinIO and RustFS: the server's MINIO_REGION or ` +
        `RUSTFS_REGION, else "us-east-1")`,
    );
  }
  return region;
}

/**
 * A bucket name as S3 servers take it: letters, digits, dots, hyphens and underscores, 3 to 63
 * (before: `isptickets/automations` failed every run as `InvalidBucketName`; a tester's).
 */
function checkBucketName(bucket: string): void {
  if (/^[A-Za-z0-9._-]{3,63}$/.test(bucket)) return;
  const slash = bucket.indexOf("/");
  throw new ConfigError(
    `Cannot read TICKETS_BUCKET "${bucket}": ` +
      (slash > 0
        ? `a bucket name has no "/" (the folders automations/<dataset>/changes/ are fixed); ` +
          `write the bucket's name only ("${bucket.slice(0, slash)}")`
        : `expected a bucket name of 3 to 63 letters, digits, dots and hyphens`),
  );
}

function checkEndpoint(variable: string, value: string, bucket: string): void {
  const shown = value.replace(/^([^/?#@]*:\/\/)?[^/?#]*@/, "$1");
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:")) {
    const bare = !shown.includes("://") && URL.canParse(`http://${shown}`) &&
      new URL(`http://${shown}`).host !== "";
    throw new ConfigError(
      `Cannot read ${variable} "${shown}": expected the S3 server's http:// or https:// URL` +
        (bare ? `; write "http://${shown}"` : `, such as "http://rustfs:9000"`),
    );
  }
  if (url.pathname === "/" || url.pathname === "") return;
  const server = `${url.protocol}//${url.host}`;
  const last = url.pathname.split("/").filter((s) => s !== "").at(-1);
  throw new ConfigError(
    `Cannot read ${variable} "${shown}": ` +
      (last === bucket
        ? `its path "${url.pathname}" is the bucket's name; write the server's URL only ` +
          `("${server}"): the bucket is TICKETS_BUCKET's (now "${bucket}")`
        : `it has a path ("${url.pathname}"); write the server's URL only ("${server}") and ` +
          `put the bucket in TICKETS_BUCKET (now "${bucket}")`),
  );
}

/** A DATABASE_URL in its parts: the host list may name several hosts, which no URL parser reads. */
interface DatabaseUrlParts {
  /** `postgres://` or `postgresql://`. */
  scheme: string;
  /** `user[:password]@`, as written, or "". */
  userinfo: string;
  /** The password, percent-decoded where it can be. */
  password: string | undefined;
  /** `host[:port]`, as many as given. */
  hosts: string[];
  /** From the first "/", "?" or "#" after the hosts. */
  rest: string;
}

function databaseUrlParts(url: string): DatabaseUrlParts | undefined {
  // The user part ends at the last "@" before any "/", "?" or "#", as URL parsers read it (a
  // password may hold an "@" unencoded).
  const match = /^(postgres(?:ql)?:\/\/)(?:([^/?#]*)@)?([^@/?#]*)(.*)$/s.exec(url);
  if (match === null) return undefined;
  const [, scheme, user, hosts, rest] = match;
  const userinfo = user === undefined ? "" : `${user}@`;
  const colon = user?.indexOf(":") ?? -1;
  const password = colon < 0 ? undefined : decodeOrKeep(user!.slice(colon + 1));
  return { scheme: scheme!, userinfo, password, hosts: hosts!.split(","), rest: rest! };
}

/**
 * The `host[:port]` entries of a DATABASE_URL as written (several for a multi-host URL), or
 * undefined when it is no `postgres://` URL. Quotes nothing else of it (it may hold a password).
 */
export function databaseUrlHosts(url: string): string[] | undefined {
  return databaseUrlParts(url)?.hosts;
}

/** The user a DATABASE_URL names, percent-decoded; undefined when none. Never the password. */
export function databaseUrlUser(url: string): string | undefined {
  const user = databaseUrlParts(url)?.userinfo.slice(0, -1).split(":")[0];
  return user ? decodeOrKeep(user) : undefined;
}

/** Whether a DATABASE_URL (already checked) names a user. */
function namesUser(url: string): boolean {
  return databaseUrlUser(url) !== undefined;
}

/** Whether `text` percent-decodes (every "%" starts an escape of two hex digits, as UTF-8). */
function decodes(text: string): boolean {
  try {
    decodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
}

/** The form of DATABASE_URL, as the messages that refuse one write it. */
const URL_FORM = '"postgres://user:password@host:port/db"';

/** Each `host[:port]` of a DATABASE_URL has one port at most, a number from 1 to 65535. */
function checkPorts(hosts: string[], expected: string, encode: string): void {
  for (const host of hosts) {
    // One port at most ("host:5432:1" ended in the client's "Invalid URL"); an IPv6 host is in
    // brackets.
    if ((host.replace(/^\[[^\]]*\]/, "").match(/:/g)?.length ?? 0) > 1) {
      // "::1:5432" is an IPv6 address without its brackets more often than two ports.
      const why = /^[0-9a-f]*::|^[0-9a-f]{1,4}(:[0-9a-f]{0,4}){2,}$/i.test(host)
        ? 'an IPv6 address goes in brackets: "[::1]:5432"'
        : "a host has more than one port";
      throw new ConfigError(`Cannot read DATABASE_URL: ${why} (${expected})`);
    }
    const port = /:([^:\]]*)$/.exec(host)?.[1];
    if (
      port !== undefined && port !== "" && !(/^\d{1,5}$/.test(port) && +port <= 65535 && +port >= 1)
    ) {
      throw new ConfigError(
        `Cannot read DATABASE_URL: a port is not a number from 1 to 65535 (${expected}; ${encode})`,
      );
    }
  }
}

/**
 * DATABASE_URL: `postgres://` or `postgresql://`, one or more `host[:port]` (ports 1-65535, or
 * none), otherwise a URL. An "@" after a "/", "?" or "#", or a second "@", means a user or
 * password holding one of those unencoded: part of it would be read as a host, a port or a
 * database name, shown in messages and never redacted. The messages quote no part of the URL.
 */
function checkDatabaseUrl(url: string): void {
  const expected = `expected ${URL_FORM}`;
  const encode = `percent-encode "/", "?", "#" and "@" in the user and password`;
  // Docker's --env-file and systemd's Environment= keep quotes as part of the value.
  if (/^\s*["']/.test(url)) {
    throw new ConfigError(
      `Cannot read DATABASE_URL: it begins with a quote; remove the quotes around the value ` +
        `(${expected})`,
    );
  }
  const parts = databaseUrlParts(url);
  if (parts === undefined) throw new ConfigError(`Cannot read DATABASE_URL: ${expected}`);
  // An "@" inside the user part: URL parsers end it at the last "@", the PostgreSQL client (as
  // libpq) at the first, so it would connect to a "host" made of the password's tail and print it.
  if (parts.rest.includes("@") || parts.userinfo.slice(0, -1).includes("@")) {
    throw new ConfigError(`Cannot read DATABASE_URL: ${encode} (${expected})`);
  }
  // The client decodes the user and password: a "%" not starting an escape ended it with "URI
  // malformed", naming nothing.
  if (!decodes(parts.userinfo.slice(0, -1))) {
    throw new ConfigError(
      `Cannot read DATABASE_URL: the user or password holds a "%" that starts no escape; ` +
        `write "%" as "%25" (${expected})`,
    );
  }
  checkPorts(parts.hosts, expected, encode);
  if (!URL.canParse(`${parts.scheme}${parts.userinfo}host${parts.rest}`)) {
    throw new ConfigError(`Cannot read DATABASE_URL: ${expected}`);
  }
  const search = new URL(`${parts.scheme}host${parts.rest}`).searchParams;
  checkTcpHost(parts.hosts, search, expected);
  // The client reads any other sslmode as "verify-full": a typo would silently demand a
  // certificate check.
  for (const name of ["sslmode", "ssl"]) {
    const known = name === "ssl" ? [...SSL_MODES, "true", "false"] : SSL_MODES;
    const bad = search.getAll(name).find((mode) => !known.includes(mode));
    if (bad !== undefined) {
      throw new ConfigError(
        `Cannot read DATABASE_URL: ${name} "${bad}" is not one of ${known.join(", ")}`,
      );
    }
  }
}

/**
 * Every host named before the database, and none in the query: the client connects over TCP
 * only (libpq's empty host or `?host=/var/run/postgresql` means a Unix socket, which the client
 * reads as a host name of its own or as a server setting, and the permission set does not open).
 */
function checkTcpHost(hosts: string[], search: URLSearchParams, expected: string): void {
  const tcp = "fleettickets connects over TCP, not a Unix socket: for a server on this machine " +
    "use 127.0.0.1";
  if (search.has("host")) {
    throw new ConfigError(
      `Cannot read DATABASE_URL: "host" in its query is not read (the host goes before the ` +
        `database: ${URL_FORM}); ${tcp}`,
    );
  }
  if (hosts.some((host) => host.replace(/:\d*$/, "") === "")) {
    throw new ConfigError(`Cannot read DATABASE_URL: it names no host (${expected}); ${tcp}`);
  }
}

/**
 * The sslmode values of a DATABASE_URL (libpq's names; the client reads `allow` as `require`
 * and `verify-ca` as `verify-full`).
 */
const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

/**
 * SERVE_TOKEN: what a client can send as `Authorization: Bearer <token>` (RFC 6750's token68:
 * letters, digits, `-._~+/`, then `=` padding), at least 16 characters. Any other character could
 * never match: refused at start rather than answering every request 401. The token itself is
 * never in the message.
 */
function serveToken(token: string | undefined): string | undefined {
  if (token === undefined) return undefined;
  if (!/^[A-Za-z0-9._~+/-]+=*$/.test(token)) {
    throw new ConfigError(
      'Cannot use SERVE_TOKEN: a bearer token may hold only letters, digits and "-._~+/" ' +
        '(then "=" padding); make one with "openssl rand -hex 32"',
    );
  }
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new ConfigError(
      `Cannot use SERVE_TOKEN: it has ${token.length} characters, at least ${MIN_TOKEN_LENGTH} ` +
        'are needed; make one with "openssl rand -hex 32"',
    );
  }
  return token;
}

/** A shorter token is guessable, and too short to redact safely (app/redact.ts). */
const MIN_TOKEN_LENGTH = 16;

/** Whether `url` (when set) parses as a URL. */
function canParse(url: string | undefined): boolean {
  return url === undefined || URL.canParse(url);
}

/**
 * A number setting, read as flags are ({@linkcode parseDecimal}: `0x10`, `1e3` or ` 2 ` is no
 * number here); undefined when unset or blank. Else refused, naming the variable, its value as
 * given and `expected`, unless `ok` takes it.
 */
function numberSetting(
  env: (name: string) => string | undefined,
  name: string,
  expected: string,
  ok: (n: number) => boolean,
): number | undefined {
  const text = env(name);
  if (text === undefined || text.trim() === "") return undefined;
  const n = parseDecimal(text);
  if (n === undefined || !ok(n)) {
    throw new ConfigError(`Cannot read ${name} "${text}": expected ${expected}`);
  }
  return n;
}

/** DATABASE_STALL_SECONDS, in seconds (0 to 3600; 0: never asked); undefined: the default. */
function stallSeconds(env: (name: string) => string | undefined): number | undefined {
  const ms = seconds(env, "DATABASE_STALL_SECONDS", 0, 3600);
  return ms === undefined ? undefined : ms / 1000;
}

/** A setting in seconds from `min` to `max`, as milliseconds; undefined when unset. */
function seconds(
  env: (name: string) => string | undefined,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const expected = `seconds from ${min} to ${max} in decimal digits`;
  const s = numberSetting(env, name, expected, (n) => n >= min && n <= max);
  return s === undefined ? undefined : Math.round(s * 1000);
}

function decodeOrKeep(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The secret values of a configuration, for redaction. */
export function configSecrets(config: Config): string[] {
  const secrets = [config.s3.secretAccessKey, config.geocoder.apiKey, config.serve.token];
  if (config.databaseUrl !== undefined) {
    // Decoded (the redactor also finds every encoded form); a raw "%" cannot be: kept as is. Read
    // by the same rule as checkDatabaseUrl, so a multi-host URL's password is found too.
    secrets.push(databaseUrlParts(config.databaseUrl)?.password);
  }
  return [...new Set(secrets.filter((s): s is string => s !== undefined && s !== ""))];
}
