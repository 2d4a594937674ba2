/**
 * Starts the read API on `Deno.serve` and stops it cleanly: on SIGTERM/SIGINT it stops
 * accepting, lets in-flight requests finish, then closes the database. While it runs it listens
 * for data changes, so the data version it remembers for `304`s is forgotten at once.
 *
 * @module
 */

import { createApp } from "./app.ts";
import type { DataVersion } from "../core/data_version.ts";
import type { ServeDeps } from "./env.ts";
import { DATA_CHANGED_CHANNEL, VersionCache } from "./version_cache.ts";

/** Options for {@linkcode startServer}. */
export interface StartServerOptions extends ServeDeps {
  /** Interface to bind (default 127.0.0.1). */
  host: string;
  /** Port (0: any free port). */
  port: number;
}

/** A running server. */
export interface RunningServer {
  /** The bound address. */
  host: string;
  /** The bound port. */
  port: number;
  /** Stops accepting, waits for in-flight requests, then resolves. */
  shutdown(): Promise<void>;
  /** Resolves once the server has stopped. */
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
  const app = createApp({ ...options, versions });
  return new Promise((resolve, reject) => {
    try {
      const server = serve(options, app.fetch);
      const addr = server.addr as Deno.NetAddr;
      const stopListening = listenForChanges(options, versions);
      const listening = whetherListening(stopListening, options, versions);
      const finished = server.finished.then(async () => {
        const stop = await stopListening.catch(() => undefined);
        await stop?.().catch(() => {});
      });
      resolve({
        host: addr.hostname,
        port: addr.port,
        shutdown: async () => {
          await server.shutdown();
          await finished;
        },
        finished,
        listening,
      });
    } catch (error) {
      reject(error);
    }
  });
}

/** Binds the socket and serves `fetch`; a request that throws is logged and answered 500. */
function serve(
  options: StartServerOptions,
  fetch: Deno.ServeHandler,
): Deno.HttpServer {
  return Deno.serve({
    hostname: options.host,
    port: options.port,
    onListen: () => {},
    onError: (error) => {
      options.log({
        level: "error",
        event: "request_failed",
        error: options.redact(String(error)),
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
  return versions.ttlMs > 0
    ? options.db.listen(DATA_CHANGED_CHANNEL, () => versions.invalidate())
    : Promise.reject(new Error("Not listening: the data version is not remembered"));
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
