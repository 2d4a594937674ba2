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
  const encoder = new TextEncoder();
  const gone = new AbortController();
  const queue: { bytes: Uint8Array; rows: number }[] = [];
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let rows = 0;
  let sent = 0;
  let closed = false;
  let over = false;
  let wake = () => {};
  let settle!: { resolve: (rows: number) => void; reject: (reason: unknown) => void };
  const delivered = new Promise<number>((resolve, reject) => settle = { resolve, reject });
  delivered.catch(() => {}); // whoever logs the request reads it; nobody else must
  const end = (reason?: unknown) => {
    if (over) return;
    over = true;
    queue.length = 0;
    cut?.removeEventListener("abort", onCut);
    wake();
    if (reason === undefined) return settle.resolve(sent);
    if (!gone.signal.aborted) gone.abort(reason);
    settle.reject(withRowsSent(reason, sent));
  };
  const fail = (reason: unknown) => {
    if (over) return;
    controller.error(reason);
    end(reason);
  };
  const onCut = () => fail(cut!.reason);
  const body = new ReadableStream<Uint8Array>({
    start: (ctl) => void (controller = ctl),
    pull: async (ctl) => {
      while (queue.length === 0 && !closed && !over) await new Promise<void>((r) => wake = r);
      if (over) return;
      const next = queue.shift();
      if (next === undefined) {
        ctl.close();
        return end();
      }
      ctl.enqueue(next.bytes);
      sent += next.rows;
    },
    cancel: () => end(new Error("the client closed the connection")),
  }, { highWaterMark: 0 });
  if (cut?.aborted) queueMicrotask(onCut);
  else cut?.addEventListener("abort", onCut, { once: true });
  return {
    body,
    signal: gone.signal,
    write(text, batchRows) {
      gone.signal.throwIfAborted();
      queue.push({ bytes: encoder.encode(text), rows: batchRows });
      rows += batchRows;
      wake();
    },
    get rows() {
      return rows;
    },
    get sent() {
      return sent;
    },
    close: () => {
      closed = true; // a client that left has no body to end
      wake();
    },
    error: fail,
    delivered,
  };
}

/** `reason` carrying the rows sent, for the access log (an Error keeps its own class). */
function withRowsSent(reason: unknown, rowsSent: number): unknown {
  return reason instanceof Error
    ? Object.assign(reason, { rowsSent })
    : Object.assign(new Error(String(reason)), { rowsSent });
}
