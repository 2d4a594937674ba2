/**
 * Every data response: one READ ONLY transaction with a statement timeout; first the datasets'
 * watermarks (`tickets.import_meta` only), an ETag from them, the route and its normalised
 * parameters, and the current minute (SLA ages move with the clock); `304` when the client has
 * it, before any ticket table is touched; else the query.
 *
 * @module
 */

import type { Context } from "hono";
import { type DataVersion, readDataVersion } from "../core/data_version.ts";
import { readOnly } from "../core/read_only.ts";
import type { SqlSession } from "../core/ports/mod.ts";
import type { ServeEnv } from "./env.ts";

/** What a data handler returns. */
export interface ReadResult {
  /** Body (JSON text unless `contentType` says otherwise), or a stream. */
  body: string | ReadableStream<Uint8Array>;
  /** Rows it read, for the access log. */
  rows: number;
  /** Content type (default JSON). */
  contentType?: string;
  /** Status (default 200). */
  status?: number;
  /** Extra headers. */
  headers?: Record<string, string>;
  /**
   * For a streamed body: settles when the stream has read its last row. The transaction stays
   * open until then, while the response is already on its way.
   */
  finished?: Promise<unknown>;
}

const encoder = new TextEncoder();

/** How long an ETag stays valid at most, whatever the data: SLA ages change with time. */
export const ETAG_PERIOD_MS = 60_000;

async function etagOf(parts: readonly unknown[]): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(JSON.stringify(parts)),
  );
  const hex = Array.from(
    new Uint8Array(digest).slice(0, 12),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  return `W/"${hex}"`;
}

function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const bare = etag.replace(/^W\//, "");
  return ifNoneMatch.split(",").some((t) => {
    const tag = t.trim();
    return tag === "*" || tag.replace(/^W\//, "") === bare;
  });
}

/** Answers a data request through the ETag check and a read-only transaction. */
export async function cachedRead(
  c: Context<ServeEnv>,
  route: string,
  params: Record<string, unknown>,
  read: (tx: SqlSession, version: DataVersion) => Promise<ReadResult>,
): Promise<Response> {
  const { db, settings, now } = c.get("deps");
  const at = now();
  const period = Math.floor(at.getTime() / ETAG_PERIOD_MS);
  type Head =
    | { etag: string; notModified: true }
    | ({ etag: string; notModified: false } & ReadResult);
  let ready: (head: Head) => void = () => {};
  const head = new Promise<Head>((resolve) => ready = resolve);
  const done = readOnly(db, { timeoutMs: settings.statementTimeoutMs }, async (tx) => {
    const version = await readDataVersion(tx);
    const etag = await etagOf([route, params, version.token, period]);
    if (matches(c.req.header("If-None-Match"), etag)) return ready({ etag, notModified: true });
    const answer = await read(tx, version);
    ready({ etag, notModified: false, ...answer });
    await answer.finished;
  });
  // A streamed body leaves with its first rows; anything else once the transaction is over.
  const result = await Promise.race([head, done.then(() => head)]);
  const streamed = !result.notModified && result.finished !== undefined;
  if (streamed) done.catch(() => {}); // a stream reports its own failure
  else await done;
  const headers: Record<string, string> = { ETag: result.etag, "Cache-Control": "no-cache" };
  if (result.notModified) {
    c.set("rows", 0);
    return new Response(null, { status: 304, headers });
  }
  c.set("rows", result.rows);
  const body = typeof result.body === "string" ? encoder.encode(result.body) : result.body;
  if (body instanceof Uint8Array) headers["Content-Length"] = String(body.byteLength);
  return new Response(body, {
    status: result.status ?? 200,
    headers: {
      "Content-Type": result.contentType ?? "application/json; charset=utf-8",
      ...headers,
      ...result.headers,
    },
  });
}
