/**
 * Every data response carries an ETag from the datasets' watermarks, the route and its
 * normalised parameters, and the current minute (SLA ages move with the clock). A conditional
 * request is answered `304` from the version the process remembers ({@linkcode VersionCache})
 * without touching the database; otherwise read-only statements with a statement timeout read
 * the watermarks (`tickets.import_meta` only) and the data, on one connection, watermarks first
 * (readInOrder), or in one REPEATABLE READ snapshot for a read that needs it; `304` if the
 * client has the tag. An unconditional read that needs no snapshot takes the remembered version
 * when there is one and sends only its data statement. The tag never labels data older than
 * itself.
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { Context } from "hono";
import { type DataVersion, readDataVersion } from "../core/data_version.ts";
import { anyTag, namesTag } from "./_if_none_match.ts";
import { problemResponse } from "./problem.ts";
import { readDeadlineMs, withDeadline } from "./_deadline.ts";
import { readInOrder, readOnly } from "../core/read_only.ts";
import type { SqlSession } from "../core/ports/mod.ts";
import type { ServeDeps, ServeEnv } from "./env.ts";
import {
  heldBody,
  LARGE_BODY_BYTES,
  type Refusal,
  RETRY_AFTER_S,
  type Slot,
} from "./_large_reads.ts";

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
   * For a streamed body: settles with the rows read when the stream has read its last row. The
   * transaction stays open until then, while the response is already on its way.
   */
  finished?: Promise<number>;
  /**
   * For a streamed body: settles with the rows handed to the client once it has taken the last,
   * or rejects (with `rowsSent`) when the body stopped early. The access log reports it.
   */
  delivered?: Promise<number>;
}

const encoder = new TextEncoder();

/** How long an ETag stays valid at most, whatever the data: SLA ages change with time. */
export const ETAG_PERIOD_MS = 60_000;

/** Tags computed lately, by token and request: a repeated request is not hashed again. */
const recentTags = new Map<string, string>();
/** How many tags are remembered at most (then they are forgotten all at once). */
const RECENT_TAGS = 1000;

/** The tag of `request` (route, parameters and minute, as JSON) at data version `token`. */
function etagOf(request: string, token: string): string {
  const key = `${token}\n${request}`;
  let tag = recentTags.get(key);
  if (tag === undefined) {
    const hex = createHash("sha256").update(request).update("\n").update(token).digest("hex");
    tag = `W/"${hex.slice(0, 24)}"`;
    if (recentTags.size >= RECENT_TAGS) recentTags.clear();
    recentTags.set(key, tag);
  }
  return tag;
}

function notModified(c: Context<ServeEnv>, etag: string): Response {
  c.set("rows", 0);
  // RFC 9110 13.1.2: a matching If-None-Match is a 304 for GET and HEAD, a 412 for any other.
  if (c.req.method !== "GET" && c.req.method !== "HEAD") {
    return problemResponse(
      412,
      `Cannot answer this ${c.req.method}: its If-None-Match names the current data ` +
        `(send it without If-None-Match, or ask with GET for a 304)`,
      { headers: { ETag: etag } },
    );
  }
  return new Response(null, { status: 304, headers: { ETag: etag, "Cache-Control": "no-cache" } });
}

/** Options for {@linkcode cachedRead}. */
export interface CachedReadOptions {
  /**
   * The read may be large (tens of MB): it waits for one of the large-read slots
   * (`deps.largeReads`, after a `304` from memory, which needs none) and keeps it while its body
   * is built (a streamed body: until its last row is read), and while it is sent when over
   * LARGE_BODY_BYTES; a `503` with `Retry-After` when there is none, naming `what` waits and how
   * to ask for `less`.
   */
  large?: { what: string; less: string };
  /**
   * The read needs one snapshot (several statements that must agree, or a cursor): it runs in a
   * REPEATABLE READ transaction, after the version. Otherwise its statement goes out right
   * behind the version's, in the same round trip (readInOrder).
   */
  snapshot?: boolean;
}

/**
 * Answers a data request through the ETag check and read-only statements. `read` gets the data
 * version as a promise: it is being read in the same session, ahead of the data.
 */
export async function cachedRead(
  c: Context<ServeEnv>,
  route: string,
  params: Record<string, unknown>,
  read: (tx: SqlSession, version: Promise<DataVersion>) => Promise<ReadResult>,
  options: CachedReadOptions = {},
): Promise<Response> {
  const deps = c.get("deps");
  const { now } = deps;
  const period = Math.floor(now().getTime() / ETAG_PERIOD_MS);
  const request = JSON.stringify([route, params, period]);
  const ifNoneMatch = c.req.header("If-None-Match");
  // A stopped database answers nothing: each wait on it a 503 after the deadline (before: the
  // request waited as long as the database did).
  const ms = readDeadlineMs(deps.settings.statementTimeoutMs);
  const within = <T>(work: Promise<T>) => withDeadline(work, ms);
  const known = ifNoneMatch === undefined ? undefined : await versionForCheck(deps, within);
  if (known !== undefined) {
    const etag = etagOf(request, known.token);
    if (namesTag(ifNoneMatch, etag)) return notModified(c, etag);
  }
  const slot = options.large === undefined ? undefined : await largeReadSlot(deps, c.req.raw);
  if (slot !== undefined && "refused" in slot) {
    return tooManyLargeReads(c.req.path, deps, slot, options.large!);
  }
  try {
    const plan = {
      request,
      ifNoneMatch,
      known,
      snapshot: options.snapshot,
      read,
      signal: c.req.raw.signal,
    };
    const { head, done } = readVersionAndData(deps, plan);
    // A streamed body leaves with its first rows; anything else once the transaction is over.
    const result = await within(Promise.race([head, done.then(() => head)]));
    // `*` is known to match only once read: a ticket that does not exist is a 404, not a 304
    // (before, a 304 from the version in memory).
    if (!result.notModified && anyTag(ifNoneMatch) && (result.status ?? 200) < 300) {
      return await existsNotModified(c, result, done);
    }
    if (!result.notModified && result.finished !== undefined) streamOut(c, result, done, slot);
    else await within(done);
    if (result.notModified) return notModified(c, result.etag);
    return dataResponse(c, result, slot);
  } finally {
    // A large body being sent holds it until the client has taken it (heldBody).
    if (slot !== undefined && !slotHeld.has(slot)) slot.release();
  }
}

/** `If-None-Match: *` on a resource that exists: 304, its body (a stream too) left unread. */
async function existsNotModified(
  c: Context<ServeEnv>,
  result: ReadResult & { etag: string },
  done: Promise<void>,
): Promise<Response> {
  if (typeof result.body !== "string") await result.body.cancel().catch(() => {});
  await done.catch(() => {}); // a streamed read stops at its next fetch
  return notModified(c, result.etag);
}

/**
 * A streamed body leaves with its first rows: logged once the client has taken them all; a large
 * one keeps its place until its last row is read (its body is paced by the stream itself,
 * _export_stream.ts).
 */
function streamOut(
  c: Context<ServeEnv>,
  result: ReadResult,
  done: Promise<void>,
  slot: Slot | undefined,
): void {
  c.set("streamed", streamedEnd(done.then(() => result.finished!), result));
  if (slot === undefined) return;
  slotHeld.add(slot);
  done.finally(() => slot.release()).catch(() => {});
}

/** The slots held by a body being sent. */
const slotHeld = new WeakSet<Slot>();

function largeReadSlot(deps: ServeDeps, request: Request): Promise<Slot | Refusal> {
  return deps.largeReads === undefined
    ? Promise.resolve({ release: () => {} })
    : deps.largeReads.acquire(request.signal);
}

/** The 503 of a large read that found no slot. */
function tooManyLargeReads(
  path: string,
  deps: ServeDeps,
  refusal: Refusal,
  large: NonNullable<CachedReadOptions["large"]>,
): Response {
  // Nobody reads this one: the access line records its status, 499 as nginx writes it.
  if (refusal.refused === "gone") {
    return problemResponse(499, `Cannot read "${path}": the client left while the read waited`);
  }
  const { slots, queue, waitMs } = deps.largeReads!.limits;
  const allowed = `the ${slots} large read${
    slots === 1 ? "" : "s"
  } allowed at once (${large.what})`;
  const why = refusal.refused === "queue full"
    ? `${allowed} ${slots === 1 ? "is" : "are"} being built or sent and ${queue} more wait`
    : `it waited ${waitMs / 1000} s behind ${allowed}`;
  return problemResponse(
    503,
    `Cannot read "${path}" now: ${why}; try again in ${RETRY_AFTER_S} s, or ${large.less}`,
    { headers: { "Retry-After": String(RETRY_AFTER_S) } },
  );
}

/**
 * What the access log reports of a streamed body: once the read is over (the transaction too),
 * the rows the client took (when the body says), else the rows read.
 */
function streamedEnd(read: Promise<number>, result: ReadResult): Promise<number> {
  const delivered = result.delivered;
  return delivered === undefined ? read : read.then(() => delivered, () => delivered);
}

/**
 * A conditional request checks the remembered version: from memory when it is fresh (no timer,
 * no wait: a `304`'s whole path), else read once for every request in flight, within the
 * deadline; a failed read leaves the check to the version read with the data (readVersionFirst).
 */
function versionForCheck(
  { db, settings, versions }: ServeDeps,
  within: <T>(work: Promise<T>) => Promise<T>,
): DataVersion | Promise<DataVersion | undefined> | undefined {
  if (versions === undefined) return undefined;
  return versions.fresh() ?? within(versions.refresh(() =>
    readInOrder(
      db,
      { timeoutMs: settings.statementTimeoutMs },
      (tx) => readTaggedVersion(tx, versions),
    )
  ));
}

/** What a read has found once its tag is known: the client's copy is current, or the data. */
type Head =
  | { etag: string; notModified: true }
  | ({ etag: string; notModified: false } & ReadResult);

/**
 * Drawn once per process: a restarted server never repeats a tag its predecessor gave older
 * data (on the embedded database nothing notifies it of what changed while it was stopped).
 */
const PROCESS_EPOCH = crypto.randomUUID().slice(0, 8);

/**
 * The data version, its token extended with this process and the change notifications it had
 * heard when the read began. The ledger's token changes only when a file is applied; history
 * captures, geometry resolution, geocoding and gazetteer imports notify too (definitions/95_*),
 * so their changes get new tags at once, not when the minute in the tag rolls over. A tag never
 * names data older than it carries: a notification is delivered after its commit, so data read
 * after a generation was counted includes every change notified until then.
 */
async function readTaggedVersion(
  tx: SqlSession,
  versions: ServeDeps["versions"],
): Promise<DataVersion> {
  const generation = versions?.generation ?? 0;
  const version = await readDataVersion(tx);
  return { ...version, token: `${version.token}|${PROCESS_EPOCH}.${generation}` };
}

/** One request's read: its tag's text, the client's tags, the version already checked. */
interface ReadPlan {
  request: string;
  ifNoneMatch: string | undefined;
  known: DataVersion | undefined;
  snapshot: boolean | undefined;
  read: (tx: SqlSession, version: Promise<DataVersion>) => Promise<ReadResult>;
  /** Aborts when the client leaves. */
  signal: AbortSignal;
}

/**
 * Runs the read in read-only statements: `head` settles once the tag is known and the data is
 * read (or not needed), `done` once the transaction is over (a streamed body's last row).
 */
function readVersionAndData(
  { db, settings, versions }: ServeDeps,
  plan: ReadPlan,
): { head: Promise<Head>; done: Promise<void> } {
  // An unconditional read of one statement labels its data with the remembered version: read
  // before this statement is sent, so never newer than the data (at worst a later repeat gets a
  // 200 where a 304 would do).
  const remembered = plan.ifNoneMatch === undefined && !plan.snapshot
    ? versions?.fresh()
    : undefined;
  let ready: (head: Head) => void = () => {};
  const head = new Promise<Head>((resolve) => ready = resolve);
  const run = plan.snapshot ? readOnly : readInOrder;
  const done = run(db, { timeoutMs: settings.statementTimeoutMs }, async (tx) => {
    const stopped = stopWhenClientLeaves(tx, plan.signal, head);
    try {
      if (remembered !== undefined) {
        const answer = await plan.read(tx, Promise.resolve(remembered));
        ready({ etag: etagOf(plan.request, remembered.token), notModified: false, ...answer });
        return void await answer.finished;
      }
      await readVersionFirst(tx, plan, versions, ready);
    } finally {
      await stopped.delivered;
    }
  });
  return { head, done };
}

/**
 * Stops `tx`'s statements when the client leaves before `head` is known (before: they ran until
 * they ended or hit the statement timeout, holding a connection for nobody); the read then
 * fails with SQLSTATE 57014 and the request is logged 499. A body already on its way ends as
 * its stream does. The session is to be given back only once `delivered` settles: a cancel
 * request that reached its connection after the next request's statement was sent on it would
 * stop that one (PostgreSQL ignores a cancel that finds its session idle).
 */
function stopWhenClientLeaves(
  tx: SqlSession,
  signal: AbortSignal,
  head: Promise<Head>,
): { delivered?: Promise<void> } {
  const stopped: { delivered?: Promise<void> } = {};
  if (tx.cancel === undefined || signal.aborted) return stopped;
  const stop = () => void (stopped.delivered = tx.cancel!());
  signal.addEventListener("abort", stop, { once: true });
  head.finally(() => signal.removeEventListener("abort", stop)).catch(() => {});
  return stopped;
}

/** Reads the version, then (unless the client's tag matches it) the data, in `tx`. */
async function readVersionFirst(
  tx: SqlSession,
  plan: ReadPlan,
  versions: ServeDeps["versions"],
  ready: (head: Head) => void,
): Promise<void> {
  const start = versions?.begin();
  const reading = readTaggedVersion(tx, versions);
  // No version left to check first (none sent, or the remembered one did not match): the
  // data goes out right behind the version. The version is sent first, so it never labels
  // data older than itself.
  const early = !plan.snapshot && (plan.ifNoneMatch === undefined || plan.known !== undefined)
    ? plan.read(tx, reading)
    : undefined;
  early?.catch(() => {}); // awaited below, once the version is in
  const version = await reading;
  if (start !== undefined) versions!.store(start, version);
  const etag = etagOf(plan.request, version.token);
  if (namesTag(plan.ifNoneMatch, etag)) {
    await early?.catch(() => {}); // its connection is free again once it has answered
    return ready({ etag, notModified: true });
  }
  const answer = await (early ?? plan.read(tx, reading));
  ready({ etag, notModified: false, ...answer });
  await answer.finished;
}

/**
 * The `200` (or the handler's status) with the data, its tag and its length when known. A body
 * over LARGE_BODY_BYTES of a large read keeps `slot` until its client has taken it.
 */
function dataResponse(
  c: Context<ServeEnv>,
  result: ReadResult & { etag: string },
  slot?: Slot,
): Response {
  // Only a representation has a tag: a 404 (no such ticket) does not, so it is never a 304.
  const tagged = (result.status ?? 200) < 300;
  const headers: Record<string, string> = tagged
    ? { ETag: result.etag, "Cache-Control": "no-cache" }
    : { "Cache-Control": "no-cache" };
  c.set("rows", result.rows);
  const bytes = typeof result.body === "string" ? encoder.encode(result.body) : result.body;
  if (bytes instanceof Uint8Array) headers["Content-Length"] = String(bytes.byteLength);
  let body: Uint8Array | ReadableStream<Uint8Array> = bytes;
  const { largeReads, cut } = c.get("deps");
  if (slot && largeReads && bytes instanceof Uint8Array && bytes.byteLength > LARGE_BODY_BYTES) {
    // Logged once sent: a client that left or was cut is said so (before: "200, 50000 rows").
    let ended: (reason?: unknown) => void = () => {};
    const delivered = new Promise<number>((resolve, reject) =>
      ended = (reason) => reason === undefined ? resolve(result.rows) : reject(reason)
    );
    c.set("streamed", delivered);
    body = heldBody(bytes, slot, largeReads.limits, cut, ended);
    slotHeld.add(slot);
  }
  return new Response(body as BodyInit, {
    status: result.status ?? 200,
    headers: {
      "Content-Type": result.contentType ?? "application/json; charset=utf-8",
      ...headers,
      ...result.headers,
    },
  });
}
