// What the read API answers to an error a handler or middleware threw. Private to serve/.

import type { ErrorHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ServeDeps, ServeEnv } from "./env.ts";
import { ParameterError } from "./params.ts";
import { cut, problemResponse } from "./problem.ts";
import { RETRY_AFTER_S } from "./_large_reads.ts";
import { NoAnswerError } from "./_deadline.ts";

/**
 * SQLSTATEs that mean the database cannot answer now: shut down or restarting (57P0x), the
 * connection lost or refused (08xxx), too many connections (53300), the database dropped or
 * renamed (3D000), closed to connections (55000: serve's reads raise it for nothing else), the
 * role's login or password changed under a running server (28000, 28P01).
 */
const UNAVAILABLE = new Set([
  "57P01",
  "57P02",
  "57P03",
  "57P04",
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
  "53300",
  "3D000",
  "55000",
  "28000",
  "28P01",
]);

/** Deno's words for a request body that ended before its length (the client left). */
const BODY_CUT = /^Cannot read (request )?body/;

/**
 * The problem response for `error`: a 400 naming a wrong parameter, the refusal Hono's
 * middleware raised (token, body size), or what a failed read means for the client.
 */
export function errorHandler(deps: ServeDeps): ErrorHandler<ServeEnv> {
  return (error, c) => {
    if (error instanceof ParameterError) {
      return problemResponse(400, error.message, { parameter: error.parameter });
    }
    if (error instanceof HTTPException) return refusal(error);
    // Nobody reads this one: the access line records it as nginx does, 499.
    if (c.req.raw.signal.aborted && (error as { code?: unknown }).code === "57014") {
      return problemResponse(
        499,
        `Cannot answer "${cut(c.req.path, 200)}": the client left, so its query was stopped`,
      );
    }
    // A body cut short: the client went away while sending it (before: a 500 logged as a
    // server error, "Cannot read body as underlying resource unavailable": a tester's).
    if (BODY_CUT.test(error.message)) {
      return problemResponse(
        499,
        `Cannot answer "${cut(c.req.path, 200)}": the client left before it sent the whole body`,
      );
    }
    return failure(error, c.req.path, deps);
  };
}

/** A request Hono's middleware refused: a missing or wrong token is a 401 that says how. */
function refusal(error: HTTPException): Response {
  const original = error.getResponse();
  const headers: Record<string, string> = {};
  const challenge = original.headers.get("WWW-Authenticate");
  if (challenge) headers["WWW-Authenticate"] = challenge;
  // The token check answers a malformed Authorization header with 400: it is a 401 here.
  if (challenge || error.status === 401) {
    const how = '"Authorization: Bearer <token>"';
    const detail = /invalid_token/.test(challenge ?? "")
      ? `The API token is wrong: send the one serve was given (SERVE_TOKEN) as ${how}`
      : /invalid_request/.test(challenge ?? "")
      ? `The Authorization header is malformed: send the API token as ${how}`
      : `Send the API token as ${how}`;
    return problemResponse(401, detail, { headers });
  }
  return problemResponse(error.status, error.message || "The request was refused");
}

/**
 * A read that failed: a bad argument (400), a statement timeout or an unreachable database
 * (503), anything else a 500 whose details only the server log has.
 */
function failure(error: Error, path: string, deps: ServeDeps): Response {
  const { settings, log } = deps;
  if (error instanceof NoAnswerError) {
    log({ level: "error", event: "request_failed", path, error: error.message });
    return problemResponse(
      503,
      `${error.message} (serve's connections all busy with other requests, or the database ` +
        `stopped, overloaded or unreachable); try again`,
      { headers: { "Retry-After": String(RETRY_AFTER_S) } },
    );
  }
  const code = (error as { code?: unknown }).code;
  if (code === "22023") return problemResponse(400, deps.redact(error.message));
  if (code === "57014") {
    return problemResponse(
      503,
      `The query took longer than ${
        settings.statementTimeoutMs / 1000
      } s (a large selection, or another session holding the tables); try again, or a ` +
        `narrower selection`,
      { headers: { "Retry-After": String(RETRY_AFTER_S) } },
    );
  }
  const unavailable = (typeof code === "string" && UNAVAILABLE.has(code)) ||
    /ECONNREFUSED|CONNECT_TIMEOUT|CONNECTION_(CLOSED|ENDED|DESTROYED)|ECONNRESET/.test(
      String(code ?? error.message),
    );
  log({
    level: "error",
    event: "request_failed",
    path,
    error: deps.redact(error instanceof Error ? error.message : String(error)),
  });
  return unavailable
    ? problemResponse(503, "The database cannot be reached", {
      headers: { "Retry-After": String(RETRY_AFTER_S) },
    })
    : problemResponse(500, "The request failed; the server log has the details");
}
