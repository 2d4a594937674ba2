/**
 * The read API as a Hono application: middleware (access log, path and method guards, CORS,
 * bearer token, gzip, body limit) and the route groups. {@linkcode createApp} is what
 * `serve/server.ts` hands to `Deno.serve`, and what handler tests call with `app.request()`.
 *
 * @module
 */

import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { bodyLimit } from "hono/body-limit";
import { compress } from "hono/compress";
import { cors } from "hono/cors";
import { serveStatic } from "hono/deno";
import type { ServeDeps, ServeEnv } from "./env.ts";
import { badPercentEncoding, ParameterError } from "./params.ts";
import { cut, problemResponse } from "./problem.ts";
import { serveRangeFile } from "./range_file.ts";
import { cutRequests } from "./_cut_requests.ts";
import { errorHandler } from "./_error_handler.ts";
import { FALLBACK_INDEX } from "./_fallback_index.ts";
import { taggedByBytes } from "./_tagged.ts";
import { withKnownLength } from "./_known_length.ts";
import { LargeReads } from "./_large_reads.ts";
import { securityHeaders } from "./security_headers.ts";
import { metaRoutes } from "./routes_meta.ts";
import { nearestRoutes } from "./routes_nearest.ts";
import { reportRoutes } from "./routes_reports.ts";
import { ticketRoutes } from "./routes_tickets.ts";

/** Largest request body accepted (the dashboard's POSTed filters), bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

/** Smallest response body gzip-compressed, bytes. */
const GZIP_MIN_BYTES = 1024;

/** Methods each path answers; everything else is 405 with `Allow` (HEAD included). */
const METHODS: readonly [RegExp, readonly string[]][] = [
  [/^\/webhook\/inc-dashboard$/, ["GET", "POST"]],
  [/^\/webhook\/tickets$/, ["GET"]],
  [/^\/api\/(tickets|tickets\.csv|tickets\/[^/]+|nearest|dashboard|backlog|teams|health|config)$/, [
    "GET",
  ]],
];

const TICKET_PARAMETERS = [
  "dataset",
  "open_only",
  "cluster",
  "status",
  "sla_state",
  "team",
  "bbox",
  "limit",
  "offset",
] as const;
const WINDOW_PARAMETERS = ["window", "from", "to"] as const;

/**
 * The query parameters each `/api` path reads. Any other is a 400 naming it: a misspelt filter
 * (`clustr=Westlands`) must not quietly widen a selection to every ticket. `/webhook` paths keep
 * ignoring what they do not read, as the predecessor's front-end may send more.
 */
const PARAMETERS: readonly [RegExp, readonly string[]][] = [
  [/^\/api\/tickets$/, [...TICKET_PARAMETERS, "after"]],
  [/^\/api\/tickets\.csv$/, [...TICKET_PARAMETERS, "after", "bom"]],
  [/^\/api\/nearest$/, ["lon", "lat", "k", "max_km", "dataset", "sla_state", "rank"]],
  [/^\/api\/dashboard$/, ["cluster", "status", ...WINDOW_PARAMETERS, "features"]],
  [/^\/api\/backlog$/, ["from", "to", "cluster"]],
  [/^\/api\/teams$/, ["by", "cluster", ...WINDOW_PARAMETERS]],
  [/^\/api\/tickets\/[^/]+$/, ["dataset"]],
  [/^\/api\/(health|config)$/, []],
];

/** The first query parameter `path` does not read, as a ParameterError; undefined when none. */
function unknownParameter(path: string, url: string): ParameterError | undefined {
  const known = PARAMETERS.find(([pattern]) => pattern.test(path))?.[1];
  if (known === undefined) return undefined;
  for (const name of new URL(url).searchParams.keys()) {
    if (known.includes(name)) continue;
    return new ParameterError(
      name,
      `Unknown parameter "${cut(name, 40)}" on ${cut(path, 200)}: ` +
        (known.length === 0 ? "it takes none" : `it takes ${known.join(", ")}`),
    );
  }
  return undefined;
}

function allowedMethods(path: string): readonly string[] | undefined {
  const found = METHODS.find(([pattern]) => pattern.test(path));
  if (found) return found[1];
  // Unknown /api and /webhook paths are 404 whatever the method; the rest is the static page.
  return /^\/(api|webhook)(\/|$)/.test(path) ? undefined : ["GET"];
}

/** Builds the read API. */
export function createApp(given: ServeDeps): Hono<ServeEnv> {
  const deps = { ...given, largeReads: given.largeReads ?? new LargeReads() };
  const app = new Hono<ServeEnv>();
  const { settings } = deps;
  const corsApplies = settings.corsOrigins.length > 0;

  app.use(accessLog(deps));
  // First: every answer gets it, a 401, 405 or preflight answered before the routes too.
  app.use(varyByEncoding);
  if (corsApplies) app.use(varyByOrigin);
  app.use(securityHeaders(settings));
  // CORS first: a listed origin can read every answer, a 401 too; a preflight (which browsers
  // send without the token) is answered here, whatever its path.
  if (corsApplies) useOnApiAndWebhook(app, corsForListedOrigins(settings.corsOrigins));
  // The token before the path and method checks: without it, every /api and /webhook request
  // is the same 401, so it tells nothing of which routes exist.
  if (settings.token !== undefined) useOnApiAndWebhook(app, tokenCheck(settings.token));
  app.use(pathAndMethodGuard());
  // After the token and CORS: a request without the token learns nothing of the parameters, and
  // a listed origin can read the 400.
  useOnApiAndWebhook(app, checkQuery);
  app.use(compress({ threshold: GZIP_MIN_BYTES }));
  // Inside compress: it leaves alone only what has a Content-Length under its threshold, and
  // c.json(), files and the CSV export come without one.
  app.use(knownLengthForGzip);
  app.post("/webhook/*", webhookBodyLimit());

  ticketRoutes(app);
  reportRoutes(app);
  nearestRoutes(app);
  metaRoutes(app);
  pageRoutes(app, deps);

  app.notFound((c) => problemResponse(404, `Nothing at "${cut(c.req.path, 200)}"`));
  app.onError(errorHandler(deps));
  return app;
}

/** `handler` on every `/api` and `/webhook` path, in that order. */
function useOnApiAndWebhook(app: Hono<ServeEnv>, handler: MiddlewareHandler<ServeEnv>): void {
  app.use("/api/*", handler);
  app.use("/webhook/*", handler);
}

/** Sets the request's deps and logs one line per request, once its answer is sent. */
function accessLog(deps: ServeDeps): MiddlewareHandler<ServeEnv> {
  const { log } = deps;
  return async (c, next) => {
    const started = performance.now();
    const request = c.req.raw; // as the server was given it (a later step may replace it)
    c.set("deps", deps);
    c.set("rows", 0);
    await next();
    // Cut by the stop, which logged its 503 (before: a second line once the handler ended).
    if (cutRequests.has(request)) return;
    const line = (rows: number, error?: unknown) =>
      log({
        event: "request",
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
        rows,
        ...(error === undefined ? {} : {
          error: `The response stopped before its last row: ${
            deps.redact(error instanceof Error ? error.message : String(error))
          }`,
        }),
      });
    // A streamed body (the CSV export) is logged once the client has taken its last row, with
    // the rows it took (or, when it stopped, the rows sent until then).
    const streamed = c.get("streamed");
    if (streamed === undefined) line(c.get("rows"));
    else {
      const written = streamed.then(
        (rows) => received(c.env).then(() => line(rows), (error) => line(rows, error)),
        (error) => line((error as { rowsSent?: number }).rowsSent ?? c.get("rows"), error),
      ).catch(() => {}); // a failing log line must not end the server
      deps.pendingLines?.add(written);
      written.finally(() => deps.pendingLines?.delete(written));
    }
  };
}

/**
 * Resolves once the server has sent the whole response (Deno.serve's `completed`, handed to the
 * app as its env); rejects when the client left first. At once without a server (tests).
 */
function received(env: unknown): Promise<void> {
  const completed = (env as { completed?: unknown } | undefined)?.completed;
  if (!(completed instanceof Promise)) return Promise.resolve();
  return completed.then(() => {}, () => {
    throw new Error("the client closed the connection before it had received it all");
  });
}

/**
 * Every answer varies by Origin (a 405, a 404, the page too), so a cache never hands one
 * origin's answer to another: first in the chain, it sees what any later step answered.
 */
const varyByOrigin: MiddlewareHandler<ServeEnv> = async (c, next) => {
  await next();
  if (!/(^|,)\s*origin\s*(,|$)/i.test(c.res.headers.get("Vary") ?? "")) {
    c.res.headers.append("Vary", "Origin");
  }
};

/**
 * Every answer varies by Accept-Encoding, so a `304` carries the `Vary` its `200` does (RFC 9110
 * 15.4.5): compress adds it only to what it may compress (a body of 1 KB or more, of a
 * compressible type), so a `304` and a short answer went without it.
 */
const varyByEncoding: MiddlewareHandler<ServeEnv> = async (c, next) => {
  await next();
  if (!/(^|,)\s*accept-encoding\s*(,|$)/i.test(c.res.headers.get("Vary") ?? "")) {
    c.res.headers.append("Vary", "Accept-Encoding");
  }
};

/** Refuses a path that could walk out of the page's folder (400), and a method it lacks (405). */
function pathAndMethodGuard(): MiddlewareHandler<ServeEnv> {
  return async (c, next) => {
    const path = c.req.path;
    // The URL parser already resolves dot segments; anything left that could walk out is refused.
    // A ticket id is only ever a query parameter, never a file: whatever ingest takes can be
    // asked for, encoded ("/" as %2F, "\" as %5C: before, a 400), but for "." and ".." (URLs
    // resolve them as dot segments, encoded too); NUL is refused there too.
    const ticket = /^\/api\/tickets\/[^/]+$/.test(path);
    const walked = ticket ? path.replace(/%2f|%5c|\\/gi, "") : path;
    if (/(^|\/)\.\.?(\/|$)|%2e|%2f|%5c|\\|\0/i.test(walked)) {
      // Said for what was refused: a ticket's path takes encoded slashes and dots within an id.
      return problemResponse(
        400,
        ticket
          ? 'Cannot read the path: a ticket id may not be "." or ".." (encoded too) nor hold NUL'
          : "Cannot read the path: it may not contain dot segments, encoded dots or slashes, " +
            "backslashes or NUL",
      );
    }
    // A proxy's request: its target is a host and port, not a path here (before: 'CONNECT is not
    // allowed on "3"', a tester's).
    if (c.req.method === "CONNECT") {
      return problemResponse(405, "CONNECT is not allowed: serve is no proxy", {
        headers: { Allow: "GET, HEAD" },
      });
    }
    const allowed = allowedMethods(path);
    if (allowed === undefined || allowed.includes(c.req.method)) return await next();
    return problemResponse(405, `${c.req.method} is not allowed on "${path}"`, {
      headers: { Allow: allowed.join(", ") },
    });
  };
}

/** A CORS preflight: an OPTIONS naming the method the browser means to send. */
function isPreflight(c: Context<ServeEnv>): boolean {
  return c.req.method === "OPTIONS" && c.req.header("Access-Control-Request-Method") !== undefined;
}

/**
 * Only a listed origin gets CORS headers (Hono's policy would expose ETag to any); another
 * gets the same 204 to a preflight that the policy gives a listed one, without them: the status
 * tells neither a listed origin from another nor a route from a missing one. Any other OPTIONS
 * goes on (to the token, then 405).
 */
function corsForListedOrigins(listed: readonly string[]): MiddlewareHandler<ServeEnv> {
  const origins = new Set(listed);
  const policy = cors({
    origin: (origin) => origin,
    allowMethods: ["GET", "POST"],
    allowHeaders: ["Authorization", "Content-Type", "If-None-Match"],
    exposeHeaders: ["ETag"],
    maxAge: 600,
  });
  return async (c, next) => {
    const preflight = isPreflight(c);
    if (c.req.method === "OPTIONS" && !preflight) return await next();
    if (origins.has(c.req.header("Origin") ?? "")) return await policy(c, next);
    if (preflight) return c.body(null, 204);
    await next();
  };
}

/** The challenge's realm: a client that shows it tells the user which server asks. */
export const TOKEN_REALM = "fleettickets";

/** The bearer token check; its challenges name {@linkcode TOKEN_REALM}. */
function tokenCheck(token: string): MiddlewareHandler<ServeEnv> {
  const realm = `realm="${TOKEN_REALM}"`;
  return bearerAuth({
    token,
    realm: TOKEN_REALM,
    invalidAuthenticationHeader: {
      wwwAuthenticateHeader: `Bearer ${realm}, error="invalid_request"`,
    },
    invalidToken: { wwwAuthenticateHeader: `Bearer ${realm}, error="invalid_token"` },
  });
}

/**
 * A query parameter that is not valid percent-encoding, or on a GET one its `/api` path does not
 * read, is a 400 naming it.
 */
const checkQuery: MiddlewareHandler<ServeEnv> = async (c, next) => {
  const bad = badPercentEncoding(c.req.url) ??
    (c.req.method === "GET" ? unknownParameter(c.req.path, c.req.url) : undefined);
  if (bad !== undefined) throw bad;
  await next();
};

/** Gives a short body of unknown length its Content-Length, for compress's threshold. */
const knownLengthForGzip: MiddlewareHandler<ServeEnv> = async (c, next) => {
  await next();
  if (/\b(gzip|deflate)\b/i.test(c.req.header("Accept-Encoding") ?? "")) {
    c.res = await withKnownLength(c.res, GZIP_MIN_BYTES);
  }
};

/** A POSTed body over {@linkcode MAX_BODY_BYTES} is a 413. */
function webhookBodyLimit(): MiddlewareHandler<ServeEnv> {
  const tooLarge = () =>
    problemResponse(413, `Cannot read the request body: it is over ${MAX_BODY_BYTES} bytes`);
  const declared = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: tooLarge });
  return async (c, next) => {
    const raw = c.req.raw;
    if (raw.headers.has("content-length") && !raw.headers.has("transfer-encoding")) {
      return await declared(c, next);
    }
    // No length given (an empty POST, a chunked body): read it here. Hono's bodyLimit would copy
    // the request with `new Request(raw, …)`, which reads its `signal` and makes Deno print a
    // warning about that signal's legacy behaviour on serve's stderr.
    const body = raw.body === null ? new Uint8Array(0) : await readAtMost(raw.body, MAX_BODY_BYTES);
    if (body === undefined) return tooLarge();
    c.req.raw = new Request(raw.url, { method: raw.method, headers: raw.headers, body });
    return await next();
  };
}

/** The whole of `body`, or undefined (and the rest not read) once it is over `max` bytes. */
async function readAtMost(
  body: ReadableStream<Uint8Array>,
  max: number,
): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > max) return undefined; // leaving the loop cancels the stream
    chunks.push(chunk);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

/** The map's tiles when configured, the page's files, and the built-in page without them. */
function pageRoutes(app: Hono<ServeEnv>, deps: ServeDeps): void {
  if (deps.settings.pmtiles !== undefined) {
    const file = deps.settings.pmtiles;
    app.get(
      "/tiles.pmtiles",
      (c) =>
        serveRangeFile(file, "application/vnd.pmtiles", c.req.header("Range"), {
          ifNoneMatch: c.req.header("If-None-Match"),
          ifRange: c.req.header("If-Range"),
        }),
    );
  }
  const files = serveStatic<ServeEnv>({ root: deps.webRoot });
  // Tagged from their bytes and revalidated on each visit: a repeat visit gets 304s, not the
  // ~300 KB of the page again (before: no ETag, no Cache-Control). Read again after an upgrade.
  const tagged = taggedByBytes();
  app.get("/*", (c, next) =>
    isPageFile(c.req.path)
      ? tagged(c, async () => {
        const found = await files(c, next);
        if (found instanceof Response) c.res = found;
        if (c.res.ok) c.header("Cache-Control", "no-cache");
      })
      : next());
  app.get("/", (c) => c.html(FALLBACK_INDEX));
}

/** The kinds of file the page is made of (web/ and web/vendor/); nothing else there is served. */
const PAGE_FILE_TYPES = ["html", "js", "css", "png", "svg", "ico"];

/**
 * Whether `path` names one of the page's own files: `/` (index.html), or a file of a page type
 * ({@linkcode PAGE_FILE_TYPES}) that is not a test (`*_test.*`) nor hidden (`.name` anywhere),
 * without a trailing slash (`/app.js/` is no file). web/ also holds tests, licences and notes.
 */
export function isPageFile(path: string): boolean {
  if (path === "/") return true;
  const segments = path.split("/").slice(1);
  const name = segments.at(-1) ?? "";
  if (segments.some((segment) => segment === "" || segment.startsWith("."))) return false;
  // No file name is longer (NAME_MAX): before, the file system's "File name too long" went to
  // stderr as a bare line for each such request (a tester's), a 404 all the same.
  if (segments.some((segment) => new TextEncoder().encode(segment).length > 255)) return false;
  const type = /\.([a-z0-9]+)$/.exec(name)?.[1];
  return type !== undefined && PAGE_FILE_TYPES.includes(type) && !/_test\./.test(name);
}
