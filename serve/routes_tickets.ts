/**
 * `/api/tickets` (GeoJSON page), `/api/tickets.csv` (the same selection, streamed) and
 * `/api/tickets/{id}` (one ticket with its raw record and closures).
 *
 * @module
 */

import type { Context, Hono } from "hono";
import { dataAsOf } from "../core/data_version.ts";
import { CONTROL_CHARACTERS, MAX_TICKET_ID_LENGTH } from "../core/parse_change_file.ts";
import { readTicket } from "../core/read_ticket.ts";
import { readTickets, SLA_STATES, type TicketKey, type TicketQuery } from "../core/read_tickets.ts";
import { readTicketsCsv } from "../core/read_tickets_csv.ts";
import type { SqlSession } from "../core/ports/mod.ts";
import { exportStream } from "./_export_stream.ts";
import { LARGE_READ_KINDS } from "./_large_reads.ts";
import { cachedRead, type ReadResult } from "./cached_read.ts";
import type { ServeEnv } from "./env.ts";
import { decoded, ParameterError, Params, queryParams } from "./params.ts";
import { cut, problemResponse } from "./problem.ts";

/** Default page size of `/api/tickets`. */
export const DEFAULT_LIMIT = 5000;
/** Largest page size (and the CSV export's default). */
export const MAX_LIMIT = 50_000;

/** Reads the ticket selection from request parameters. */
export function ticketQuery(p: Params, defaultLimit = DEFAULT_LIMIT): TicketQuery {
  return {
    dataset: p.choice("dataset", ["inc", "crq", "all"] as const, "all"),
    openOnly: p.boolean("open_only", true),
    cluster: p.text("cluster"),
    status: p.text("status"),
    slaState: p.choice("sla_state", SLA_STATES),
    team: p.text("team"),
    bbox: p.bbox("bbox"),
    limit: p.integer("limit", 1, MAX_LIMIT, defaultLimit),
    offset: p.integer("offset", 0, 10_000_000, 0),
  };
}

function datasetsOf(query: TicketQuery): string[] {
  return query.dataset === "all" ? ["inc", "crq"] : [query.dataset];
}

/** Registers the ticket routes. */
export function ticketRoutes(app: Hono<ServeEnv>): void {
  app.get("/api/tickets", ticketsPage);
  app.get("/api/tickets.csv", ticketsCsv);
  app.get("/api/tickets/:id", oneTicket);
}

/**
 * `/api/tickets`: one page of the selection as GeoJSON, with its count and next page. The `next`
 * link names the page's last ticket (`after`), not an offset: a page starts where the one before
 * ended even when tickets came, went or changed state meanwhile (with an offset, every ticket that
 * left the pages before shifted the next one: a ticket was skipped, or sent twice).
 */
function ticketsPage(c: Context<ServeEnv>): Promise<Response> {
  const params = new Params(queryParams(c.req));
  const query: TicketQuery = { ...ticketQuery(params), after: ticketKey(params, "after") };
  return cachedRead(c, "tickets", { ...query }, async (tx, version) => {
    const page = await readTickets(tx, query, c.get("deps").now());
    const head = {
      type: "FeatureCollection",
      numberMatched: page.matched,
      numberReturned: page.returned,
      dataAsOf: dataAsOf(await version, datasetsOf(query)),
      next: nextPage(c.req.url, page.last),
    };
    return {
      body: `${JSON.stringify(head).slice(0, -1)},"features":${page.features}}`,
      rows: page.returned,
      contentType: "application/geo+json; charset=utf-8",
    };
  }, {
    snapshot: true, // the page and its count agree
    // ~600 bytes a ticket: 50,000 are ~35 MB, built in memory, then sent.
    large: query.limit > DEFAULT_LIMIT
      ? {
        what: LARGE_READ_KINDS,
        less: `ask for ${DEFAULT_LIMIT} or fewer a page (limit=${DEFAULT_LIMIT}, then next)`,
      }
      : undefined,
  });
}

/** The path and query of the page after the one ending at `last`; null for the last page. */
function nextPage(requestUrl: string, last: TicketKey | null): string | null {
  if (last === null) return null;
  const url = new URL(requestUrl);
  url.searchParams.delete("offset");
  url.searchParams.set("after", `${last.dataset}:${last.ticketId}`);
  return url.pathname + url.search;
}

/**
 * A ticket's key as a next link writes it, `inc:WOT0764585` (the id may hold a colon, and be as
 * long as any id ingest takes).
 */
function ticketKey(p: Params, name: string): TicketKey | undefined {
  const text = p.raw(name);
  if (text === undefined) return undefined;
  const colon = text.indexOf(":");
  const dataset = text.slice(0, Math.max(colon, 0)).toLowerCase(); // as dataset= reads it
  const ticketId = text.slice(colon + 1);
  if ((dataset !== "inc" && dataset !== "crq") || ticketId === "" || !takenId(ticketId)) {
    throw new ParameterError(
      name,
      `Cannot read "${name}" ${JSON.stringify(text.slice(0, 40))}: expected a dataset and a ` +
        `ticket id (up to ${MAX_TICKET_ID_LENGTH} characters, no control characters), as a next ` +
        `link gives them, such as inc:WOT0764585`,
    );
  }
  return { dataset, ticketId };
}

/** An id ingest may have taken: up to 200 characters, none of the controls it refuses. */
function takenId(id: string): boolean {
  return [...id].length <= MAX_TICKET_ID_LENGTH && !CONTROL_CHARACTERS.test(id);
}

/**
 * `/api/tickets.csv`: the same selection (MAX_LIMIT rows by default) as a streamed CSV file; `after`
 * as a next link gives it, so a page's link turned into an export goes on from there (before: a
 * 400, "Unknown parameter").
 */
function ticketsCsv(c: Context<ServeEnv>): Promise<Response> {
  const params = new Params(queryParams(c.req));
  const query: TicketQuery = {
    ...ticketQuery(params, MAX_LIMIT),
    after: ticketKey(params, "after"),
  };
  // A byte-order mark first when asked (the page's link does): Excel then reads the file as
  // UTF-8 (accents, "—"); without it Excel guesses Windows-1252. Off by default: a program
  // reading the CSV would find it in the first column's name.
  const bom = params.boolean("bom", false);
  return cachedRead(
    c,
    "tickets.csv",
    { ...query, bom },
    (tx) => Promise.resolve(streamCsv(tx, query, c, bom)),
    {
      snapshot: true, // a cursor lives in a transaction
      // Up to 50,000 rows (the default) read at the database's pace: a place of its own while it
      // reads (before, 8 exports at once held every connection, and /api/health waited 7.5 s
      // behind them). An export of a page's size or less needs none.
      large: query.limit > DEFAULT_LIMIT
        ? {
          what: LARGE_READ_KINDS,
          less: `export ${DEFAULT_LIMIT} tickets or fewer at a time (limit=${DEFAULT_LIMIT}, ` +
            `then after=DATASET:TICKET_ID of the last row)`,
        }
        : undefined,
    },
  );
}

/** The CSV rows of `query` as a body that is written while the transaction reads them. */
function streamCsv(
  tx: SqlSession,
  query: TicketQuery,
  c: Context<ServeEnv>,
  bom: boolean,
): ReadResult {
  const deps = c.get("deps");
  // Read at the database's pace (see exportStream); a client that goes away stops it before
  // its next fetch, and so does the server cutting the body when it stops.
  const stream = exportStream(deps.cut, deps.largeReads?.limits);
  const request = { method: c.req.method, path: c.req.path };
  if (bom) stream.write("\ufeff", 0);
  const finished = readTicketsCsv(tx, query, stream.write, {
    now: deps.now(),
    signal: stream.signal,
  }).then(
    (rows) => {
      stream.close();
      return rows;
    },
    (error) => {
      if (stream.signal.aborted) throw stream.signal.reason; // the client left, or a cut
      // The server reports a body that ends with an error without its request: name it.
      stream.error(Object.assign(error, { request }));
      throw error;
    },
  );
  return {
    body: stream.body,
    rows: 0,
    finished,
    delivered: stream.delivered,
    contentType: "text/csv; charset=utf-8",
    headers: { "Content-Disposition": 'attachment; filename="tickets.csv"' },
  };
}

/**
 * `/api/tickets/{id}[?dataset=inc|crq]`: one ticket with its raw record and closures (the INC one
 * when both datasets hold the id, unless `dataset` says); 404 when there is none.
 */
function oneTicket(c: Context<ServeEnv, "/api/tickets/:id">): Promise<Response> {
  const id = c.req.param("id");
  // Any id the feed may carry (spaces, "#", accents, a "/" percent-encoded; as long as ingest
  // takes): the query takes it as a parameter.
  if (
    !takenId(id) || decoded(new URL(c.req.url).pathname.slice("/api/tickets/".length)) === undefined
  ) {
    throw new ParameterError(
      "id",
      `Cannot read the ticket id "${JSON.stringify(cut(id, 40)).slice(1, -1)}": expected ` +
        `up to ${MAX_TICKET_ID_LENGTH} characters without control characters, such as WOT0764585`,
    );
  }
  const p = new Params(queryParams(c.req));
  const dataset = p.choice("dataset", ["inc", "crq"] as const);
  return cachedRead(c, "ticket", { id, dataset }, async (tx) => {
    const body = await readTicket(tx, id, c.get("deps").now(), dataset);
    if (body === null) {
      const where = dataset === undefined ? "INC or CRQ" : dataset.toUpperCase();
      const missing = problemResponse(404, `No ticket "${id}" in ${where}`);
      return {
        body: await missing.text(),
        rows: 0,
        status: 404,
        contentType: "application/problem+json",
      };
    }
    return { body, rows: 1 };
  });
}
