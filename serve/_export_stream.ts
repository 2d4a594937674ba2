// A response body written in batches by an export that reads the database. Private to serve/.

/** A body and the means to write it. */
export interface ExportStream {
  /** The response body. */
  body: ReadableStream<Uint8Array>;
  /** Aborts when the client goes away: stop reading the database. */
  signal: AbortSignal;
  /** Queues a batch of `rows` rows (throws once the client has gone). */
  write(text: string, rows: number): void;
  /** Rows queued so far. */
  readonly rows: number;
  /** Ends the body after the last batch. */
  close(): void;
  /** Ends the body with an error (the client sees a cut response). */
  error(reason: unknown): void;
}

/**
 * Makes a body the export writes as fast as the database reads, not at the client's pace: a
 * slow or stalled client must not hold a database connection (one of serve's pool, or the whole
 * embedded database, which runs one thing at a time); the export is bounded by its `limit`
 * instead (at most 50,000 rows, ~15 MB, wait in memory).
 */
export function exportStream(): ExportStream {
  const encoder = new TextEncoder();
  const gone = new AbortController();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let rows = 0;
  const body = new ReadableStream<Uint8Array>({
    start: (ctl) => void (controller = ctl),
    cancel: () => gone.abort(new Error("the client closed the connection")),
  });
  return {
    body,
    signal: gone.signal,
    write(text, batchRows) {
      gone.signal.throwIfAborted();
      controller.enqueue(encoder.encode(text));
      rows += batchRows;
    },
    get rows() {
      return rows;
    },
    close: () => {
      if (!gone.signal.aborted) controller.close(); // a client that left has no body to end
    },
    error: (reason) => controller.error(reason),
  };
}
