// Serving on Deno.serve again after it ran out of file descriptors. Deno.serve (2.9) has no idle
// or header timeout and stops accepting for good at the first failed accept (EMFILE: each
// connection holds a descriptor, idle ones as long as the client keeps them); the connections it
// has keep being served. Then the stopped server is shut down gracefully (its idle connections,
// those that never sent a byte or only part of their headers, close at once; the requests in
// flight are answered), and the address is listened on again after a back-off, with a warning
// logged each time. Private to serve/.

import { hostPort } from "./address.ts";
import { sleep } from "../core/sleep.ts";

/** What serves the requests: one `Deno.serve`, or a new one after each ran out of files. */
export interface Listener {
  /** The bound address (the same for every `Deno.serve` in turn). */
  addr: Deno.NetAddr;
  /** Resolves once stopped; rejects when serving cannot go on. */
  finished: Promise<void>;
  /** Stops accepting and resolves once every request being answered has been. */
  shutdown(): Promise<void>;
}

/** How listening again waits, milliseconds. */
export interface RetryTimes {
  /** The first wait. */
  firstMs: number;
  /** The longest wait (each one doubles while listening again keeps failing soon). */
  maxMs: number;
  /** A server that ran this long before running out starts the waits over. */
  stableMs: number;
  /** Without a socket to listen on for this long, serving ends. */
  giveUpMs: number;
}

/** What {@linkcode serveAgainWhenOutOfFiles} needs. */
export interface RelistenOptions {
  retry: RetryTimes;
  log: (entry: Record<string, unknown>) => void;
  /** The port asked for (0: any); later servers take the one the first was given. */
  port: number;
  /** Binds `port` and serves on it; throws when it cannot. */
  serve: (port: number) => Deno.HttpServer;
}

/** How a server that cannot accept says what to do. */
const RAISE_THE_LIMIT = "raise the limit of open files (ulimit -n; LimitNOFILE= in a systemd " +
  "unit; --ulimit nofile= with Docker) or put a reverse proxy (nginx, Caddy) in front of serve " +
  "to hold idle and slow clients";

/** Serves with `options.serve`, and again each time that runs out of file descriptors. */
export function serveAgainWhenOutOfFiles(options: RelistenOptions): Listener {
  return new Relistener(options);
}

class Relistener implements Listener {
  readonly addr: Deno.NetAddr;
  readonly finished: Promise<void>;
  readonly #options: RelistenOptions;
  readonly #servers = new Set<Deno.HttpServer>();
  readonly #stopping = new AbortController();
  readonly #first: Deno.HttpServer;
  /** `host:port`, as messages name the address. */
  readonly #at: string;
  #end: () => void = () => {};
  #fail: (error: Error) => void = () => {};
  #delayMs: number;
  /** Since when listening again has failed, every time (undefined: it last succeeded). */
  #listenFailingSince: number | undefined;

  constructor(options: RelistenOptions) {
    this.#options = options;
    this.finished = new Promise<void>((resolve, reject) => {
      this.#end = resolve;
      this.#fail = reject;
    });
    this.#first = options.serve(options.port);
    this.addr = this.#first.addr as Deno.NetAddr;
    this.#at = hostPort(this.addr.hostname, this.addr.port);
    this.#delayMs = options.retry.firstMs;
    this.#watch(this.#first, performance.now());
  }

  async shutdown(): Promise<void> {
    this.#stopping.abort();
    await Promise.all([...this.#servers].map((server) => server.shutdown().catch(() => {})));
    this.#servers.clear();
    this.#end();
  }

  #watch(server: Deno.HttpServer, started: number): void {
    this.#servers.add(server);
    server.finished.then(
      () => {
        this.#servers.delete(server);
        // Only a stop ends a server cleanly; were one to end otherwise, serving ends.
        if (!this.#stopping.signal.aborted || this.#servers.size === 0) this.#end();
      },
      (error) => void this.#listenAgain(server, started, error),
    );
  }

  async #listenAgain(failed: Deno.HttpServer, started: number, error: unknown): Promise<void> {
    if (this.#stopping.signal.aborted) return; // shutdown() closes it
    if (!outOfFiles(error)) {
      return this.#fail(new Error(`Cannot accept connections on ${this.#at}: ${messageOf(error)}`));
    }
    // A server listening again that ran out soon after it began: wait longer before the next.
    const soon = failed !== this.#first &&
      performance.now() - started < this.#options.retry.stableMs;
    this.#delayMs = soon ? this.#longerDelay() : this.#options.retry.firstMs;
    // Its idle connections close now and free their descriptors; its requests are answered.
    failed.shutdown().catch(() => {}).finally(() => this.#servers.delete(failed));
    this.#options.log({
      level: "warn",
      event: "accept_failed",
      retryInMs: this.#delayMs,
      error: `Stopped accepting connections on ${this.#at}: the process ran out of file ` +
        `descriptors ("Too many open files"); closing the idle connections, listening again in ` +
        `${this.#delayMs / 1000} s; ${RAISE_THE_LIMIT}`,
    });
    await this.#relisten();
  }

  /** Listens again after each wait, until it can, serving cannot go on, or a stop. */
  async #relisten(): Promise<void> {
    const signal = this.#stopping.signal;
    while (!signal.aborted) {
      await sleep(this.#delayMs, signal);
      if (signal.aborted) return;
      let next: Deno.HttpServer;
      try {
        next = this.#options.serve(this.addr.port);
      } catch (error) {
        if (!outOfFiles(error)) {
          return this.#fail(new Error(`Cannot listen again on ${this.#at}: ${messageOf(error)}`));
        }
        if (!this.#stillTrying()) return this.#fail(this.#gaveUp());
        continue;
      }
      this.#listenFailingSince = undefined;
      this.#options.log({ event: "listening_again", url: `http://${this.#at}/` });
      return this.#watch(next, performance.now());
    }
  }

  /**
   * Not even a socket to listen on (the connections it has hold every descriptor): false once
   * that has lasted the retry's `giveUpMs`, else the next wait is longer and logged.
   */
  #stillTrying(): boolean {
    this.#listenFailingSince ??= performance.now() - this.#delayMs;
    if (performance.now() - this.#listenFailingSince >= this.#options.retry.giveUpMs) return false;
    this.#delayMs = this.#longerDelay();
    this.#options.log({
      level: "warn",
      event: "listen_failed",
      retryInMs: this.#delayMs,
      error: `Cannot listen on ${this.#at} again yet: no file descriptor to spare ("Too many ` +
        `open files"); trying again in ${this.#delayMs / 1000} s`,
    });
    return true;
  }

  #longerDelay(): number {
    return Math.min(this.#delayMs * 2, this.#options.retry.maxMs);
  }

  #gaveUp(): Error {
    return new Error(
      `Cannot accept connections on ${this.#at}: the process has had no file descriptor to ` +
        `spare for ${this.#options.retry.giveUpMs / 1000} s ("Too many open files": each ` +
        `connection holds one, idle ones too); ${RAISE_THE_LIMIT}`,
    );
  }
}

/** Whether `error` says the process (or the system) has no file descriptor to spare. */
function outOfFiles(error: unknown): boolean {
  return /too many open files|os error (23|24)\b|EMFILE|ENFILE/i.test(
    error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : String(error),
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
