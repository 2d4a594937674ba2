/**
 * Starts the read API on `Deno.serve` and stops it cleanly: on SIGTERM/SIGINT it stops
 * accepting, lets in-flight requests finish, then closes the database.
 *
 * @module
 */

import { createApp } from "./app.ts";
import type { ServeDeps } from "./env.ts";

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
}

/** Starts serving; resolves once the socket listens. */
export function startServer(options: StartServerOptions): Promise<RunningServer> {
  const app = createApp(options);
  return new Promise((resolve, reject) => {
    try {
      const server = Deno.serve({
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
      }, app.fetch);
      const addr = server.addr as Deno.NetAddr;
      resolve({
        host: addr.hostname,
        port: addr.port,
        shutdown: () => server.shutdown(),
        finished: server.finished,
      });
    } catch (error) {
      reject(error);
    }
  });
}
