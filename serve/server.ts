/**
 * Starts the read API on `Deno.serve` and stops it cleanly: on SIGTERM/SIGINT it answers what
 * has arrived, stops accepting, lets in-flight requests finish for a bounded time (then cuts
 * what is still being sent), then closes the database. While it runs it listens
 * for data changes, so the data version it remembers for `304`s is forgotten at once.
 *
 * @module
 */

import { createApp } from "./app.ts";
import type { DataVersion } from "../core/data_version.ts";
import type { ServeDeps } from "./env.ts";
import { problemResponse } from "./problem.ts";
import { cutRequests } from "./_cut_requests.ts";
import { type Listener, serveAgainWhenOutOfFiles } from "./_relisten.ts";
import { sleep } from "../core/sleep.ts";
import { DATA_CHANGED_CHANNEL, VersionCache } from "./version_cache.ts";

/**
 * Milliseconds the responses in flight get after a stop signal (SIGTERM, Ctrl-C) before what is
 * still being sent is cut: below the 10 s Docker and Kubernetes wait before they kill.
 */
export const STOP_GRACE_MS = 8000;

/**
 * After a stop signal the server goes on answering until no request has been in flight or
 * begun for this long: a request already sent, waiting in the kernel's accept queue while the
 * embedded database held the one thread, is answered rather than reset.
 */
export const STOP_QUIET_MS = 100;

/** ...for at most this long after the signal (a steady stream of requests would never end). */
export const STOP_ACCEPT_MAX_MS = 2000;

/** Milliseconds a stopping server waits for the connections it cut to close. */
const CUT_WAIT_MS = 500;

/**
 * How the server listens again once it has run out of file descriptors (`Deno.serve` stops
 * accepting for good then): after `firstMs`, doubling up to `maxMs` while each new listener runs
 * out within `stableMs` of the last (clients keep filling it) or cannot even be opened; when it
 * cannot be opened for `giveUpMs` in a row, the server ends (its `finished` rejects, naming the
 * limit and the fix).
 */
export const ACCEPT_RETRY = { firstMs: 100, maxMs: 2000, stableMs: 10_000, giveUpMs: 60_000 };

/** Options for {@linkcode startServer}. */
export interface StartServerOptions extends ServeDeps {
  /** Interface to bind (default 127.0.0.1). */
  host: string;
  /** Port (0: any free port). */
  port: number;
  /** How shutdown waits (tests): {@linkcode STOP_GRACE_MS} and the others by default. */
  stop?: { graceMs?: number; quietMs?: number; acceptMaxMs?: number };
  /** How listening again waits (tests): {@linkcode ACCEPT_RETRY} by default. */
  acceptRetry?: Partial<typeof ACCEPT_RETRY>;
  /** Starts one `Deno.serve` (tests inject failures): `Deno.serve` by default. */
  denoServe?: (options: Deno.ServeTcpOptions, handler: Deno.ServeHandler) => Deno.HttpServer;
}

/** A running server. */
export interface RunningServer {
  /** The bound address. */
  host: string;
  /** The bound port. */
  port: number;
  /** Requests being answered now (from their start until the last byte is sent). */
  readonly inFlight: number;
  /**
   * Stops: answers what arrives until requests stop coming ({@linkcode STOP_QUIET_MS}, at most
   * {@linkcode STOP_ACCEPT_MAX_MS}), stops accepting, waits for the requests in flight until
   * {@linkcode STOP_GRACE_MS} after the call, then cuts the responses still being sent (logged
   * as `responses_cut`) and resolves. Calling it again returns the same stop; with `now` (a
   * second stop signal: a user pressing Ctrl-C again), that stop stops waiting and cuts at once.
   */
  shutdown(options?: { now?: boolean }): Promise<void>;
  /**
   * Resolves once the server has stopped; rejects when it cannot go on: it could not listen
   * again after running out of file descriptors (see {@linkcode ACCEPT_RETRY}).
   */
  finished: Promise<void>;
  /**
   * Settles once change notifications are heard (true), or could not be (false: a replica,
   * a lost database; the remembered version then lasts at most `settings.versionTtlMs`).
   */
  listening: Promise<boolean>;
  /**
   * Settles once the access lines still to be written are (a streamed body cut by the stop ends
   * when its reading ends, which can be after `finished`: when the database closes), or after
   * `waitMs`, whichever comes first.
   */
  linesWritten(waitMs: number): Promise<void>;
}

/** Starts serving; resolves once the socket listens. */
export function startServer(options: StartServerOptions): Promise<RunningServer> {
  const versions = options.versions ??
    new VersionCache<DataVersion>(options.settings.versionTtlMs ?? 0);
  const cut = new AbortController();
  const pendingLines = new Set<Promise<void>>();
  const app = createApp({ ...options, versions, cut: cut.signal, pendingLines });
  const requests = inFlightRequests(app.fetch, cut.signal, logCutRequest(options));
  return new Promise((resolve, reject) => {
    try {
      const server = serveAgainWhenOutOfFiles({
        retry: { ...ACCEPT_RETRY, ...options.acceptRetry },
        log: options.log,
        port: options.port,
        serve: (port) => serve(options, requests.fetch, port),
      });
      const stopListening = listenForChanges(options, versions);
      const listening = whetherListening(stopListening, options, versions);
      let stopped: () => void = () => {};
      const finished = Promise.race([server.finished, new Promise<void>((r) => stopped = r)])
        .finally(async () => {
          const stop = await stopListening.catch(() => undefined);
          await stop?.().catch(() => {});
        });
      const shutdown = oneStop((hurry) => stop(server, requests, cut, hurry, options), () => {
        stopped();
        return finished;
      });
      resolve({
        host: server.addr.hostname,
        port: server.addr.port,
        get inFlight() {
          return requests.count;
        },
        shutdown,
        finished,
        listening,
        linesWritten: (waitMs) => {
          const written = new AbortController();
          Promise.allSettled([...pendingLines]).then(() => written.abort());
          return sleep(waitMs, written.signal);
        },
      });
    } catch (error) {
      reject(error);
    }
  });
}

/**
 * {@linkcode RunningServer.shutdown}: runs `begin(hurry)` once (later calls return the same stop),
 * then `end`; a call with `now` aborts `hurry`, so the stop under way stops waiting.
 */
function oneStop(
  begin: (hurry: AbortSignal) => Promise<void>,
  end: () => Promise<void>,
): RunningServer["shutdown"] {
  const hurry = new AbortController();
  let stopping: Promise<void> | undefined;
  return ({ now = false } = {}) => {
    if (now) hurry.abort();
    return stopping ??= begin(hurry.signal).then(end);
  };
}

/** The access-log line of a request the stop answered `503` (its handler logs nothing). */
function logCutRequest(options: StartServerOptions): (request: Request, started: number) => void {
  return (request, started) =>
    options.log({
      event: "request",
      method: request.method,
      path: new URL(request.url).pathname,
      status: 503,
      ms: Math.round((performance.now() - started) * 10) / 10,
      rows: 0,
      error: "The server stopped before this request was answered",
    });
}

/** The requests being answered, counted from the start of each to its last byte sent. */
interface InFlight {
  /** The handler to serve: `fetch`, counted. */
  fetch: Deno.ServeHandler;
  /** Requests in flight. */
  readonly count: number;
  /** `performance.now()` when a request last began or ended. */
  readonly lastChange: number;
  /** Marks now as a change (a stop begins: the quiet time counts from it). */
  touch(): void;
}

/**
 * Counts the requests `fetch` answers. One that `cut` finds still waiting for its handler gets
 * a 503 at once (its handler goes on, unheard).
 */
function inFlightRequests(
  fetch: (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>,
  cut: AbortSignal,
  onCut: (request: Request, started: number) => void,
): InFlight {
  let count = 0;
  let lastChange = performance.now();
  return {
    fetch: (request, info) => {
      count++;
      const started = lastChange = performance.now();
      const ended = () => {
        count--;
        lastChange = performance.now();
      };
      info.completed.then(ended, ended);
      const answer = fetch(request, info);
      if (answer instanceof Response) return answer;
      return new Promise<Response>((resolve, reject) => {
        const answerCut = () => {
          cutRequests.add(request); // its handler goes on unheard, and logs nothing
          onCut(request, started);
          resolve(problemResponse(503, "The server stopped before this request was answered"));
        };
        cut.addEventListener("abort", answerCut, { once: true });
        answer.then(resolve, reject).finally(() => cut.removeEventListener("abort", answerCut));
      });
    },
    get count() {
      return count;
    },
    get lastChange() {
      return lastChange;
    },
    touch: () => void (lastChange = performance.now()),
  };
}

/** Whether `promise` settles within `ms` (and before `hurry` aborts). */
async function within(
  promise: Promise<unknown>,
  ms: number,
  hurry?: AbortSignal,
): Promise<boolean> {
  const settled = new AbortController();
  const waiting = hurry === undefined ? settled.signal : AbortSignal.any([settled.signal, hurry]);
  let inTime = false;
  await Promise.race([
    promise.then(() => void (inTime = true), () => void (inTime = true)),
    sleep(ms, waiting),
  ]);
  settled.abort();
  return inTime;
}

/** See {@linkcode RunningServer.shutdown}. */
async function stop(
  server: Listener,
  requests: InFlight,
  cut: AbortController,
  hurry: AbortSignal,
  options: StartServerOptions,
): Promise<void> {
  const graceMs = options.stop?.graceMs ?? STOP_GRACE_MS;
  const quietMs = options.stop?.quietMs ?? STOP_QUIET_MS;
  const began = performance.now();
  const acceptUntil = began + Math.min(options.stop?.acceptMaxMs ?? STOP_ACCEPT_MAX_MS, graceMs);
  requests.touch();
  // Timers run late while the embedded database holds the thread: only time seen with nothing
  // in flight counts, so the connections waiting to be accepted get their turn first.
  while (performance.now() < acceptUntil && !hurry.aborted) {
    if (requests.count === 0 && performance.now() - requests.lastChange >= quietMs) break;
    await sleep(Math.min(quietMs / 4, acceptUntil - performance.now()), hurry);
  }
  const closed = server.shutdown();
  if (await within(closed, began + graceMs - performance.now(), hurry)) return;
  const responses = requests.count;
  const when = hurry.aborted
    ? "at the second stop signal"
    : `${graceMs / 1000} s after the stop signal`;
  cut.abort(new Error(`the server stopped ${when}`));
  // None left (hurried as the last one ended): nothing to tell.
  if (responses > 0) {
    options.log({
      level: "warn",
      event: "responses_cut",
      responses,
      graceMs,
      error: `Cut ${responses} response${responses === 1 ? "" : "s"} still being answered or ` +
        `sent ${when} (clients too slow, stalled, or waiting on the database)`,
    });
  }
  await within(closed, CUT_WAIT_MS); // a stalled client's socket closes when the process ends
}

/** Binds the socket and serves `fetch`; a body that fails mid-way is logged with its request. */
function serve(
  options: StartServerOptions,
  fetch: Deno.ServeHandler,
  port: number,
): Deno.HttpServer {
  return (options.denoServe ?? Deno.serve)({
    hostname: options.host,
    port,
    onListen: () => {},
    onError: (error) => {
      // Hono answers what a handler throws; what reaches here is a body that failed once sent
      // (the route names its request on the error), unless its access line told it already.
      if ((error as { reportedInAccessLine?: unknown })?.reportedInAccessLine === true) {
        return new Response(null, { status: 500 });
      }
      const request = (error as { request?: { method?: unknown; path?: unknown } }).request;
      options.log({
        level: "error",
        event: "request_failed",
        ...(request === undefined ? {} : { method: request.method, path: request.path }),
        error: options.redact(error instanceof Error ? error.message : String(error)),
      });
      return new Response(null, { status: 500 });
    },
  }, fetch);
}

/**
 * Forgets the remembered data version on each data change; resolves to the function that stops
 * listening. Rejects when the version is not remembered (nothing to forget).
 */
function listenForChanges(
  options: StartServerOptions,
  versions: VersionCache<DataVersion>,
): Promise<() => Promise<void>> {
  // Also with the memory off (SERVE_VERSION_TTL=0): each notification starts a new generation
  // of tags, which is how a capture or a geocoding run (no file applied) changes them at once.
  return options.db.listen(DATA_CHANGED_CHANNEL, () => versions.invalidate());
}

/** Whether change notifications are heard; a remembered version not kept fresh is warned of. */
function whetherListening(
  stopListening: Promise<unknown>,
  options: StartServerOptions,
  versions: VersionCache<DataVersion>,
): Promise<boolean> {
  return stopListening.then(() => true, (error) => {
    if (versions.ttlMs > 0) {
      options.log({
        level: "warn",
        event: "not_listening",
        error: options.redact(String(error)),
        versionTtlMs: versions.ttlMs,
      });
    }
    return false;
  });
}
