// A response body written in batches by an export that reads the database. Private to serve/.

import { reportedInAccessLine } from "./_large_reads.ts";

/** A body and the means to write it. */
export interface ExportStream {
  /** The response body. */
  body: ReadableStream<Uint8Array>;
  /** Aborts when the client goes away or the server cuts the body: stop reading the database. */
  signal: AbortSignal;
  /** Queues a batch of `rows` rows (throws once the client has gone). */
  write(text: string, rows: number): void;
  /** Rows queued so far. */
  readonly rows: number;
  /** Rows handed to the client so far (taken from the body by the server that sends it). */
  readonly sent: number;
  /** Ends the body after the last batch. */
  close(): void;
  /** Ends the body with an error (the client sees a cut response). */
  error(reason: unknown): void;
  /**
   * Settles once the body is over: with the rows sent when the client has taken the last batch;
   * rejected, with `rowsSent`, when the client went away, the export failed or the server cut it.
   */
  delivered: Promise<number>;
}

/** How fast a client must take an export's batches (as a large body, serve/_large_reads.ts). */
export interface ClientPace {
  /** The grace: how long batches may wait for the client before the average rate counts. */
  stallMs: number;
  /** Least average rate, over the time batches waited for the client, after the grace. */
  minBytesPerSecond: number;
}

/**
 * Makes a body the export writes as fast as the database reads, not at the client's pace: a
 * slow or stalled client must not hold a database connection (one of serve's pool, or the whole
 * embedded database, which runs one thing at a time); the export is bounded by its `limit`
 * instead (at most 50,000 rows, ~15 MB, wait in memory). The batches are handed to the client
 * as it takes them, and counted then. `cut` (the server stopping) ends the body with its reason;
 * so does a client slower than `pace` (the time the database takes does not count against it),
 * which would otherwise keep the export in memory for as long as it keeps its connection open.
 */
export function exportStream(cut?: AbortSignal, pace?: ClientPace): ExportStream {
  return new BatchedBody(cut, pace);
}

/** A deadline timer this late says the process was held, not the client slow (ms). */
const LATE_TIMER_MS = 100;

/** A batch waiting for the client. */
interface Batch {
  bytes: Uint8Array;
  rows: number;
}

/** {@linkcode exportStream}'s body: batches queued by the export, taken by the client. */
class BatchedBody implements ExportStream {
  readonly body: ReadableStream<Uint8Array>;
  readonly delivered: Promise<number>;
  #encoder = new TextEncoder();
  #gone = new AbortController();
  #queue: Batch[] = [];
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #rows = 0;
  #sent = 0;
  #closed = false;
  #over = false;
  #wake = () => {};
  #settle!: { resolve: (rows: number) => void; reject: (reason: unknown) => void };
  #cut: AbortSignal | undefined;
  // The access line says why the body stopped (the server's request_failed line could not).
  #onCut = () => this.error(reportedInAccessLine(this.#cut!.reason));
  #pace: ClientPace | undefined;
  /** Bytes the client has taken, and how long batches waited for it (ms) until then. */
  #bytesTaken = 0;
  #clientMs = 0;
  /** When the batch now with the client was handed over; its deadline. */
  #handedAt: number | undefined;
  #deadline: ReturnType<typeof setTimeout> | undefined;

  constructor(cut?: AbortSignal, pace?: ClientPace) {
    this.#cut = cut;
    this.#pace = pace;
    this.delivered = new Promise<number>((resolve, reject) => this.#settle = { resolve, reject });
    this.delivered.catch(() => {}); // whoever logs the request reads it; nobody else must
    this.body = new ReadableStream<Uint8Array>({
      start: (controller) => void (this.#controller = controller),
      pull: (controller) => this.#pull(controller),
      cancel: () => this.#end(new Error("the client closed the connection")),
    }, { highWaterMark: 0 });
    if (cut?.aborted) queueMicrotask(this.#onCut);
    else cut?.addEventListener("abort", this.#onCut, { once: true });
  }

  get signal(): AbortSignal {
    return this.#gone.signal;
  }

  get rows(): number {
    return this.#rows;
  }

  get sent(): number {
    return this.#sent;
  }

  write = (text: string, rows: number): void => {
    this.#gone.signal.throwIfAborted();
    this.#queue.push({ bytes: this.#encoder.encode(text), rows });
    this.#rows += rows;
    this.#wake();
  };

  close = (): void => {
    this.#closed = true; // a client that left has no body to end
    this.#wake();
  };

  error = (reason: unknown): void => {
    if (this.#over) return;
    this.#controller.error(reason);
    this.#end(reason);
  };

  /** Hands the client the next batch, once there is one; ends the body after the last. */
  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    this.#taken();
    while (this.#queue.length === 0 && !this.#closed && !this.#over) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    if (this.#over) return;
    const next = this.#queue.shift();
    if (next === undefined) {
      controller.close();
      return this.#end();
    }
    controller.enqueue(next.bytes);
    this.#sent += next.rows;
    this.#handOver(next.bytes.byteLength);
  }

  /** A batch went to the client: it must take it within the pace's deadline. */
  #handOver(bytes: number): void {
    if (this.#pace === undefined) return;
    const { stallMs, minBytesPerSecond } = this.#pace;
    this.#bytesTaken += bytes;
    this.#handedAt = performance.now();
    // Too slow: its batches have waited for it longer than the grace plus what the least rate
    // allows for the bytes handed over. No cap per batch: the server takes several MB ahead of
    // the socket and asks again only once they have drained, so a client at 3x the least rate
    // was cut by "nothing taken for 20 s" (review).
    const waitMs = stallMs + (this.#bytesTaken / minBytesPerSecond) * 1000 - this.#clientMs;
    this.#cutWhenDue(performance.now() + Math.max(0, waitMs));
  }

  /**
   * Cuts the client at `due` unless it takes its batch first. A timer that fires late means this
   * process was held (a long synchronous step, the machine starved): the client's reads that
   * waited meanwhile get their turn first, so a stall of the server is not counted as the
   * client's.
   */
  #cutWhenDue(due: number): void {
    this.#deadline = setTimeout(() => {
      const now = performance.now();
      if (now - due > LATE_TIMER_MS) return this.#cutWhenDue(now + LATE_TIMER_MS);
      this.error(reportedInAccessLine(this.#tooSlow()));
    }, Math.max(0, due - performance.now()));
  }

  /** The client asked for more: the batch it had is taken. */
  #taken(): void {
    if (this.#handedAt === undefined) return;
    clearTimeout(this.#deadline);
    this.#clientMs += performance.now() - this.#handedAt;
    this.#handedAt = undefined;
  }

  #tooSlow(): Error {
    const { stallMs, minBytesPerSecond } = this.#pace!;
    const waited = Math.round((this.#clientMs + performance.now() - this.#handedAt!) / 1000);
    return new Error(
      `the client fell behind after ${this.#sent} ${
        this.#sent === 1 ? "row was" : "rows were"
      } sent (its rows waited ${waited} s ` +
        `for it in all): too slow (it must take ${minBytesPerSecond / 1024} KiB/s on average, ` +
        `after ${stallMs / 1000} s of grace)`,
    );
  }

  /** Settles `delivered`: with the rows sent, or (a reason given) rejected and the read stopped. */
  #end(reason?: unknown): void {
    if (this.#over) return;
    this.#over = true;
    clearTimeout(this.#deadline);
    this.#queue.length = 0;
    this.#cut?.removeEventListener("abort", this.#onCut);
    this.#wake();
    if (reason === undefined) return this.#settle.resolve(this.#sent);
    if (!this.#gone.signal.aborted) this.#gone.abort(reason);
    this.#settle.reject(withRowsSent(reason, this.#sent));
  }
}

/**
 * `reason` as an error carrying the rows sent, for the access log: a new one each time (one
 * reason, such as the server's cut, may end several bodies, each with its own count).
 */
function withRowsSent(reason: unknown, rowsSent: number): Error & { rowsSent: number } {
  const message = reason instanceof Error ? reason.message : String(reason);
  return Object.assign(new Error(message, { cause: reason }), { rowsSent });
}
