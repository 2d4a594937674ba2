/**
 * The predecessor's paths (`/webhook/tickets`, `/webhook/inc-dashboard`), `/api/dashboard`,
 * `/api/backlog` (trend) and `/api/teams` (closure attribution).
 *
 * @module
 */

import type { Context, Hono } from "hono";
import { readBacklog } from "../core/read_backlog.ts";
import { type ReportWindow, reportWindow, WindowError, WINDOWS } from "../core/report_window.ts";
import { dashboardPayload, type DashboardQuery, mapPayload } from "../core/read_payloads.ts";
import { teamPerformance, type TeamQuery } from "../core/team_performance.ts";
import { LARGE_READ_KINDS } from "./_large_reads.ts";
import { cachedRead } from "./cached_read.ts";
import type { ServeEnv } from "./env.ts";
import { ParameterError, Params, type ParamSource, queryParams } from "./params.ts";
import { problemResponse } from "./problem.ts";

/**
 * The window of a dashboard or team request (core/report_window.ts): the days parsed here first,
 * so a malformed one has the message every date parameter has. `webhook`: days given with a
 * named window are dropped, as the predecessor's API did (its front-end may send them), where
 * `/api` refuses them.
 */
function windowOf(p: Params, webhook = false): ReportWindow {
  const from = p.date("from");
  const to = p.date("to");
  // Left out, reportWindow chooses (days alone: custom) and says a missing day as sent (before:
  // 'Cannot use window "custom" without to' to a request that named no window).
  const window = p.choice("window", WINDOWS);
  try {
    if (webhook && window !== undefined && window !== "custom") return reportWindow({ window });
    return reportWindow({ window, from, to });
  } catch (error) {
    if (error instanceof WindowError) throw new ParameterError(error.parameter, error.message);
    throw error;
  }
}

function dashboardQuery(p: Params, webhook: boolean): DashboardQuery {
  return { cluster: p.text("cluster"), status: p.text("status"), ...windowOf(p, webhook) };
}

const query = (c: Context<ServeEnv>): ParamSource => queryParams(c.req);

/** Parameters of a POST: the query string, overridden by a JSON or form body. */
async function postParams(c: Context<ServeEnv>): Promise<Params | Response> {
  const body = await postBody(c);
  if (body instanceof Response) return body;
  const fromQuery = query(c);
  return new Params((name) => {
    if (!(name in body)) return fromQuery(name);
    const value = body[name];
    const values = Array.isArray(value) ? value : [value];
    return values.filter((v) => v !== null && v !== undefined).map((v) => {
      // A boolean too (before: `{"cluster": true}` read as the cluster "true").
      if (typeof v === "object" || typeof v === "boolean") {
        throw new ParameterError(
          name,
          `Cannot read "${name}" ${
            v instanceof Blob ? "(a file)" : JSON.stringify(v).slice(0, 40)
          }: expected text or a number`,
        );
      }
      // JSON.parse reads 1e400 as Infinity: told as written, not as the word "Infinity".
      if (typeof v === "number" && !Number.isFinite(v)) {
        throw new ParameterError(name, `Cannot read "${name}": the number is too large`);
      }
      return String(v);
    });
  });
}

/**
 * A POST body's fields. Besides JSON and a URL-encoded form: a multipart form (what `fetch` sends
 * for `new FormData(form)`), text/plain (what it sends for a string body without a type: JSON
 * when it starts with `{`, else a URL-encoded form) and an empty body of any type (no filters).
 */
async function postBody(c: Context<ServeEnv>): Promise<Record<string, unknown> | Response> {
  const contentType = c.req.header("Content-Type") ?? "";
  const type = contentType.split(";")[0]!.trim().toLowerCase();
  // A compressed body read as is: before, a gzip JSON body was a 400 "it is not JSON".
  const encoding = (c.req.header("Content-Encoding") ?? "identity").trim().toLowerCase();
  if (encoding !== "identity" && encoding !== "") {
    return problemResponse(
      415,
      `Cannot read a request body sent with Content-Encoding "${encoding.slice(0, 40)}": send ` +
        `it uncompressed (the filters are a few hundred bytes)`,
    );
  }
  const bytes = await c.req.arrayBuffer();
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") return {};
  if (type === "multipart/form-data") return await multipartFields(bytes, contentType);
  if (type === "application/json") return jsonObject(text);
  if (type === "application/x-www-form-urlencoded" || type === "") return formFields(text);
  if (type === "text/plain") {
    // JSON when it reads as JSON (an array or `true` too: refused as not an object, where a form
    // read of them was no filter at all), else a form.
    return readsAsJson(text) ? jsonObject(text) : formFields(text);
  }
  return problemResponse(
    415,
    `Cannot read the "${type}" body: send application/json, application/x-www-form-urlencoded, ` +
      `multipart/form-data or text/plain (JSON or a form)`,
  );
}

/** Whether `text` parses as JSON. */
function readsAsJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return text.trimStart().startsWith("{"); // a broken object is told as such
  }
}

/** A JSON body's object, or the 400 saying why it is not one. */
function jsonObject(text: string): Record<string, unknown> | Response {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return problemResponse(400, "Cannot read the request body: it is not JSON");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return problemResponse(400, "Cannot read the request body: expected a JSON object");
  }
  // A key given twice is a parameter given twice, as in a query string (before: the last won).
  const fields = body as Record<string, unknown>;
  // Counted as given: a repeat whose last value is null must not read as the parameter left out.
  for (const [key, count] of repeatedKeys(text)) {
    fields[key] = Array(count).fill(fields[key] ?? "");
  }
  return fields;
}

/** The keys a JSON object's text (already parsed) gives more than once, with their counts. */
function repeatedKeys(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
    else if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === "\\") i++;
      // A string in the top object followed by a colon is one of its keys.
      if (depth === 1 && /^\s*:/.test(text.slice(i + 1, i + 64))) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
  }
  return new Map([...counts].filter(([, n]) => n > 1));
}

/** A URL-encoded form's fields, each with every value it was given. */
function formFields(text: string): Record<string, string[]> {
  const form = new URLSearchParams(text);
  return Object.fromEntries([...new Set(form.keys())].map((k) => [k, form.getAll(k)]));
}

/**
 * A multipart form's fields, each with every value it was given. A file is kept as it is: a
 * parameter read from it is a 400 naming it (postParams), one the route does not read is ignored.
 */
async function multipartFields(
  bytes: ArrayBuffer,
  contentType: string,
): Promise<Record<string, FormDataEntryValue[]> | Response> {
  let form: FormData;
  try {
    form = await new Response(bytes, { headers: { "Content-Type": contentType } }).formData();
  } catch {
    return problemResponse(400, "Cannot read the request body: it is not a multipart form");
  }
  const fields: Record<string, FormDataEntryValue[]> = {};
  for (const [name, value] of form) (fields[name] ??= []).push(value);
  return fields;
}

function dashboard(c: Context<ServeEnv>, p: Params): Promise<Response> {
  const webhook = c.req.path.startsWith("/webhook/");
  // `features=false` (/api/dashboard): the figures without the tickets (the page's cards); the
  // webhook keeps the predecessor's whole payload.
  const features = webhook || p.boolean("features", true);
  const q = { ...dashboardQuery(p, webhook), ...(features ? {} : { features }) };
  return cachedRead(c, "dashboard", { ...q }, async (tx) => ({
    body: await dashboardPayload(tx, q, c.get("deps").now()),
    rows: 1,
  }));
}

/** Registers the report routes. */
export function reportRoutes(app: Hono<ServeEnv>): void {
  app.get("/webhook/tickets", map);
  app.get("/webhook/inc-dashboard", (c) => dashboard(c, new Params(query(c))));
  app.post("/webhook/inc-dashboard", async (c) => {
    const p = await postParams(c);
    return p instanceof Response ? p : dashboard(c, p);
  });
  app.get("/api/dashboard", (c) => dashboard(c, new Params(query(c))));
  app.get("/api/backlog", backlog);
  app.get("/api/teams", teams);
}

/** `/webhook/tickets`: the map payload, open tickets only unless `open_only` is false. */
function map(c: Context<ServeEnv>): Promise<Response> {
  const openOnly = new Params(query(c)).boolean("open_only", true);
  return cachedRead(c, "map", { openOnly }, async (tx) => ({
    body: await mapPayload(tx, openOnly, c.get("deps").now()),
    rows: 1,
  }), {
    // Every ticket ever seen, closed ones too, in one body without a limit: the largest read.
    large: openOnly ? undefined : {
      what: LARGE_READ_KINDS,
      less:
        "read the tickets a page at a time (/api/tickets?open_only=false&limit=5000, then next)",
    },
  });
}

/**
 * `/api/backlog`: the daily backlog from `from` to `to` (by default today in EAT, and `from` 29
 * days before it: 30 days).
 */
function backlog(c: Context<ServeEnv>): Promise<Response> {
  const p = new Params(query(c));
  const today = eatDate(c.get("deps").now());
  const to = p.date("to") ?? today;
  const from = p.date("from") ?? eatDate(new Date(Date.parse(to) - 29 * 86400_000));
  if (from > to) {
    throw new ParameterError("from", `Cannot read from "${from}": it is after to "${to}"`);
  }
  const q = { from, to, cluster: p.text("cluster") };
  return cachedRead(c, "backlog", q, async (tx) => {
    const series = await readBacklog(tx, q, c.get("deps").now());
    return {
      body: `${
        JSON.stringify({ ...q, cluster: q.cluster ?? null }).slice(0, -1)
      },"days":${series.days}}`,
      rows: series.returned,
    };
  });
}

/** `/api/teams`: closure attribution per assigned team or owner (`by`) over a window. */
function teams(c: Context<ServeEnv>): Promise<Response> {
  const p = new Params(query(c));
  const q: TeamQuery = {
    by: p.choice("by", ["team", "owner"] as const, "team"),
    cluster: p.text("cluster"),
    ...windowOf(p),
  };
  return cachedRead(c, "teams", { ...q }, async (tx) => {
    const body = await teamPerformance(tx, q, c.get("deps").now());
    return { body, rows: (body.match(/"key":/g) ?? []).length };
  });
}

/** The EAT calendar day of an instant, `YYYY-MM-DD`. */
function eatDate(at: Date): string {
  return new Date(at.getTime() + 3 * 3600_000).toISOString().slice(0, 10);
}
