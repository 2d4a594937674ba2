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
   * as `responses_cut`) and resolves. Calling it again returns the same stop.
   */
  shutdown(): Promise<void>;
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
}

/** Starts serving; resolves once the socket listens. */
export function startServer(options: StartServerOptions): Promise<RunningServer> {
  const versions = options.versions ??
    new VersionCache<DataVersion>(options.settings.versionTtlMs ?? 0);
  const cut = new AbortController();
  const app = createApp({ ...options, versions, cut: cut.signal });
  const requests = inFlightRequests(app.fetch, cut.signal, logCutRequest(options));
  return new Promise((resolve, reject) => {
    try {
      const server = serveAgainWhenOutOfFiles(options, requests.fetch);
      const stopListening = listenForChanges(options, versions);
      const listening = whetherListening(stopListening, options, versions);
      let stopped: () => void = () => {};
      const finished = Promise.race([server.finished, new Promise<void>((r) => stopped = r)])
        .finally(async () => {
          const stop = await stopListening.catch(() => undefined);
          await stop?.().catch(() => {});
        });
      let stopping: Promise<void> | undefined;
      resolve({
        host: server.addr.hostname,
        port: server.addr.port,
        get inFlight() {
          return requests.count;
        },
        shutdown: () =>
          stopping ??= stop(server, requests, cut, options).then(() => {
            stopped();
            return finished;
          }),
        finished,
        listening,
      });
    } catch (error) {
      reject(error);
    }
  });
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
          onCut(request, started); // its handler goes on unheard: it logs nothing
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

/** Resolves after `ms`, or at once when `signal` aborts (the timer cleared). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Whether `promise` settles within `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = new AbortController();
  let inTime = false;
  await Promise.race([
    promise.then(() => void (inTime = true), () => void (inTime = true)),
    sleep(ms, settled.signal),
  ]);
  settled.abort();
  return inTime;
}

/** See {@linkcode RunningServer.shutdown}. */
async function stop(
  server: Listener,
  requests: InFlight,
  cut: AbortController,
  options: StartServerOptions,
): Promise<void> {
  const graceMs = options.stop?.graceMs ?? STOP_GRACE_MS;
  const quietMs = options.stop?.quietMs ?? STOP_QUIET_MS;
  const began = performance.now();
  const acceptUntil = began + Math.min(options.stop?.acceptMaxMs ?? STOP_ACCEPT_MAX_MS, graceMs);
  requests.touch();
  // Timers run late while the embedded database holds the thread: only time seen with nothing
  // in flight counts, so the connections waiting to be accepted get their turn first.
  while (performance.now() < acceptUntil) {
    if (requests.count === 0 && performance.now() - requests.lastChange >= quietMs) break;
    await sleep(Math.min(quietMs / 4, acceptUntil - performance.now()));
  }
  const closed = server.shutdown();
  if (await within(closed, began + graceMs - performance.now())) return;
  const responses = requests.count;
  cut.abort(new Error(`the server stopped ${graceMs / 1000} s after the stop signal`));
  options.log({
    level: "warn",
    event: "responses_cut",
    responses,
    graceMs,
    error: `Cut ${responses} response${responses === 1 ? "" : "s"} still being answered or sent ${
      graceMs / 1000
    } s after the stop signal (clients too slow, stalled, or waiting on the database)`,
  });
  await within(closed, CUT_WAIT_MS); // a stalled client's socket closes when the process ends
}

/** What serves the requests: one `Deno.serve`, or a new one after each ran out of files. */
interface Listener {
  /** The bound address (the same for every `Deno.serve` in turn). */
  addr: Deno.NetAddr;
  /** Settles as {@linkcode RunningServer.finished}. */
  finished: Promise<void>;
  /** Stops accepting and resolves once every request being answered has been. */
  shutdown(): Promise<void>;
}

/** Whether `error` says the process (or the system) has no file descriptor to spare. */
function outOfFiles(error: unknown): boolean {
  return /too many open files|os error (23|24)\b|EMFILE|ENFILE/i.test(
    error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : String(error),
  );
}

/** How a server that cannot accept says what to do. */
const RAISE_THE_LIMIT = "raise the limit of open files (ulimit -n; LimitNOFILE= in a systemd " +
  "unit; --ulimit nofile= with Docker) or put a reverse proxy (nginx, Caddy) in front of serve " +
  "to hold idle and slow clients";

/**
 * Serves `fetch` on `Deno.serve`, and again when that runs out of file descriptors. Deno.serve
 * (2.9) has no idle or header timeout and stops accepting for good at the first failed accept
 * (EMFILE: each connection holds a descriptor, idle ones as long as the client keeps them); the
 * connections it has keep being served. Then the stopped server is shut down gracefully (its
 * idle connections, those that never sent a byte or only part of their headers, close at once;
 * the requests in flight are answered), and the address is listened on again after
 * {@linkcode ACCEPT_RETRY}'s back-off, with a warning logged each time.
 */
function serveAgainWhenOutOfFiles(
  options: StartServerOptions,
  fetch: Deno.ServeHandler,
): Listener {
  const retry = { ...ACCEPT_RETRY, ...options.acceptRetry };
  const servers = new Set<Deno.HttpServer>();
  const stopping = new AbortController();
  let fail: (error: Error) => void = () => {};
  let end: () => void = () => {};
  const finished = new Promise<void>((resolve, reject) => {
    end = resolve;
    fail = reject;
  });
  const first = serve(options, fetch, options.port);
  const addr = first.addr as Deno.NetAddr;
  const at = `${addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname}:${addr.port}`;
  let delayMs = retry.firstMs;
  /** Since when listening again has failed, every time (undefined: it last succeeded). */
  let listenFailingSince: number | undefined;

  const gaveUp = () =>
    new Error(
      `Cannot accept connections on ${at}: the process has had no file descriptor to spare ` +
        `for ${retry.giveUpMs / 1000} s ("Too many open files": each connection holds one, ` +
        `idle ones too); ${RAISE_THE_LIMIT}`,
    );

  const watch = (server: Deno.HttpServer, started: number) => {
    servers.add(server);
    server.finished.then(
      () => {
        servers.delete(server);
        // Only a stop ends a server cleanly; were one to end otherwise, serve ends (as before).
        if (!stopping.signal.aborted || servers.size === 0) end();
      },
      (error) => void listenAgain(server, started, error),
    );
  };

  const listenAgain = async (failed: Deno.HttpServer, started: number, error: unknown) => {
    if (stopping.signal.aborted) return; // shutdown() closes it
    if (!outOfFiles(error)) {
      return fail(new Error(`Cannot accept connections on ${at}: ${messageOf(error)}`));
    }
    // A server listening again that ran out soon after it began: wait longer before the next.
    delayMs = failed !== first && performance.now() - started < retry.stableMs
      ? Math.min(delayMs * 2, retry.maxMs)
      : retry.firstMs;
    // Its idle connections close now and free their descriptors; its requests are answered.
    failed.shutdown().catch(() => {}).finally(() => servers.delete(failed));
    options.log({
      level: "warn",
      event: "accept_failed",
      retryInMs: delayMs,
      error: `Stopped accepting connections on ${at}: the process ran out of file descriptors ` +
        `("Too many open files"); closing the idle connections, listening again in ` +
        `${delayMs / 1000} s; ${RAISE_THE_LIMIT}`,
    });
    while (!stopping.signal.aborted) {
      await sleep(delayMs, stopping.signal);
      if (stopping.signal.aborted) return;
      try {
        const next = serve(options, fetch, addr.port);
        listenFailingSince = undefined;
        options.log({ event: "listening_again", url: `http://${at}/` });
        return watch(next, performance.now());
      } catch (error) {
        if (!outOfFiles(error)) {
          return fail(new Error(`Cannot listen again on ${at}: ${messageOf(error)}`));
        }
      }
      // Not even a socket to listen on: the connections it has hold every descriptor.
      listenFailingSince ??= performance.now() - delayMs;
      if (performance.now() - listenFailingSince >= retry.giveUpMs) return fail(gaveUp());
      delayMs = Math.min(delayMs * 2, retry.maxMs);
      options.log({
        level: "warn",
        event: "listen_failed",
        retryInMs: delayMs,
        error: `Cannot listen on ${at} again yet: no file descriptor to spare ("Too many open ` +
          `files"); trying again in ${delayMs / 1000} s`,
      });
    }
  };

  watch(first, performance.now());
  return {
    addr,
    finished,
    shutdown: async () => {
      stopping.abort();
      await Promise.all([...servers].map((server) => server.shutdown().catch(() => {})));
      servers.clear();
      end();
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
      // (the route names its request on the error).
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
