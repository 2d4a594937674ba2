// A response body written in batches by an export that reads the database. Private to serve/.

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

/**
 * Makes a body the export writes as fast as the database reads, not at the client's pace: a
 * slow or stalled client must not hold a database connection (one of serve's pool, or the whole
 * embedded database, which runs one thing at a time); the export is bounded by its `limit`
 * instead (at most 50,000 rows, ~15 MB, wait in memory). The batches are handed to the client
 * as it takes them, and counted then. `cut` (the server stopping) ends the body with its reason.
 */
export function exportStream(cut?: AbortSignal): ExportStream {
  return new BatchedBody(cut);
}

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
  #onCut = () => this.error(this.#cut!.reason);

  constructor(cut?: AbortSignal) {
    this.#cut = cut;
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
  }

  /** Settles `delivered`: with the rows sent, or (a reason given) rejected and the read stopped. */
  #end(reason?: unknown): void {
    if (this.#over) return;
    this.#over = true;
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
